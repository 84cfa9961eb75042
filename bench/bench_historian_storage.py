"""Benchmark: history at rest as rows and as chunks (historian_chunk), side by side in one run (issue 19).

    .venv/bin/python bench/bench_historian_storage.py [--days 30] [--tags 10] [--extra-tags 40] [--repeat 20]

Database from BENCH_DATABASE_URL, else kiln_hist_storage_bench (created if missing; its history is rebuilt on
every run); Redis from REDIS_URL, else db 6. One run:

1. the realistic mix (its own day, 40 tags): slow noisy analog values from float32 PLC registers with jittered
   timestamps, counters, booleans that rarely change, setpoints that change a few times a day — bytes per value
   as rows (today's hot layout; today's compacted layout, CLUSTER + BRIN, rebuilt on a copy) and as chunks;
2. the query set (the query benchmark's: --days of 1-s data for --tags tags + --extra-tags tags for the last
   day, noisy float8 values): the same three layouts, compaction rate (values per second of wall time and per
   CPU-second of the PostgreSQL backend doing it, read from /proc), and Q1..Q4 on rows, then on chunks:
   Q1 720 hourly averages of one tag (30 days, tiered), Q2 24 hourly time-weighted averages of one compacted
   day from raw samples, Q3 50 tags × 24 h at 1 min through the API (Django test client, in-process),
   Q4 raw samples of one tag for one compacted day (as history_query's point dicts, and through the API);
   while the compactions run, the writer ingests `--probe-tags` samples every 0.1 s through its real path
   (buffer, flush, COPY), its committed rate and lag printed for idle and for each compaction; then a
   back-fill into the compacted day through the writer, replayed with the checkpoint lost, compacted again,
   each step compared exactly (bench/historian_storage_checks.py);
3. the last 24 h in steady state, measured: a day of the query set's tags written in 5-minute steps with a
   compaction run after each (as beat runs it), then its chunks plus its partition as left, per value.

Targets (issue 19): ≤ 20 B per value at rest; Q1 p95 ≤ 5 ms, Q2 p95 ≤ 30 ms, Q3 p95 ≤ 150 ms, Q4 ≤ 50 ms, and
no query slower on chunks than on rows; compaction ≥ 1 M values/s on one core without holding ingest up; hot
≤ 60 B per value; back-fill exact. The load average is printed: the machine may be shared, and p95s of a loaded
machine are pessimistic (CPU ms per query are printed beside them).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))

from bench_historian_ingest import ensure_database  # noqa: E402
from historian_storage_checks import (  # noqa: E402
    IngestProbe,
    backfill_check,
    clear_buffer,
    ingest_line,
    steady_state_day,
)

MACHINE = "bench-storage"
DEFAULT_DB = "postgres://postgres@127.0.0.1:5432/kiln_hist_storage_bench"


def configure_env() -> None:
    os.environ["DATABASE_URL"] = os.environ.get("BENCH_DATABASE_URL") or DEFAULT_DB
    os.environ.setdefault("REDIS_URL", "redis://127.0.0.1:6379/6")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "scada.settings")
    os.environ.setdefault("KILN_TESTING", "1")
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    os.environ["KILN_RATE_LIMIT_ENABLED"] = "0"
    os.environ["KILN_HISTORIAN_RETENTION_DAYS"] = "0"  # keep the generated history whatever its age
    os.environ["KILN_HISTORY_MAX_POINTS"] = "200000"  # Q4: a day of 1-s samples in one raw query
    os.environ["KILN_HISTORIAN_COMPACT_AFTER_HOURS"] = "2"
    sys.path.insert(0, str(ROOT))


def loadavg() -> str:
    return Path("/proc/loadavg").read_text().split(" ", 3)[:3].__str__()


def timed(fn, repeat: int, warmup: int = 2) -> tuple[float, float, object, float]:
    """(p50 ms, p95 ms, last result, CPU ms per call): wall times move with the machine's load, the CPU time (this
    process plus its PostgreSQL backend, in 10-ms clock ticks, so averaged over the runs) much less."""
    for _ in range(warmup):
        result = fn()
    samples = []
    cpu0, py0 = backend_cpu_seconds(), time.process_time()
    for _ in range(repeat):
        t0 = time.perf_counter()
        result = fn()
        samples.append((time.perf_counter() - t0) * 1000)
    cpu = (backend_cpu_seconds() - cpu0 + time.process_time() - py0) * 1000 / repeat
    samples.sort()
    p95 = samples[min(len(samples) - 1, int(round(0.95 * (len(samples) - 1))))]
    return statistics.median(samples), p95, result, cpu


def sql(statement: str, params=None, fetch: bool = False):
    from django.db import connection

    with connection.cursor() as cur:
        cur.execute(statement, params)
        return cur.fetchall() if fetch else None


def backend_cpu_seconds() -> float:
    """CPU seconds (user + system) of this connection's PostgreSQL backend so far (same machine: /proc)."""
    pid = sql("SELECT pg_backend_pid()", fetch=True)[0][0]
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def fresh_history(windows) -> None:
    from historian.partitions import partitions_ensure, partitions_list

    for table in ("historian_sample", "historian_rollup_1m"):
        for p in partitions_list(table):
            sql(f"DROP TABLE {p.name}")
    sql("TRUNCATE historian_chunk, historian_rollup_1h, historian_historiandirtyrange")
    partitions_ensure(windows=sorted(windows))


