"""Benchmark: historian ingest through the real path (value consumer → Redis stream → writer → COPY), with baselines.

    .venv/bin/python bench/bench_historian_ingest.py [--seconds 120] [--rate 100000] [--batch 1000]
                                                     [--tags 1000] [--producers 1] [--baseline-rows 3000]

Database from BENCH_DATABASE_URL, else DATABASE_URL, else postgres kiln_hist_bench_ingest (created if missing;
its historian tables are emptied, so do not point it at the query benchmark's data); Redis from REDIS_URL, else
db 6 (its historian keys are cleared). Three parts, printed side by side:

1. Sustained: producer processes hand batches of `--batch` changes (one poll cycle each) to the historian's
   value consumer (historian.buffer.historian_buffer_append, exactly what tags.values calls) at `--rate`
   changes/s for `--seconds`, while one writer process runs the writer the way beat does (run, next run).
   Reports changes/s committed, the backlog at the end, and the latency from buffer append to COMMIT
   (p50/p99, per sample, from the stream entry ids).
2. Writer throughput on a full buffer (no producer competing for the CPU): COPY path rows/s.
3. Baselines on the same table: an ORM create() loop and bulk_create(batch_size=5000), rows/s.

Targets (issue 5): ≥ 100,000 changes/s sustained for 2 minutes, ≥ 25× the create() loop and ≥ 3× bulk_create,
p99 change → committed ≤ 2 s. Use `--seconds 20` for a quick run.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DB = "postgres://postgres@127.0.0.1:5432/kiln_hist_bench_ingest"


def configure_env() -> None:
    os.environ["DATABASE_URL"] = (os.environ.get("BENCH_DATABASE_URL") or os.environ.get("DATABASE_URL")
                                  or DEFAULT_DB)
    os.environ.setdefault("REDIS_URL", "redis://127.0.0.1:6379/6")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "scada.settings")
    os.environ.setdefault("KILN_TESTING", "1")  # a throw-away process: the demo secret is fine
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    os.environ.setdefault("KILN_HISTORIAN_BUFFER_QUOTA", "50000000")
    sys.path.insert(0, str(ROOT))


def ensure_database(url: str) -> None:
    import dj_database_url
    import psycopg

    cfg = dj_database_url.parse(url)
    conninfo = {"host": cfg.get("HOST") or "127.0.0.1", "port": cfg.get("PORT") or 5432, "user": cfg.get("USER"),
                "password": cfg.get("PASSWORD") or None, "dbname": "postgres", "autocommit": True}
    with psycopg.connect(**conninfo) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [cfg["NAME"]]).fetchone():
            conn.execute(f'CREATE DATABASE "{cfg["NAME"]}"')


def setup(n_tags: int) -> list[int]:
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection

    call_command("migrate", verbosity=0, interactive=False)
    from historian.partitions import partitions_maintain
    from scada.redis import get_redis
    from tags.models import Machine, Tag

    machine, _ = Machine.objects.get_or_create(machine_id="bench-ingest")
    have = set(Tag.objects.filter(machine=machine).values_list("name", flat=True))
    Tag.objects.bulk_create([Tag(machine=machine, name=f"bench-ingest.T{i:05d}", datatype="REAL")
                             for i in range(n_tags) if f"bench-ingest.T{i:05d}" not in have])
    ids = list(Tag.objects.filter(machine=machine).order_by("id").values_list("id", flat=True)[:n_tags])
    with connection.cursor() as cur:
        cur.execute("TRUNCATE historian_sample, historian_historiandirtyrange, historian_historianwritercheckpoint")
    r = get_redis()
    for key in r.scan_iter("kiln:hist:*"):
        r.delete(key)
    partitions_maintain()
    connection.close()
    return ids


def producer(ids: list[int], rate: float, batch: int, seconds: float, start_at: float, out: mp.Queue) -> None:
    from scada.redis import reset_redis_client

    reset_redis_client()
    from historian.buffer import historian_buffer_append
    from tags.values import Change

    # Poll cycles of `batch` tags, built once; values and timestamps change every cycle.
    cycles = [[Change(ids[(c * batch + i) % len(ids)], "", 0.0, "GOOD", None, 0.0, None) for i in range(batch)]
              for c in range(max(1, len(ids) // batch))]
    interval = batch / rate
    sent = 0
    while time.time() < start_at:
        time.sleep(0.001)
    t_end = start_at + seconds
    next_at = start_at
    n = 0
    while True:
        now = time.time()
        if now >= t_end:
            break
        if now < next_at:
            time.sleep(min(next_at - now, 0.01))
            continue
        changes = cycles[n % len(cycles)]
        v = float(n)
        for c in changes:
            c.ts = now
            c.value = v
        historian_buffer_append(changes)
        sent += len(changes)
        n += 1
        next_at += interval
    out.put(("producer", sent))


def writer(seconds_after: float, stop_at: float, out: mp.Queue) -> None:
    from django.db import connection

    from scada.redis import reset_redis_client

    connection.close()
    reset_redis_client()
    from historian.writer import historian_writer_run

    latencies: list[tuple[float, int]] = []
    written = 0
    first_commit = last_commit = None
    while time.time() < stop_at:
        run = historian_writer_run(budget_seconds=5, keep_results=True)
        for res in run.results:
            latencies.extend(res.latencies)
            if res.written:
                last_commit = time.time()
                first_commit = first_commit or last_commit
        written += run.written
        if not run.flushes:
            time.sleep(0.05)
    out.put(("writer", written, latencies, first_commit, last_commit))


def percentile_weighted(pairs: list[tuple[float, int]], q: float) -> float:
    pairs = sorted(pairs)
    total = sum(n for _, n in pairs)
    if not total:
        return float("nan")
    acc = 0
    for value, n in pairs:
        acc += n
        if acc >= q * total:
            return value
    return pairs[-1][0]


def sustained(ids, args) -> dict:
    from historian.buffer import buffer_status

    q: mp.Queue = mp.Queue()
    start_at = time.time() + 2.0
    stop_writer = start_at + args.seconds + 30  # give it time to drain what is left
    procs = [mp.Process(target=producer, args=(ids, args.rate / args.producers, args.batch, args.seconds, start_at,
                                               q)) for _ in range(args.producers)]
    w = mp.Process(target=writer, args=(args.seconds, stop_writer, q))
    w.start()
    for p in procs:
        p.start()
    time.sleep(start_at - time.time() + args.seconds)
    backlog_at_end = buffer_status()["buffered_samples"]
    for p in procs:
        p.join()
    # Wait for the backlog to drain, then let the writer finish its loop.
    drained_at = None
    while time.time() < stop_writer:
        if buffer_status()["buffered_samples"] == 0:
            drained_at = time.time()
            break
        time.sleep(0.1)
    sent = 0
    writer_result = None
    for _ in range(args.producers + 1):
        item = q.get(timeout=120)
        if item[0] == "producer":
            sent += item[1]
        else:
            writer_result = item
    w.join()
    _, written, latencies, first_commit, last_commit = writer_result
    return {
        "sent": sent, "written": written, "seconds": args.seconds,
        "offered_rate": sent / args.seconds,
        "committed_rate": written / (max(last_commit, start_at + args.seconds) - start_at) if last_commit else 0,
        "backlog_at_end": backlog_at_end,
        "drain_seconds": (drained_at - (start_at + args.seconds)) if drained_at else None,
        "p50": percentile_weighted(latencies, 0.50), "p99": percentile_weighted(latencies, 0.99),
        "max": max((lat for lat, _ in latencies), default=float("nan")),
    }


def writer_throughput(ids, rows: int) -> float:
    """Fill the buffer with `rows` samples, then time the writer draining it alone."""
    from django.db import connection

    from historian.buffer import buffer_append_rows
    from historian.writer import historian_writer_run

    # A minute old, as a poll cycle's samples are: the writer sends samples older than half of
    # KILN_HISTORIAN_COMPACT_AFTER_HOURS (1 h by default) down its slow path (a chunk may already hold them).
    now = time.time() - 60
    batch = 1000
    for b in range(rows // batch):
        ts = now + b * 0.01
        buffer_append_rows([ts] * batch, [ids[i % len(ids)] for i in range(batch)], [float(b)] * batch, [0] * batch)
    t0 = time.perf_counter()
    run = historian_writer_run(budget_seconds=600)
    dt = time.perf_counter() - t0
    assert run.written == rows, (run.written, rows, run.error)
    connection.close()
    return rows / dt


def baselines(ids, rows: int) -> tuple[float, float]:
    from datetime import UTC, datetime

    from django.db import transaction

    from historian.models import HistorianSample
    from historian.partitions import partitions_ensure_for_times

    base = time.time() - 7200
    # The writer makes the partitions it needs; these plain ORM inserts do not. Two hours back can be yesterday
    # (UTC), which partition maintenance leaves out of a fresh database.
    partitions_ensure_for_times([base, base + 1000 + rows * 20 * 0.001])
    t0 = time.perf_counter()
    for i in range(rows):
        # One row per statement, autocommit: the naive way a consumer would historize a change.
        HistorianSample.objects.create(tag_id=ids[i % len(ids)], ts=datetime.fromtimestamp(base + i * 0.001, tz=UTC),
                                       value=float(i), quality=0)
    create_rate = rows / (time.perf_counter() - t0)
    n = rows * 20
    objs = [HistorianSample(tag_id=ids[i % len(ids)], ts=datetime.fromtimestamp(base + 1000 + i * 0.001, tz=UTC),
                            value=float(i), quality=0) for i in range(n)]
    t0 = time.perf_counter()
    with transaction.atomic():
        HistorianSample.objects.bulk_create(objs, batch_size=5000)
    bulk_rate = n / (time.perf_counter() - t0)
    return create_rate, bulk_rate


def bytes_per_sample() -> tuple[float, int]:
    from django.db import connection

    from historian.partitions import partitions_list

    total, rows = 0, 0
    with connection.cursor() as cur:
        for p in partitions_list():
            cur.execute(f"SELECT count(*), pg_total_relation_size('{p.name}') FROM {p.name}")  # noqa: S608
            n, size = cur.fetchone()
            if n:
                total += size
                rows += n
    return (total / rows if rows else float("nan")), rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=120)
    parser.add_argument("--rate", type=float, default=100_000)
    parser.add_argument("--batch", type=int, default=1000)
    parser.add_argument("--tags", type=int, default=1000)
    parser.add_argument("--producers", type=int, default=1)
    parser.add_argument("--writer-rows", type=int, default=1_000_000)
    parser.add_argument("--baseline-rows", type=int, default=3000)
    parser.add_argument("--skip-sustained", action="store_true")
    args = parser.parse_args()
    configure_env()
    ensure_database(os.environ["DATABASE_URL"])
    mp.set_start_method("fork")
    ids = setup(args.tags)
    print(f"historian ingest bench: {args.tags} tags, batches of {args.batch}, db {os.environ['DATABASE_URL']}")

    if not args.skip_sustained:
        s = sustained(ids, args)
        print(f"\n1. sustained {s['seconds']:.0f} s at {args.rate:,.0f} changes/s offered "
              f"({args.producers} producer process(es), 1 writer process)")
        print(f"   offered   {s['offered_rate']:>12,.0f} changes/s  ({s['sent']:,} changes)")
        print(f"   committed {s['committed_rate']:>12,.0f} changes/s  ({s['written']:,} rows)")
        drained = f"in {s['drain_seconds']:.1f} s" if s["drain_seconds"] is not None else "NOT within 30 s"
        print(f"   backlog when producers stopped: {s['backlog_at_end']:,} samples; drained {drained}")
        print(f"   latency append → COMMIT: p50 {s['p50']:.3f} s  p99 {s['p99']:.3f} s  max {s['max']:.3f} s"
              f"   (target p99 ≤ 2 s)")
        assert s["written"] == s["sent"], "every sent change must be committed exactly once"

    from django.db import connection

    with connection.cursor() as cur:
        cur.execute("TRUNCATE historian_sample")
    w_rate = writer_throughput(ids, args.writer_rows)
    per_sample, rows = bytes_per_sample()
    with connection.cursor() as cur:
        cur.execute("TRUNCATE historian_sample")
    create_rate, bulk_rate = baselines(ids, args.baseline_rows)
    print("\n2./3. rows/s into historian_sample (same partitioned table, same unique index)")
    print(f"   {'writer (COPY, buffer → PostgreSQL)':<40} {w_rate:>12,.0f} rows/s")
    print(f"   {'ORM create() loop (baseline)':<40} {create_rate:>12,.0f} rows/s   "
          f"writer is {w_rate / create_rate:,.1f}×  (target ≥ 25×)")
    print(f"   {'ORM bulk_create(5000) (baseline)':<40} {bulk_rate:>12,.0f} rows/s   "
          f"writer is {w_rate / bulk_rate:,.1f}×  (target ≥ 3×)")
    print(f"\n4. storage of hot (uncompacted) partitions: {per_sample:.1f} bytes per sample (table + unique index, "
          f"{rows:,} rows); compacted partitions: see bench_historian_query.py")


if __name__ == "__main__":
    main()
