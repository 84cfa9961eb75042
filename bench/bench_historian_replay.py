"""Benchmark: replaying the historian buffer after a long database outage, with the 2 h compaction age (issue 19).

    .venv/bin/python bench/bench_historian_replay.py [--hours 6] [--tags 50] [--before-hours 4]

Database from BENCH_DATABASE_URL, else kiln_hist_storage_bench (its history is rebuilt); Redis from REDIS_URL,
else db 6 (its historian keys are cleared). The plant: `--tags` tags at 1 Hz. History up to the outage is in the
database, compacted into chunks where older than the age; then the database is away for `--hours` while the
buffer (Redis) keeps every poll cycle; then it is back and the writer replays the buffer. Side by side, each on
the same fresh history:

- Kiln (KILN_HISTORIAN_COMPACT_AFTER_HOURS=2): samples older than half the age take the writer's slow path
  (staging COPY + INSERT ... ON CONFLICT DO NOTHING, checked against rows and chunks), newer ones its COPY;
- today's layout without the compaction age (=0: every sample by COPY into rows, nothing ever compacted);
- replay safety: the same buffer replayed a second time (a checkpoint lost with Redis' AOF, say) writes nothing
  and doubles nothing, at the rate shown;
- then one compaction run over what was replayed (closed partitions whole, today's window by window).

Rates are samples per second of wall time and per CPU-second (this process plus its PostgreSQL backend). The
load average is printed: the machine may be shared.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))

from bench_historian_ingest import ensure_database  # noqa: E402
from bench_historian_storage import backend_cpu_seconds, configure_env, fresh_history, loadavg, sql  # noqa: E402
from historian_storage_checks import clear_buffer  # noqa: E402

MACHINE = "bench-replay"


def fill_buffer(ids: list[int], start: float, seconds: int) -> int:
    """One buffer entry per poll cycle (a second): every tag's value at that second."""
    from historian.buffer import buffer_append_rows

    n = len(ids)
    for s in range(seconds):
        ts = start + s
        buffer_append_rows([ts] * n, ids, [50.0 + (s % 600) / 10 + i for i in range(n)], [0] * n)
    return seconds * n


def history_before(ids: list[int], start: datetime, end: datetime) -> None:
    sql("""INSERT INTO historian_sample (ts, value, tag_id, quality)
           SELECT ts, 50 + 10 * sin(date_part('epoch', ts) / 600 + t), t, 0
           FROM generate_series(%s::timestamptz, %s::timestamptz - interval '1 second', interval '1 second') ts
           CROSS JOIN unnest(%s::int[]) t""", [start, end, ids])


def timed_writer() -> dict:
    from historian import writer
    from historian.writer import historian_writer_run

    writer._coverage.loaded_at = 0.0  # the partitions were just rebuilt: read the catalog again
    cpu0, py0, t0 = backend_cpu_seconds(), time.process_time(), time.perf_counter()
    run = historian_writer_run(budget_seconds=3600, keep_results=True)
    wall, py = time.perf_counter() - t0, time.process_time() - py0
    # The writer uses the same Django connection (the same backend) as backend_cpu_seconds.
    cpu = backend_cpu_seconds() - cpu0 + py
    assert not run.error, run.error
    return {"samples": run.samples, "written": run.written, "wall": wall, "cpu": cpu,
            "slow": sum(1 for r in run.results if r.slow_path), "flushes": run.flushes}


