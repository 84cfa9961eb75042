"""Parts of bench/bench_historian_storage.py that check what bytes and query times do not show (issue 19):

- IngestProbe: the writer's real path (buffer → historian_writer_flush → COPY) at a constant offered rate in a
  thread of its own, measured in phases: idle, then while each kind of compaction runs;
- backfill_check: a back-fill into a compacted day through the writer, replayed a second time with the
  checkpoint lost, then compacted again, each step compared with the expected samples exactly;
- steady_state_day: a day written in 5-minute steps with compaction after each step (as beat runs it), then
  the bytes that day takes on disk as it is left: chunks plus its partition's rows and pages.
"""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta


def sql(statement: str, params=None, fetch: bool = False):
    from django.db import connection

    with connection.cursor() as cur:
        cur.execute(statement, params)
        return cur.fetchall() if fetch else None


def clear_buffer() -> None:
    """The historian's Redis keys and the writer checkpoint cleared: a buffer of this run's entries only."""
    from scada.redis import get_redis

    r = get_redis()
    for key in r.scan_iter("kiln:hist:*"):
        r.delete(key)
    sql("TRUNCATE historian_historianwritercheckpoint")


def _pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    values = sorted(values)
    return values[min(len(values) - 1, int(round(q * (len(values) - 1))))]


class IngestProbe(threading.Thread):
    """Every `period` seconds one poll cycle of one sample per tag, stamped with its due time, goes into the
    historian buffer (Redis) and the writer flushes whatever is buffered (one transaction: COPY, dirty ranges,
    checkpoint), as beat's writer does. The offered rate stays constant whatever the writer does, so a writer
    held up by compaction would show as committed/s below offered/s and as lag (buffer append → COMMIT)."""

    def __init__(self, ids: list[int], period: float = 0.1):
        super().__init__(daemon=True)
        self.ids, self.period = ids, period
        self.halt = threading.Event()
        self.flushes: list[tuple[float, float, int, float]] = []  # (end time, flush s, written, max lag s)
        self.error: BaseException | None = None

    @property
    def offered(self) -> float:
        return len(self.ids) / self.period

    def run(self) -> None:
        from django.db import connection

        from historian.buffer import buffer_append_rows
        from historian.writer import historian_writer_flush

        n, k = len(self.ids), 0
        due = time.time()
        try:
            while not self.halt.is_set():
                while due <= time.time():
                    buffer_append_rows([due] * n, self.ids, [float(k % 977) + i for i in range(n)], [0] * n)
                    due, k = due + self.period, k + 1
                t0 = time.perf_counter()
                result = historian_writer_flush()
                t1 = time.perf_counter()
                if result is not None:
                    lag = max((seconds for seconds, _ in result.latencies), default=0.0)
                    self.flushes.append((t1, t1 - t0, result.written, lag))
                time.sleep(max(0.0, due - time.time()))
        except BaseException as exc:  # noqa: BLE001 - reported by phase()
            self.error = exc
        finally:
            connection.close()

    def phase(self, fn):
        """Run fn() while the probe writes; returns (fn's result, stats of the flushes that ended meanwhile)."""
        t0 = time.perf_counter()
        result = fn()
        t1 = time.perf_counter()
        if self.error:
            raise RuntimeError("ingest probe failed") from self.error
        inside = [f for f in self.flushes if t0 <= f[0] < t1]
        stats = {"seconds": t1 - t0, "rate": sum(f[2] for f in inside) / (t1 - t0), "flushes": len(inside),
                 "flush_p99": 1000 * _pct([f[1] for f in inside], 0.99),
                 "flush_max": 1000 * max((f[1] for f in inside), default=float("nan")),
                 "lag_p99": 1000 * _pct([f[3] for f in inside], 0.99),
                 "lag_max": 1000 * max((f[3] for f in inside), default=float("nan"))}
        return result, stats

    def stop(self) -> None:
        self.halt.set()
        self.join(30)


def ingest_line(label: str, offered: float, s: dict) -> str:
    return (f"   ingest {label:<44} {s['rate']:8,.0f} committed/s of {offered:,.0f} offered over {s['seconds']:5.1f} s;"
            f" flush p99/max {s['flush_p99']:5.0f}/{s['flush_max']:5.0f} ms, lag p99/max "
            f"{s['lag_p99']:5.0f}/{s['lag_max']:5.0f} ms")


def _stored(tag_id: int, a: datetime, b: datetime) -> list[tuple]:
    from historian.selectors.raw import _numeric_postgresql

    return [(ts, v, q) for _, ts, v, q in _numeric_postgresql([tag_id], a, b, 10**7)]


def _pg_time(t: float) -> datetime:
    """The writer's rounding of an epoch float to PostgreSQL's microseconds (historian.writer_store)."""
    from historian.writer_store import PG_EPOCH

    return datetime(2000, 1, 1, tzinfo=UTC) + timedelta(microseconds=int((t - PG_EPOCH) * 1_000_000 + 0.5))


def _append_all(tag_id: int, samples: list[tuple[float, float | None, int]], per_entry: int = 500) -> None:
    from historian.buffer import buffer_append_rows

    for i in range(0, len(samples), per_entry):
        part = samples[i:i + per_entry]
        buffer_append_rows([s[0] for s in part], [tag_id] * len(part), [s[1] for s in part], [s[2] for s in part])


