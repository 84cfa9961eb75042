"""History queries: raw samples and bucketed aggregates, for one tag or many in one round trip.

Semantics (docs/architecture.md, "Historian"): Kiln stores changes, so a tag holds each stored value from its
timestamp until its next sample (a step; nothing is interpolated). A BAD sample holds no value. For a bucket
[t, t + interval) — aligned to multiples of the interval since 1970-01-01T00:00Z, clipped to [start, end)
and never past now:

- average: time-weighted mean over the seconds in which a usable value was held (null when none);
- min / max / range / first / last: over the usable samples stored in the bucket plus the value carried into
  it from before (first = the carried value if any; last = the last usable sample, else the carried value);
- count / sum: the usable samples stored in the bucket (count 0 and sum null when there are none);
- a bucket without samples gets the value held through it (range 0), or null if none was (count 0).

On PostgreSQL one SQL statement answers a whole query. It reads each part of the range from the coarsest tier
that is exact there: 1-hour rollups where the interval is a multiple of an hour, 1-minute rollups where it is
a multiple of a minute, raw samples at the ragged edges and after the oldest pending rollup range. The rollup
rows and the raw samples are combined by the same algebra (historian.rollups), so the answer does not depend on
the tier. On SQLite (the demo) the same semantics are computed in Python from raw samples.

The package's modules, one concern each: planning (what a query asks for, the point limit, which tier serves
which part of the range), raw (mode=raw), raw_bulk (mode=raw as numpy columns, written to JSON without a dict
per point), sql (the one aggregate statement's text), packed (all-raw averages
integrated in Python from packed arrays), buckets (partials and carried values → points), portable (the same
semantics in Python, for SQLite) and query (history_query: validation, then the path that answers).
"""

from historian.selectors.planning import HistoryTag, history_points_check, plan_segments, suggest_interval
from historian.selectors.portable import aggregate_python
from historian.selectors.query import history_query

__all__ = ["HistoryTag", "history_query", "history_points_check", "suggest_interval", "aggregate_python",
           "plan_segments"]