def scenario(ids, args, age_hours: int, now: datetime) -> dict:
    from django.conf import settings

    from historian.compaction import historian_compact
    from historian.partitions import partition_window

    settings.KILN_HISTORIAN_COMPACT_AFTER_HOURS = age_hours
    outage = now - timedelta(hours=args.hours)
    first = outage - timedelta(hours=args.before_hours)
    windows = {partition_window(first + timedelta(hours=h)) for h in range(args.before_hours + args.hours + 2)}
    fresh_history(windows)
    clear_buffer()
    history_before(ids, first, outage)
    if age_hours:
        historian_compact(now=outage, budget_seconds=3600)  # what compaction did while the database was up
    sql("VACUUM ANALYZE historian_sample")
    n = fill_buffer(ids, outage.timestamp(), args.hours * 3600)
    from historian.buffer import buffer_status

    assert buffer_status()["buffered_samples"] == n, buffer_status()
    out = {"buffered": n, "replay": timed_writer()}
    assert out["replay"]["written"] == n, (out["replay"], n)
    n2 = fill_buffer(ids, outage.timestamp(), args.hours * 3600)  # the same entries once more
    out["again"] = timed_writer()
    assert out["again"]["samples"] == n2 and out["again"]["written"] == 0, out["again"]
    (total,), = sql("SELECT (SELECT count(*) FROM historian_sample) + "
                    "(SELECT coalesce(sum(n), 0) FROM historian_chunk)", fetch=True)
    out["total"] = total
    if age_hours:
        cpu0, py0, t0 = backend_cpu_seconds(), time.process_time(), time.perf_counter()
        run = historian_compact(now=now, budget_seconds=3600)
        out["compact"] = {"values": run.values, "wall": time.perf_counter() - t0,
                          "cpu": backend_cpu_seconds() - cpu0 + time.process_time() - py0,
                          "truncated": len(run.truncated)}
    return out


def rate(n: int, seconds: float) -> str:
    return f"{n / max(seconds, 1e-9) / 1000:7.1f} k/s"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--hours", type=int, default=6)
    parser.add_argument("--tags", type=int, default=50)
    parser.add_argument("--before-hours", type=int, default=4)
    args = parser.parse_args()
    configure_env()
    os.environ.setdefault("KILN_HISTORIAN_BUFFER_QUOTA", "100000000")
    ensure_database(os.environ["DATABASE_URL"])
    import django

    django.setup()
    from django.core.management import call_command

    from tags.models import Machine, Tag

    call_command("migrate", verbosity=0, interactive=False)
    machine, _ = Machine.objects.get_or_create(machine_id=MACHINE)
    have = set(Tag.objects.filter(machine=machine).values_list("name", flat=True))
    Tag.objects.bulk_create([Tag(machine=machine, name=f"{MACHINE}.T{i:04d}", datatype="REAL")
                             for i in range(args.tags) if f"{MACHINE}.T{i:04d}" not in have])
    ids = list(Tag.objects.filter(machine=machine).order_by("name").values_list("id", flat=True)[:args.tags])
    now = datetime.now(tz=UTC).replace(second=0, microsecond=0)
    print(f"load average at start {loadavg()}; {args.tags} tags at 1 Hz, {args.before_hours} h of history, then a "
          f"{args.hours} h outage replayed from the buffer ({args.tags * args.hours * 3600:,} samples)", flush=True)
    results = {}
    for label, age in (("Kiln, compaction age 2 h", 2), ("rows only (compaction age 0)", 0)):
        results[label] = r = scenario(ids, args, age, now)
        rep, again = r["replay"], r["again"]
        print(f"\n{label}: load average {loadavg()}")
        print(f"   replay   {rep['written']:,} samples in {rep['flushes']} flushes ({rep['slow']} by the slow path): "
              f"{rep['wall']:.1f} s wall {rate(rep['written'], rep['wall'])}, {rep['cpu']:.1f} CPU-s "
              f"{rate(rep['written'], rep['cpu'])} per CPU-s")
        print(f"   again    {again['samples']:,} samples replayed twice, 0 written, {again['wall']:.1f} s wall "
              f"{rate(again['samples'], again['wall'])}, {again['cpu']:.1f} CPU-s "
              f"{rate(again['samples'], again['cpu'])} per CPU-s; stored in all {r['total']:,} (none doubled)")
        if "compact" in r:
            c = r["compact"]
            print(f"   then compaction: {c['values']:,} values ({c['truncated']} partitions truncated whole), "
                  f"{c['wall']:.1f} s wall, {c['cpu']:.1f} CPU-s ({c['values'] / max(c['cpu'], 1e-9) / 1e6:.2f} M "
                  "values per CPU-s)")
    print(f"\nload average at end {loadavg()}")


if __name__ == "__main__":
    main()