def rows_bytes(a: datetime, b: datetime) -> tuple[float, float, int]:
    """Bytes per sample of the partitions inside [a, b): as they are (hot: heap + unique B-tree + BRIN) and in
    today's compacted layout (a copy CLUSTERed in (tag, time) order with a BRIN (tag_id, ts) index only)."""
    from historian.partitions import partitions_list

    hot = cold = n = 0
    for p in partitions_list():
        if p.start < a or p.end > b:
            continue
        (count, size), = sql(f"SELECT count(*), pg_total_relation_size('{p.name}') FROM {p.name}", fetch=True)
        if not count:
            continue
        sql("DROP TABLE IF EXISTS bench_cluster_copy")
        sql(f"CREATE TABLE bench_cluster_copy AS SELECT * FROM {p.name} ORDER BY tag_id, ts")
        sql("CREATE INDEX ON bench_cluster_copy USING brin (tag_id, ts) WITH (pages_per_range = 32)")
        sql("VACUUM ANALYZE bench_cluster_copy")
        (copy,), = sql("SELECT pg_total_relation_size('bench_cluster_copy')", fetch=True)
        sql("DROP TABLE bench_cluster_copy")
        hot, cold, n = hot + size, cold + copy, n + count
    return hot / n, cold / n, n


def chunk_bytes() -> tuple[float, int]:
    (n, size), = sql("SELECT coalesce(sum(n), 0), pg_total_relation_size('historian_chunk') FROM historian_chunk",
                     fetch=True)
    return size / n if n else float("nan"), n


def design_b_bytes(limit: int = 400) -> float:
    """The other design measured on the same chunks: timestamps as delta-of-delta (int64 µs), values as XOR of
    consecutive float8 bit patterns, quality as is, each packed and compressed in Python (zlib level 1, the
    standard library's stand-in for lz4), plus ~60 B a row (tuple header, tag, range, count, TOAST pointers and
    index entries). Estimated on up to `limit` chunks."""
    import zlib
    from array import array

    rows = sql("SELECT array_to_string(array(SELECT (extract(epoch FROM t) * 1e6)::bigint FROM unnest(ts) t), ','), "
               "array_to_string(coalesce(v8, v4::float8[]), ',', 'nan'), array_to_string(q, ','), n "
               "FROM historian_chunk ORDER BY random() LIMIT %s", [limit], fetch=True)
    total = values = 0
    for ts_text, v_text, q_text, n in rows:
        ts = [int(x) for x in ts_text.split(",")]
        dod = array("q", [ts[0]] + ([ts[1] - ts[0]] if n > 1 else [])
                    + [(ts[i] - ts[i - 1]) - (ts[i - 1] - ts[i - 2]) for i in range(2, n)])
        bits = array("q", array("d", [float(x) for x in v_text.split(",")]).tobytes())
        xor = array("q", [bits[0]] + [bits[i] ^ bits[i - 1] for i in range(1, n)])
        quality = array("h", [int(x) for x in q_text.split(",")])
        total += sum(len(zlib.compress(a.tobytes(), 1)) for a in (dod, xor, quality)) + 60
        values += n
    return total / values if values else float("nan")


