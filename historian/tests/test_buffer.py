"""The buffer: one compact stream entry per recorded batch, a quota, counted and audited drops, status."""

import time

import orjson
import pytest

from accounts.models import AuditRecord
from historian.buffer import buffer_append_rows, buffer_decode, historian_status_provider
from historian.constants import BUFFER_COUNT, BUFFER_DROPPED, BUFFER_STREAM
from historian.services import historian_drops_audit
from scada.redis import get_redis
from tags.values import Sample, tag_values_record


def test_it_appends_one_entry_per_recorded_batch(real_tag, make_tag):
    other = make_tag("Pump_Speed")
    now = time.time()
    tag_values_record(samples=[Sample(real_tag.pk, 72.5, ts=now), Sample(other.pk, 1450, ts=now),
                               Sample(real_tag.pk, 73.0, "UNCERTAIN", "stale", ts=now + 1)])
    r = get_redis()
    entries = r.xrange(BUFFER_STREAM)
    assert len(entries) == 1
    assert entries[0][1][b"n"] == b"3"
    assert buffer_decode(entries[0][1][b"d"]) == ([now, now, now + 1], [real_tag.pk, other.pk, real_tag.pk],
                                                  [72.5, 1450.0, 73.0], [0, 0, 104])
    assert int(r.get(BUFFER_COUNT)) == 3


def test_it_encodes_compactly_and_never_with_pickle(real_tag):
    buffer_append_rows([1.5] * 1000, [real_tag.pk] * 1000, [12.25] * 1000, [0] * 1000)
    payload = get_redis().xrange(BUFFER_STREAM)[0][1][b"d"]
    assert orjson.loads(payload)[1][0] == real_tag.pk  # plain JSON
    assert len(payload) / 1000 < 25


def test_it_drops_a_batch_that_would_exceed_the_quota_and_counts_it(real_tag, settings):
    settings.KILN_HISTORIAN_BUFFER_QUOTA = 1000
    assert buffer_append_rows([1.0] * 900, [real_tag.pk] * 900, [1.0] * 900, [0] * 900)
    assert not buffer_append_rows([2.0, 3.0] * 60, [real_tag.pk] * 120, [1.0] * 120, [0] * 120)
    r = get_redis()
    assert r.xlen(BUFFER_STREAM) == 1
    assert int(r.get(BUFFER_COUNT)) == 900
    dropped = r.hgetall(BUFFER_DROPPED)
    assert (dropped[b"samples"], dropped[b"batches"], dropped[b"first_ts"], dropped[b"last_ts"]) == \
        (b"120", b"1", b"2.0", b"3.0")


def test_it_reports_degraded_status_from_80_percent(real_tag, settings):
    settings.KILN_HISTORIAN_BUFFER_QUOTA = 1000
    buffer_append_rows([1.0] * 799, [real_tag.pk] * 799, [1.0] * 799, [0] * 799)
    assert historian_status_provider()[1]["state"] == "ok"
    buffer_append_rows([1.0], [real_tag.pk], [1.0], [0])
    name, info = historian_status_provider()
    assert name == "historian"
    assert info["state"] == "degraded"
    assert info["fill_percent"] == 80.0
    assert info["reasons"][0].startswith("buffer 80.0% full")


def test_it_shows_the_historian_in_the_system_status(operator_client, real_tag, settings):
    settings.KILN_HISTORIAN_BUFFER_QUOTA = 1000
    buffer_append_rows([1.0] * 900, [real_tag.pk] * 900, [1.0] * 900, [0] * 900)
    body = operator_client.get("/api/system/status").json()
    assert body["components"]["historian"]["state"] == "degraded"
    assert body["components"]["historian"]["buffered_samples"] == 900
    assert body["status"] != "ok"


def test_it_audits_dropped_samples_once(real_tag, settings, django_capture_on_commit_callbacks):
    settings.KILN_HISTORIAN_BUFFER_QUOTA = 1000
    buffer_append_rows([1.0] * 1000, [real_tag.pk] * 1000, [1.0] * 1000, [0] * 1000)
    buffer_append_rows([5.0] * 7, [real_tag.pk] * 7, [1.0] * 7, [0] * 7)
    with django_capture_on_commit_callbacks(execute=True):
        assert historian_drops_audit() == 7
    record = AuditRecord.objects.get(action="historian.samples_dropped")
    assert record.new_value["samples"] == 7 and record.new_value["quota"] == 1000
    assert record.new_value["first_ts"].startswith("1970-01-01T00:00:05")
    assert historian_status_provider()[1]["dropped_samples_total"] == 7
    with django_capture_on_commit_callbacks(execute=True):
        assert historian_drops_audit() == 0
    assert AuditRecord.objects.filter(action="historian.samples_dropped").count() == 1


@pytest.mark.parametrize("quality,substatus,code", [("GOOD", None, 0), ("UNCERTAIN", "stale", 104),
                                                    ("BAD", "comm_failure", 201), ("BAD", "brand_new", 299)])
def test_it_stores_quality_and_substatus_in_one_code(quality, substatus, code):
    from historian.constants import quality_code, quality_decode

    assert quality_code(quality, substatus) == code
    assert quality_decode(code) == (quality, substatus if substatus != "brand_new" else "other")
