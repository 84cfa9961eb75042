"""Benchmark: building the electronic batch record (GET /api/batches/{id}'s JSON) of a long batch.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/kiln REDIS_URL=redis://127.0.0.1:6379/14 \\
        .venv/bin/python bench/bench_ebr.py [--hours 8] [--tags 10] [--repeat 30]

It creates its own throw-away database next to DATABASE_URL's (bench_ebr_<name>, dropped at the end). The batch
(issue 13): 8 hours, 10 recorded tags at 1-second data (288,000 samples, rollups refreshed as the beat would),
200 audit records of tag writes on its machine and 50 alarm journal rows, 3 phases, comments and deviations.

Kiln: batches.selectors.batch_ebr (a fixed number of queries; recorded tags summarised by the historian in one
statement per aggregate, from its rollups). Naive: the same document assembled the textbook ORM way, one query
per related row (each phase's recipe phase, each tag's audit records and alarms) and each recorded tag's raw
samples loaded and reduced in Python. Both are printed side by side with p50/p95 and the load average.
Target (issue 13): p95 <= 300 ms.
"""

from __future__ import annotations

import argparse
import os
import secrets
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def setup_django():
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "scada.settings")
    os.environ["DEBUG"] = "0"
    os.environ.setdefault("SECRET_KEY", secrets.token_urlsafe(50))
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    os.environ.setdefault("KILN_HISTORIAN_RETENTION_DAYS", "0")
    import django

    django.setup()


def create_bench_db():
    from django.conf import settings
    from django.db import connection

    original = settings.DATABASES["default"]["NAME"]
    settings.DATABASES["default"].setdefault("TEST", {})["NAME"] = f"bench_ebr_{original}"
    name = connection.creation.create_test_db(verbosity=0, autoclobber=True, serialize=False)
    print(f"bench database {name} migrated")
    return original


def make_batch(hours: int, n_tags: int):
    from django.db import connection

    from accounts.audit import AuditEntry, audit_record_many
    from accounts.models import User
    from alarms.models import AlarmEvent
    from batches.models import Batch, BatchComment, BatchDeviation, BatchPhase, Recipe, RecipePhase
    from batches.services import recipe_approve
    from historian.partitions import partition_window, partitions_ensure
    from historian.rollups import rollups_mark_dirty, rollups_refresh
    from tags.models import Machine, Site, Tag

    author = User.objects.create(username="author", role=40)
    approver = User(username="qa", role=30)
    approver.set_password("bench-password-1")
    approver.save()
    site = Site.objects.create(site_id="bench", name="Bench")
    machine = Machine.objects.create(machine_id="reactor-b", site=site)
    tags = Tag.objects.bulk_create([Tag(machine=machine, name=f"Bench_T{i:02d}", datatype="REAL")
                                    for i in range(n_tags)])
    recipe = Recipe.objects.create(name="bench", created_by=author)
    recipe.machines.add(machine)
    recipe.recorded_tags.set(tags)
    phases = [RecipePhase.objects.create(recipe=recipe, position=i, name=f"p{i}", requirement="confirm")
              for i in (1, 2, 3)]
    recipe_approve(recipe=recipe, user=approver, password="bench-password-1", meaning="Approved", reason="bench")
    end = datetime.now(tz=UTC).replace(microsecond=0)
    start = end - timedelta(hours=hours)
    windows = set()
    day = start
    while day <= end + timedelta(days=1):
        windows.add(partition_window(day))
        day += timedelta(hours=6)
    partitions_ensure(windows=sorted(windows))
    with connection.cursor() as cur:
        cur.execute("""INSERT INTO historian_sample (ts, value, tag_id, quality)
                       SELECT ts, 50 + 20 * sin(date_part('epoch', ts) / 600 + t) + random(), t, 0
                       FROM generate_series(%s::timestamptz, %s::timestamptz - interval '1 second',
                                            interval '1 second') ts CROSS JOIN unnest(%s::int[]) t""",
                    [start, end, [t.pk for t in tags]])
    rollups_mark_dirty(ts_from=start, ts_to=end)
    rollups_refresh(budget_seconds=3600, chunk_minutes=360)
    with connection.cursor() as cur:
        cur.execute("ANALYZE")
    batch = Batch.objects.create(recipe=recipe, machine=machine, lot="BENCH", started_by=author, started_at=start,
                                 status="complete")
    BatchPhase.objects.bulk_create([BatchPhase(batch=batch, phase=ph, position=ph.position, status="done",
                                               started_at=start, completed_at=end, completed_by=author)
                                    for ph in phases])
    for i in range(5):
        BatchComment.objects.create(batch=batch, author=author, author_name="Author", text=f"comment {i}")
        BatchDeviation.objects.create(batch=batch, reported_by=author, reported_by_name="Author", description="d")
    audit_record_many(entries=[AuditEntry(action="tag.write", user=author, object_type="tag",
                                          object_id=tags[i % n_tags].name, new_value={"value": i})
                               for i in range(200)])
    AlarmEvent.objects.bulk_create([
        AlarmEvent(ts=start + timedelta(seconds=i * hours * 72), event="activate", state_before="normal",
                   state_after="active_unacked", active=True, acked=False, key=f"a{i % 5}",
                   tag_name=tags[i % n_tags].name, machine_id="reactor-b", priority="high") for i in range(50)])
    Batch.objects.filter(pk=batch.pk).update(completed_at=datetime.now(tz=UTC))
    return batch.pk