def compact(now: datetime) -> dict:
    from historian.compaction import historian_compact

    # thread_time: the ingest probe's thread (historian_storage_checks) runs meanwhile in this process.
    cpu0, py0, t0 = backend_cpu_seconds(), time.thread_time(), time.perf_counter()
    run = historian_compact(now=now, budget_seconds=24 * 3600)
    wall, py = time.perf_counter() - t0, time.thread_time() - py0
    cpu = backend_cpu_seconds() - cpu0
    return {"values": run.values, "windows": run.windows, "wall": wall, "cpu": cpu + py}


def fill_mix(tag_ids: list[int], day: datetime) -> None:
    """A day of a realistic plant: 10 analog (float32, ~0.5 Hz, jittered ms), 10 counters (every 5 s),
    10 booleans (about twice an hour), 10 setpoints (four a day)."""
    analog, counters, bools, setpoints = (tag_ids[i * 10:(i + 1) * 10] for i in range(4))
    sql("""INSERT INTO historian_sample (ts, value, tag_id, quality)
           SELECT %(day)s + (i * 2 + (t %% 7) * 0.01 + random() * 0.02) * interval '1 second',
                  (50 + 10 * sin(i / 900.0 + t) + random() * 0.5)::float4::float8, t, 0
           FROM unnest(%(ids)s::int[]) t, generate_series(0, 43199) i""", {"day": day, "ids": analog})
    sql("""INSERT INTO historian_sample (ts, value, tag_id, quality)
           SELECT %(day)s + (i * 5 + (t %% 5) * 0.1) * interval '1 second', (1000 * t + i)::float8, t, 0
           FROM unnest(%(ids)s::int[]) t, generate_series(0, 17279) i""", {"day": day, "ids": counters})
    sql("""INSERT INTO historian_sample (ts, value, tag_id, quality)
           SELECT %(day)s + (i * 1800 + (t %% 13) * 60 + random() * 30) * interval '1 second', (i %% 2)::float8, t, 0
           FROM unnest(%(ids)s::int[]) t, generate_series(0, 47) i""", {"day": day, "ids": bools})
    sql("""INSERT INTO historian_sample (ts, value, tag_id, quality)
           SELECT %(day)s + (i * 21600 + t * 7) * interval '1 second', (60 + 5 * (i %% 3))::float4::float8, t, 0
           FROM unnest(%(ids)s::int[]) t, generate_series(0, 3) i""", {"day": day, "ids": setpoints})


