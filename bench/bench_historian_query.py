"""Benchmark: history queries on 30 days of 1-second data for 10 tags (26 M rows), naive GROUP BY beside each.

    .venv/bin/python bench/bench_historian_query.py [--days 30] [--tags 10] [--extra-tags 40] [--repeat 30]
                                                    [--regenerate]

Database from BENCH_DATABASE_URL, else DATABASE_URL, else postgres kiln_hist_bench (created if missing); Redis
from REDIS_URL, else db 6. The data set is generated once with SQL generate_series (ending at the current
minute: the last two days stay hot, older days are compacted the way beat does it), rollups are computed by the
real refresher, and later runs reuse it (--regenerate to rebuild, --days/--tags to shrink it for a quick run).
Measured, each with p50/p95 over --repeat runs and the naive GROUP BY over raw rows beside it:

1. 720 hourly averages of one tag (30 days) — historian.selectors.history_query (tiered);
2. 24 hourly averages over one day from raw samples (rollups off), for a compacted and a hot day, and the
   same through the tiered path;
3. 50 tags × 24 h at 1-minute buckets through the API (GET /api/history, Django test client in-process:
   authentication, permission matrix, rate-limit counter, query, JSON rendering — no socket);
4. bytes per raw sample, hot and compacted partitions (table + index).

Targets (issue 5): 1. p95 ≤ 25 ms; 2. p95 ≤ 30 ms; 3. ≤ 250 ms; 4. ≤ 60 B.
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

MACHINE = "bench-q"
DEFAULT_DB = "postgres://postgres@127.0.0.1:5432/kiln_hist_bench"


def configure_env() -> None:
    os.environ["DATABASE_URL"] = (os.environ.get("BENCH_DATABASE_URL") or os.environ.get("DATABASE_URL")
                                  or DEFAULT_DB)
    os.environ.setdefault("REDIS_URL", "redis://127.0.0.1:6379/6")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "scada.settings")
    os.environ.setdefault("KILN_TESTING", "1")
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    os.environ["KILN_RATE_LIMIT_ENABLED"] = "0"
    os.environ.setdefault("KILN_HISTORIAN_RETENTION_DAYS", "0")  # keep the generated month whatever its age
    sys.path.insert(0, str(ROOT))


def timed(fn, repeat: int, warmup: int = 3) -> tuple[float, float, object]:
    for _ in range(warmup):
        result = fn()
    samples = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        result = fn()
        samples.append((time.perf_counter() - t0) * 1000)
    samples.sort()
    p95 = samples[min(len(samples) - 1, int(round(0.95 * (len(samples) - 1))))]
    return statistics.median(samples), p95, result


def setup(args) -> tuple[list, datetime]:
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection

    from historian.compaction import historian_compact
    from historian.partitions import partition_window, partitions_ensure, partitions_list, partitions_maintain
    from historian.rollups import rollups_mark_dirty, rollups_refresh
    from tags.models import Machine, Tag

    call_command("migrate", verbosity=0, interactive=False)
    machine, _ = Machine.objects.get_or_create(machine_id=MACHINE)
    n = args.tags + args.extra_tags
    have = set(Tag.objects.filter(machine=machine).values_list("name", flat=True))
    Tag.objects.bulk_create([Tag(machine=machine, name=f"{MACHINE}.T{i:02d}", datatype="REAL") for i in range(n)
                             if f"{MACHINE}.T{i:02d}" not in have])
    tags = list(Tag.objects.filter(machine=machine).order_by("name")[:n])
    ids = [t.pk for t in tags]
    end = datetime.now(tz=UTC).replace(second=0, microsecond=0)
    start = end - timedelta(days=args.days)

    with connection.cursor() as cur:
        cur.execute("SELECT min(ts), max(ts), count(*) FROM historian_sample WHERE tag_id = %s", [ids[0]])
        lo, hi, count = cur.fetchone()
    fresh = (not args.regenerate and count == args.days * 86400 and hi is not None
             and abs((hi - (end - timedelta(seconds=1))).total_seconds()) < 6 * 3600)
    if fresh:
        end = hi + timedelta(seconds=1)
        start = lo
        print(f"reusing the data set: {lo:%Y-%m-%d %H:%M} .. {end:%Y-%m-%d %H:%M} UTC")
        return tags, end

    print(f"generating {args.days} days × {args.tags} tags of 1-s data (+ {args.extra_tags} tags for the last "
          f"day) ending {end:%Y-%m-%d %H:%M} UTC ...", flush=True)
    t0 = time.perf_counter()
    with connection.cursor() as cur:
        # Start from no partitions at all: a compacted partition refilled in time order would not be compacted.
        for table in ("historian_sample", "historian_rollup_1m"):
            for p in partitions_list(table):
                cur.execute(f"DROP TABLE {p.name}")
        cur.execute("TRUNCATE historian_rollup_1h, historian_historiandirtyrange")
    day = start
    windows = set()
    while day < end:
        windows.add(partition_window(day))
        day += timedelta(days=1)
    windows.add(partition_window(end))
    partitions_ensure(windows=sorted(windows))

    def fill(tag_ids, a, b):
        # Time order across tags, as the writer would insert them; a daily sine plus noise per tag.
        with connection.cursor() as cur:
            cur.execute(
                """INSERT INTO historian_sample (ts, value, tag_id, quality)
                   SELECT ts, 50 + 20 * sin(2 * pi() * date_part('epoch', ts) / 86400 + t) + random() - 0.5, t, 0
                   FROM generate_series(%s::timestamptz, %s::timestamptz - interval '1 second',
                                        interval '1 second') ts
                   CROSS JOIN unnest(%s::int[]) t""",
                [a, b, tag_ids])

    chunk = start
    while chunk < end:
        nxt = min(chunk + timedelta(hours=6), end)
        fill(ids[: args.tags], chunk, nxt)
        chunk = nxt
        print(".", end="", flush=True)
    if args.extra_tags:
        fill(ids[args.tags:], end - timedelta(days=1), end)
    print(f" {time.perf_counter() - t0:.0f} s", flush=True)

    t0 = time.perf_counter()
    rollups_mark_dirty(ts_from=start, ts_to=end)
    run = rollups_refresh(budget_seconds=3600, chunk_minutes=360)
    print(f"rollups: {run.minute_rows:,} 1-minute and {run.hour_rows:,} 1-hour rows in "
          f"{time.perf_counter() - t0:.0f} s", flush=True)
    t0 = time.perf_counter()
    partitions_maintain(now=datetime.now(tz=UTC))
    compacted = historian_compact(now=datetime.now(tz=UTC), budget_seconds=3600)
    print(f"compacted {compacted.values:,} samples older than the compaction age into chunks in "
          f"{time.perf_counter() - t0:.0f} s", flush=True)
    with connection.cursor() as cur:
        cur.execute("VACUUM ANALYZE historian_sample")
        cur.execute("ANALYZE historian_rollup_1m")
        cur.execute("ANALYZE historian_rollup_1h")
    return tags, end


def naive(sql: str, params):
    from django.db import connection

    def run():
        with connection.cursor() as cur:
            cur.execute(sql, params)
            return cur.fetchall()

    return run


def storage() -> dict:
    """Bytes per sample at rest: rows (hot partitions, table + indexes) and chunks (historian_chunk + TOAST)."""
    from django.db import connection

    from historian.partitions import partitions_list

    out = {"hot": [0, 0], "compacted": [0, 0]}
    with connection.cursor() as cur:
        for p in partitions_list():
            cur.execute(f"SELECT count(*), pg_total_relation_size('{p.name}') FROM {p.name}")  # noqa: S608
            n, size = cur.fetchone()
            if n:
                out["hot"][0] += size
                out["hot"][1] += n
        cur.execute("SELECT coalesce(sum(n), 0), pg_total_relation_size('historian_chunk') FROM historian_chunk")
        n, size = cur.fetchone()
        out["compacted"] = [size, n]
    return {k: (size / n if n else float("nan"), n) for k, (size, n) in out.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--tags", type=int, default=10)
    parser.add_argument("--extra-tags", type=int, default=40)
    parser.add_argument("--repeat", type=int, default=30)
    parser.add_argument("--regenerate", action="store_true")
    args = parser.parse_args()
    configure_env()
    ensure_database(os.environ["DATABASE_URL"])
    tags, end = setup(args)
    from django.test import Client

    from accounts.models import User
    from accounts.tokens import issue_token_pair
    from historian.selectors import HistoryTag, history_query
    from scada.roles import Role

    hts = [HistoryTag(t.pk, t.name, t.datatype) for t in tags]
    one = hts[0]
    rows = []

    def report(name, kiln, baseline, target_ms, field="p95"):
        k50, k95, _ = kiln
        b50, b95, _ = baseline
        value = k95 if field == "p95" else k50
        rows.append(f"  {name:<58} p50 {k50:7.1f} ms  p95 {k95:7.1f} ms   naive GROUP BY p50 {b50:8.1f} ms "
                    f"p95 {b95:8.1f} ms   {'OK' if value <= target_ms else 'over'} (target {field} ≤ {target_ms} ms)")
        print(rows[-1], flush=True)

    print(f"\nqueries ({args.repeat} runs each after 3 warm-ups):", flush=True)
    # 1. 720 hourly averages of one tag.
    hours = min(720, args.days * 24)
    e1 = end.replace(minute=0)
    s1 = e1 - timedelta(hours=hours)
    kiln = timed(lambda: history_query(tags=[one], start=s1, end=e1, mode="average", interval=3600), args.repeat)
    assert len(kiln[2][one.id]) == hours
    base = timed(naive("SELECT date_trunc('hour', ts), avg(value) FROM historian_sample WHERE tag_id = %s "
                       "AND ts >= %s AND ts < %s GROUP BY 1 ORDER BY 1", [one.id, s1, e1]), max(3, args.repeat // 5))
    report(f"1. {hours} hourly averages, one tag", kiln, base, 25)

    # 2. 24 hourly averages over one day, from raw: a compacted day and a hot day; then the tiered path.
    for label, day_start in (("compacted", (end - timedelta(days=min(10, args.days - 1))).replace(hour=0, minute=0)),
                             ("hot", (end - timedelta(days=1)).replace(hour=0, minute=0))):
        day_end = day_start + timedelta(days=1)
        kiln = timed(lambda a=day_start, b=day_end: history_query(tags=[one], start=a, end=b, mode="average",
                                                                 interval=3600, use_rollups=False), args.repeat)
        base = timed(naive("SELECT date_trunc('hour', ts), avg(value) FROM historian_sample WHERE tag_id = %s "
                           "AND ts >= %s AND ts < %s GROUP BY 1 ORDER BY 1", [one.id, day_start, day_end]),
                     args.repeat)
        report(f"2. 24 hourly averages of one day from raw ({label} day)", kiln, base, 30)
        kiln = timed(lambda a=day_start, b=day_end: history_query(tags=[one], start=a, end=b, mode="average",
                                                                 interval=3600), args.repeat)
        report(f"   the same through the tiered path ({label} day)", kiln, base, 30)

    # 3. 50 tags × 24 h at 1-minute buckets through the API.
    user, _ = User.objects.get_or_create(username="bench-operator", defaults={"role": Role.OPERATOR})
    token = issue_token_pair(user)["token"]
    client = Client(HTTP_AUTHORIZATION=f"Bearer {token}", HTTP_HOST="localhost")
    names = ",".join(t.name for t in tags)
    s3 = end - timedelta(days=1)
    url = (f"/api/history?tags={names}&start={s3:%Y-%m-%dT%H:%M:%SZ}&end={end:%Y-%m-%dT%H:%M:%SZ}"
           "&mode=average&interval=60")

    def api():
        r = client.get(url)
        assert r.status_code == 200, r.content[:300]
        return r

    kiln = timed(api, max(5, args.repeat // 3))
    body = kiln[2].json()
    points = sum(len(s["data"]) for s in body["series"])
    base = timed(naive("SELECT tag_id, date_trunc('minute', ts), avg(value) FROM historian_sample "
                       "WHERE tag_id = ANY(%s) AND ts >= %s AND ts < %s GROUP BY 1, 2 ORDER BY 1, 2",
                       [[t.pk for t in tags], s3, end]), 3, warmup=1)
    report(f"3. {len(tags)} tags × 24 h at 1-min through the API ({points:,} points, "
           f"{len(kiln[2].content) / 1e6:.1f} MB)", kiln, base, 250, field="p50")

    st = storage()
    (c_b, c_n), (h_b, h_n) = st["compacted"], st["hot"]
    total = (c_b * c_n if c_n else 0) + (h_b * h_n if h_n else 0)
    overall = total / (c_n + h_n) if c_n + h_n else float("nan")
    print(f"\n4. bytes per raw sample (table + index): compacted {c_b:.1f} B ({c_n:,} rows), hot {h_b:.1f} B "
          f"({h_n:,} rows, the partitions still taking writes), all {overall:.1f} B  "
          f"(target ≤ 60 B; {'OK' if c_b <= 60 and overall <= 60 else 'over'} at rest and overall)")


if __name__ == "__main__":
    main()
