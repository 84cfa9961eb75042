"""A change frame's time text is exactly iso_utc's, though each whole second is formatted only once."""

from datetime import UTC, datetime

from hypothesis import given
from hypothesis import strategies as st

from live.publisher import _iso
from scada.api.renderers import iso_utc


@given(st.floats(min_value=0, max_value=4_102_444_800, allow_nan=False, allow_infinity=False))
def test_the_cached_time_text_is_iso_utcs_for_any_epoch_time(ts):
    assert _iso(ts) == iso_utc(datetime.fromtimestamp(ts, tz=UTC))


def test_a_half_microsecond_rounds_as_datetime_does():
    for ts in (1796532034.9999995, 1796532034.9999996, 2.0000015, 1.0000005, 1796532034.0):
        assert _iso(ts) == iso_utc(datetime.fromtimestamp(ts, tz=UTC))