def naive_ebr(pk: int) -> dict:
    """The textbook assembly: lazy relations, a query per row, raw samples reduced in Python."""
    from accounts.models import AuditRecord, Signature
    from alarms.models import AlarmEvent
    from batches.models import Batch
    from historian.models import HistorianSample

    batch = Batch.objects.get(pk=pk)
    out = {"id": batch.pk, "lot": batch.lot, "recipe": batch.recipe.name, "machine": batch.machine.machine_id,
           "started_by": batch.started_by.username, "phases": [], "parameters": [], "comments": [],
           "deviations": [], "tag_writes": [], "alarms": [], "recorded_tags": []}
    for run in batch.phases.all():
        out["phases"].append({"position": run.position, "name": run.phase.name, "status": run.status,
                              "by": run.completed_by.username if run.completed_by else None})
    for p in batch.parameters.all():
        out["parameters"].append({"name": p.name, "unit": p.parameter.unit, "value": p.value})
    for c in batch.comments.all():
        out["comments"].append({"by": c.author.username, "text": c.text})
    for d in batch.deviations.all():
        out["deviations"].append({"by": d.reported_by.username, "text": d.description})
    end = batch.completed_at
    for tag in batch.machine.tags.all():
        for r in AuditRecord.objects.filter(object_type="tag", object_id=tag.name, ts__gte=batch.started_at,
                                            ts__lte=end):
            out["tag_writes"].append({"ts": r.ts.isoformat(), "tag": tag.name, "value": r.new_value})
        for e in AlarmEvent.objects.filter(tag_name=tag.name, ts__gte=batch.started_at, ts__lte=end):
            out["alarms"].append({"ts": e.ts.isoformat(), "key": e.key, "event": e.event})
    for tag in batch.recipe.recorded_tags.all():
        samples = list(HistorianSample.objects.filter(tag_id=tag.pk, ts__gte=batch.started_at, ts__lt=end)
                       .order_by("ts").values_list("ts", "value"))
        values = [v for _, v in samples if v is not None]
        area = sum(v * (samples[i + 1][0] - t).total_seconds() for i, (t, v) in enumerate(samples[:-1])
                   if v is not None)
        span = (samples[-1][0] - samples[0][0]).total_seconds() if len(samples) > 1 else 0
        out["recorded_tags"].append({"tag": tag.name, "min": min(values, default=None),
                                     "max": max(values, default=None), "average": area / span if span else None})
    out["signatures"] = [s.printed_name for s in Signature.objects.filter(object_type="batch", object_id=str(pk))]
    return out


def timed(fn, repeat: int) -> tuple[float, float]:
    fn()
    samples = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - t0) * 1000)
    samples.sort()
    return statistics.median(samples), samples[min(len(samples) - 1, round(0.95 * (len(samples) - 1)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--hours", type=int, default=8)
    parser.add_argument("--tags", type=int, default=10)
    parser.add_argument("--repeat", type=int, default=30)
    args = parser.parse_args()
    setup_django()
    from django.db import connection

    from batches.selectors import batch_ebr, batch_get

    original = create_bench_db()
    try:
        t0 = time.perf_counter()
        pk = make_batch(args.hours, args.tags)
        print(f"batch of {args.hours} h × {args.tags} tags at 1 s made in {time.perf_counter() - t0:.0f} s")
        ebr = batch_ebr(batch_get(pk=pk))
        assert len(ebr["evidence"]["tag_writes"]) == 200 and len(ebr["evidence"]["alarms"]) == 50
        assert all(row["average"] is not None for row in ebr["evidence"]["recorded_tags"])
        kiln = timed(lambda: batch_ebr(batch_get(pk=pk)), args.repeat)
        naive = timed(lambda: naive_ebr(pk), max(3, args.repeat // 10))
        print(f"load average: {open('/proc/loadavg').read().split()[:3]}")
        print(f"EBR build, Kiln : p50 {kiln[0]:7.1f} ms  p95 {kiln[1]:7.1f} ms  (target p95 <= 300 ms)")
        print(f"EBR build, naive: p50 {naive[0]:7.1f} ms  p95 {naive[1]:7.1f} ms")
        print(f"Kiln is {naive[0] / kiln[0]:.0f}x faster at p50")
    finally:
        connection.creation.destroy_test_db(original, verbosity=0)


if __name__ == "__main__":
    main()