def queries(tags, one, end: datetime, day: datetime, repeat: int) -> dict:
    from django.test import Client

    from accounts.models import User
    from accounts.tokens import issue_token_pair
    from historian.selectors import history_query
    from historian.selectors.raw import _numeric_postgresql
    from scada.roles import Role

    out = {}
    e1 = end.replace(minute=0, second=0)
    hours = min(720, int((e1 - (end - timedelta(days=30))).total_seconds() // 3600))
    s1 = e1 - timedelta(hours=hours)
    out["Q1"] = timed(lambda: history_query(tags=[one], start=s1, end=e1, mode="average", interval=3600), repeat)
    out["Q2"] = timed(lambda: history_query(tags=[one], start=day, end=day + timedelta(days=1), mode="average",
                                            interval=3600, use_rollups=False), repeat)
    user, _ = User.objects.get_or_create(username="bench-operator", defaults={"role": Role.OPERATOR})
    client = Client(HTTP_AUTHORIZATION=f"Bearer {issue_token_pair(user)['token']}", HTTP_HOST="localhost")
    s3 = end - timedelta(days=1)
    url = (f"/api/history?tags={','.join(t.name for t in tags)}&start={s3:%Y-%m-%dT%H:%M:%SZ}"
           f"&end={end:%Y-%m-%dT%H:%M:%SZ}&mode=average&interval=60")

    def api():
        r = client.get(url)
        assert r.status_code == 200, r.content[:300]
        return r

    out["Q3"] = timed(api, max(5, repeat // 2))
    out["Q4"] = timed(lambda: history_query(tags=[one], start=day, end=day + timedelta(days=1), mode="raw",
                                            interval=None), repeat)
    assert len(out["Q4"][2][one.id]) == 86400, len(out["Q4"][2][one.id])
    # Q4 as a client gets it: the API's JSON, written from columns (historian.selectors.raw_bulk).
    url4 = (f"/api/tags/{one.name}/history?start={day:%Y-%m-%dT%H:%M:%SZ}"
            f"&end={day + timedelta(days=1):%Y-%m-%dT%H:%M:%SZ}&mode=raw")

    def api4():
        r = client.get(url4)
        assert r.status_code == 200 and r.content.count(b'"ts"') == 86400, r.content[:300]
        return r

    out["Q4a"] = timed(api4, repeat)
    # The storage's part of Q4: the one statement and its rows as Python tuples, without building the points.
    out["Q4s"] = timed(lambda: _numeric_postgresql([one.id], day, day + timedelta(days=1), 200_001), repeat)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--tags", type=int, default=10)
    parser.add_argument("--extra-tags", type=int, default=40)
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--probe-tags", type=int, default=200, help="ingest probe: one sample per tag every 0.1 s")
    args = parser.parse_args()
    configure_env()
    ensure_database(os.environ["DATABASE_URL"])
    import django

    django.setup()
    from django.core.management import call_command

    from historian.partitions import partition_window
    from historian.rollups import rollups_mark_dirty, rollups_refresh
    from historian.selectors import HistoryTag
    from tags.models import Machine, Tag

    call_command("migrate", verbosity=0, interactive=False)
    print(f"load average at start {loadavg()}; PostgreSQL lz4: "
          f"{sql('SHOW default_toast_compression', fetch=True)[0][0]} default, historian_chunk columns set to lz4")
    machine, _ = Machine.objects.get_or_create(machine_id=MACHINE)
    n = args.tags + args.extra_tags + 40
    have = set(Tag.objects.filter(machine=machine).values_list("name", flat=True))
    names = [f"{MACHINE}.T{i:03d}" for i in range(n)] + [f"{MACHINE}.P{i:03d}" for i in range(args.probe_tags)]
    Tag.objects.bulk_create([Tag(machine=machine, name=name, datatype="REAL") for name in names if name not in have])
    tags = list(Tag.objects.filter(machine=machine, name__startswith=f"{MACHINE}.T").order_by("name")[:n])
    probe_ids = list(Tag.objects.filter(machine=machine, name__startswith=f"{MACHINE}.P").order_by("name")
                     .values_list("pk", flat=True)[:args.probe_tags])
    query_tags, mix_tags = tags[:args.tags + args.extra_tags], tags[args.tags + args.extra_tags:]
    end = datetime.now(tz=UTC).replace(second=0, microsecond=0)
    start = end - timedelta(days=args.days)
    mix_day = (start - timedelta(days=3)).replace(hour=0, minute=0)
    windows = {partition_window(start + timedelta(days=d)) for d in range(args.days + 1)}
    steady_day = partition_window(end - timedelta(days=50))[0]  # section 3: a partition of its own
    windows |= {partition_window(mix_day), partition_window(end), partition_window(steady_day)}
    fresh_history(windows)

    # --- 1. realistic mix ---
    fill_mix([t.pk for t in mix_tags], mix_day)
    sql("VACUUM ANALYZE historian_sample")
    hot, cold, count = rows_bytes(mix_day, mix_day + timedelta(days=1))
    run = compact(end)
    sql("VACUUM ANALYZE historian_chunk")
    chunked, moved = chunk_bytes()
    other = design_b_bytes()
    print(f"\n1. realistic mix, one day of 40 tags ({count:,} values; 10 analog float32 ~0.5 Hz, 10 counters, "
          "10 booleans, 10 setpoints):")
    print(f"   rows hot {hot:.1f} B/value   rows compacted today (CLUSTER + BRIN) {cold:.1f} B/value   "
          f"chunks {chunked:.1f} B/value ({moved:,} values)   {'OK' if chunked <= 20 else 'over'} (target ≤ 20 B)")
    print(f"   design B (delta-of-delta times, XOR values, compressed in Python; estimate): {other:.1f} B/value")
    sql("TRUNCATE historian_chunk")

    # --- 2. the query set ---
    ids = [t.pk for t in query_tags[:args.tags]]
    extra = [t.pk for t in query_tags[args.tags:]]
    print(f"\n2. query set: {args.days} days × {args.tags} tags of 1-s data + {args.extra_tags} tags for the last day "
          f"ending {end:%Y-%m-%d %H:%M} UTC", end="", flush=True)
    t0 = time.perf_counter()
    chunk = start
    while chunk < end:
        nxt = min(chunk + timedelta(hours=6), end)
        sql("""INSERT INTO historian_sample (ts, value, tag_id, quality)
               SELECT ts, 50 + 20 * sin(2 * pi() * date_part('epoch', ts) / 86400 + t) + random() - 0.5, t, 0
               FROM generate_series(%s::timestamptz, %s::timestamptz - interval '1 second', interval '1 second') ts
               CROSS JOIN unnest(%s::int[]) t""", [chunk, nxt, ids + (extra if nxt > end - timedelta(days=1) else [])])
        chunk = nxt
        print(".", end="", flush=True)
    print(f" {time.perf_counter() - t0:.0f} s", flush=True)
    rollups_mark_dirty(ts_from=start, ts_to=end)
    rollups_refresh(budget_seconds=3600, chunk_minutes=360)
    sql("VACUUM ANALYZE historian_sample")
    sql("ANALYZE historian_rollup_1m")
    sql("ANALYZE historian_rollup_1h")
    hts = [HistoryTag(t.pk, t.name, t.datatype) for t in query_tags]
    one = hts[0]
    day = (end - timedelta(days=min(10, args.days - 1))).replace(hour=0, minute=0)
    (total,), = sql("SELECT count(*) FROM historian_sample", fetch=True)
    hot, cold, count = rows_bytes(start.replace(hour=0, minute=0) + timedelta(days=1), end.replace(hour=0, minute=0))
    print(f"   {total:,} values; rows hot {hot:.1f} B/value, rows compacted today (CLUSTER + BRIN) {cold:.1f} B/value "
          f"(whole days, {count:,} values)", flush=True)
    print(f"   queries on rows ({args.repeat} runs each), load average {loadavg()}", flush=True)
    on_rows = queries(hts, one, end, day, args.repeat)
    # Closed partitions first (a past day, a backlog: packed whole and truncated), then the partition still
    # being written (window by window, packed then deleted), each rate on its own.
    # Meanwhile the writer ingests through its real path at a constant rate (historian_storage_checks).
    clear_buffer()
    probe = IngestProbe(probe_ids)
    probe.start()
    _, idle = probe.phase(lambda: time.sleep(10))
    closed, during_closed = probe.phase(lambda: compact(end.replace(hour=0, minute=0) + timedelta(hours=2)))
    run, during_open = probe.phase(lambda: compact(end))
    probe.stop()
    sql("DELETE FROM historian_sample WHERE tag_id = ANY(%s)", [probe_ids])
    sql("VACUUM ANALYZE historian_chunk")
    sql("VACUUM ANALYZE historian_sample")
    chunked, moved = chunk_bytes()
    other = design_b_bytes()
    (left,), = sql("SELECT count(*) FROM historian_sample", fetch=True)
    (rows_size,), = sql("SELECT sum(pg_total_relation_size(c.oid)) FROM pg_inherits i JOIN pg_class c "
                        "ON c.oid = i.inhrelid WHERE i.inhparent = 'historian_sample'::regclass", fetch=True)
    overall = (chunked * moved + float(rows_size)) / (moved + left)
    # The last 24 h in steady state: what compaction moved out of them as chunks, plus the last 2 h as hot rows
    # (the pages the moved rows left are reused by new rows, so a running partition holds about 2 h of rows).
    today = end - timedelta(days=1)
    (today_chunked,), = sql("SELECT coalesce(sum(n), 0) FROM historian_chunk WHERE ts_from >= %s", [today], fetch=True)
    (today_rows,), = sql("SELECT count(*) FROM historian_sample WHERE ts >= %s", [today], fetch=True)
    hot_day = (chunked * today_chunked + hot * today_rows) / max(today_chunked + today_rows, 1)
    for label, r in (("closed partitions (packed whole, truncated)", closed),
                     ("today's partition (window by window, deleted)", run)):
        print(f"   compaction, {label}: {r['values']:,} values in {r['windows']} windows, {r['wall']:.1f} s wall "
              f"({r['values'] / r['wall'] / 1e6:.2f} M values/s), {r['cpu']:.1f} CPU-s "
              f"({r['values'] / max(r['cpu'], 1e-9) / 1e6:.2f} M values per CPU-s; target ≥ 1 M/s on one core)")
    for label, s_ in (("idle (no compaction)", idle), ("while closed partitions are compacted", during_closed),
                      ("while today's partition is compacted", during_open)):
        print(ingest_line(label, probe.offered, s_))
    print(f"   chunks {chunked:.1f} B/value ({moved:,} values) {'OK' if chunked <= 20 else 'over'} (target ≤ 20 B); "
          f"everything on disk incl. the {left:,} rows of the last 2 h, the pages compaction emptied in today's "
          f"partition (reused by new rows) and partitions made ahead {overall:.1f} B/value")
    print(f"   design B (delta-of-delta times, XOR values, compressed in Python; estimate): {other:.1f} B/value")
    print(f"   the last 24 h in steady state ({today_chunked:,} values in chunks at {chunked:.1f} B, "
          f"{today_rows:,} rows at {hot:.1f} B): {hot_day:.1f} B/value (target ≤ 60 B)")
    print(f"   queries on chunks ({args.repeat} runs each), load average {loadavg()}", flush=True)
    on_chunks = queries(hts, one, end, day, args.repeat)
    names = {"Q1": "Q1 720 hourly averages, one tag (target p95 ≤ 5 ms)",
             "Q2": "Q2 24 hourly averages of a day from raw (≤ 30 ms)",
             "Q3": f"Q3 {len(hts)} tags × 24 h at 1 min, API (≤ 150 ms)",
             "Q4": "Q4 raw samples, one tag, one day, history_query dicts",
             "Q4a": "Q4 the same through the API, JSON (≤ 50 ms)",
             "Q4s": "   its SQL statement and fetch alone"}
    print(f"\n   {'query':<52} {'rows p50/p95 ms (CPU)':>24} {'chunks p50/p95 ms (CPU)':>26}  chunks vs rows "
          "(p50, CPU)")
    for key, label in names.items():
        r, c = on_rows[key], on_chunks[key]
        print(f"   {label:<52} {r[0]:7.1f} /{r[1]:7.1f} ({r[3]:5.1f}) {c[0]:8.1f} /{c[1]:7.1f} ({c[3]:5.1f})   "
              f"{100 * (c[0] / r[0] - 1):+6.1f} %, {100 * (c[3] / max(r[3], 1e-9) - 1):+6.1f} %")
    print(f"\n   load average {loadavg()}")
    for line in backfill_check(one.id, day, lambda: compact(end)):
        print(line, flush=True)

    # --- 3. the last 24 h in steady state, measured ---
    print(f"\n3. a day of {len(hts)} tags at 1 Hz written in 5-minute steps, compaction after each step as beat runs "
          f"it ({steady_day:%Y-%m-%d}, a partition of its own), load average {loadavg()}", flush=True)
    st = steady_state_day([t.id for t in hts], steady_day)
    print(f"   as left at the day's end: {st['chunked']:,} values in chunks ({st['chunks'] / 1e6:.1f} MB), "
          f"{st['rows']:,} rows (the last ~2 h) in a partition of {st['partition'] / 1e6:.1f} MB (heap "
          f"{st['heap'] / 1e6:.1f} MB; heap and indexes sized by the most rows held at once, {st['peak']:,}, "
          f"{st['partition'] / max(st['peak'], 1):.0f} B each, their pages reused): {st['per_value']:.1f} B/value "
          f"for the day (target ≤ 60 B; the same day as rows today {hot:.1f} B/value)")
    print(f"\nload average at end {loadavg()}")


if __name__ == "__main__":
    main()