def backfill_check(tag_id: int, day: datetime, compact) -> list[str]:
    """A back-fill into a compacted day of one tag through the writer: 1,000 new samples between its seconds
    (a tenth of them BAD without a value) mixed with ~1,000 repeats of stored samples carrying other values.
    Exact means: the new ones written, every repeat refused (the stored sample wins), the day's raw samples
    equal to before ∪ new; the same entries replayed with the writer's checkpoint lost write nothing; a
    compaction then moves the back-filled rows into chunks and the day still reads the same, raw and as
    time-weighted hourly averages."""
    from historian.selectors import HistoryTag, history_query
    from historian.writer import historian_writer_run

    a, b = day, day + timedelta(days=1)
    before = _stored(tag_id, a, b)
    (rows_before,), = sql("SELECT count(*) FROM historian_sample WHERE tag_id = %s AND ts >= %s AND ts < %s",
                          [tag_id, a, b], fetch=True)
    base = a.timestamp()
    new = [(base + k * 86.4 + 0.25, None if k % 10 == 0 else 1000.0 + k, 201 if k % 10 == 0 else 0)
           for k in range(1000)]
    repeats = [(ts.timestamp(), v + 1.0, 0) for ts, v, _ in before[::86]]
    mixed = [s for pair in zip(new, repeats, strict=False) for s in pair] + new[len(repeats):]
    expected = sorted(before + [(_pg_time(t), v, q) for t, v, q in new])
    out = [f"   back-fill into compacted {a:%Y-%m-%d} (one tag, {len(before):,} samples, {rows_before} of them "
           f"rows): {len(new):,} new ({sum(v is None for _, v, _ in new)} BAD without a value) + "
           f"{len(repeats):,} repeats with other values"]
    t0 = time.perf_counter()
    _append_all(tag_id, mixed)
    run = historian_writer_run(budget_seconds=600)
    seconds = time.perf_counter() - t0
    got = _stored(tag_id, a, b)
    out.append(f"     written {run.written:,} in {seconds:.2f} s (slow path, checked against rows and chunks); "
               f"the day equals before ∪ new exactly: {'yes' if got == expected else 'NO'}")
    sql("TRUNCATE historian_historianwritercheckpoint")  # the checkpoint lost (Redis' AOF replayed, say)
    _append_all(tag_id, mixed)
    again = historian_writer_run(budget_seconds=600)
    got2 = _stored(tag_id, a, b)
    out.append(f"     replayed with the checkpoint lost: written {again.written}; day unchanged: "
               f"{'yes' if got2 == expected else 'NO'}")
    tag = HistoryTag(tag_id, "backfill", "REAL")

    def averages():
        return history_query(tags=[tag], start=a, end=b, mode="average", interval=3600, use_rollups=False)

    avg_rows = averages()
    moved = compact()
    (left,), = sql("SELECT count(*) FROM historian_sample WHERE tag_id = %s AND ts >= %s AND ts < %s",
                   [tag_id, a, b], fetch=True)
    got3 = _stored(tag_id, a, b)
    same_avg = averages() == avg_rows
    out.append(f"     compacted again ({moved['values']:,} values moved, {left} rows of the day left): raw equal: "
               f"{'yes' if got3 == expected else 'NO'}, hourly time-weighted averages equal: "
               f"{'yes' if same_avg else 'NO'}")
    ok = (run.written == len(new) and got == expected and again.written == 0 and got2 == expected
          and got3 == expected and same_avg and left == 0)
    out.append(f"     back-fill exact: {'OK' if ok else 'MISSED'}")
    return out


def steady_state_day(ids: list[int], day: datetime, step_minutes: int = 5) -> dict:
    """`ids` at 1 Hz for the 24 h from `day` (noisy float8, as the query set), inserted in steps of
    `step_minutes`, historian_compact(now=end of the step) after each step as beat runs it (the partition is
    open: window by window, then VACUUM). Then measured, not estimated: the chunks the day made (growth of
    historian_chunk on disk) plus its partition as it is left (the rows of the last ~2 h, the pages emptied
    rows left for new rows, both indexes), per value of the day."""
    from historian.compaction import historian_compact
    from historian.partitions import partitions_list

    (c0,), = sql("SELECT pg_total_relation_size('historian_chunk')", fetch=True)
    step = timedelta(minutes=step_minutes)
    t, end, moved, peak = day, day + timedelta(days=1), 0, 0
    while t < end:
        sql("""INSERT INTO historian_sample (ts, value, tag_id, quality)
               SELECT ts, 50 + 20 * sin(2 * pi() * date_part('epoch', ts) / 86400 + t) + random() - 0.5, t, 0
               FROM generate_series(%s::timestamptz, %s::timestamptz - interval '1 second', interval '1 second') ts
               CROSS JOIN unnest(%s::int[]) t""", [t, t + step, ids])
        t += step
        peak = max(peak, len(ids) * int((t - day).total_seconds()) - moved)  # rows held before this run
        moved += historian_compact(now=t, budget_seconds=600).values
    name = next(p.name for p in partitions_list() if p.start <= day < p.end)
    (rows, size), = sql(f"SELECT count(*), pg_total_relation_size('{name}') FROM {name}", fetch=True)  # noqa: S608
    (heap,), = sql(f"SELECT pg_relation_size('{name}')", fetch=True)
    (c1,), = sql("SELECT pg_total_relation_size('historian_chunk')", fetch=True)
    (chunked,), = sql("SELECT coalesce(sum(n), 0) FROM historian_chunk WHERE tag_id = ANY(%s) AND ts_from >= %s "
                      "AND ts_from < %s", [ids, day, end], fetch=True)
    values = len(ids) * 86400
    assert rows + chunked == values, (rows, chunked, values)
    return {"values": values, "rows": rows, "partition": size, "heap": heap, "chunks": c1 - c0,
            "chunked": chunked, "per_value": (size + c1 - c0) / values, "moved": moved, "peak": peak}
