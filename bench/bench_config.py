"""Benchmark: configuration bundle export, diff (dry run) and import of a large plant, beside a naive per-row ORM.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/bench_config REDIS_URL=redis://127.0.0.1:6379/14 \\
        .venv/bin/python bench/bench_config.py [--tags 20000] [--alarms 5000] [--naive-tags 2000]

DATABASE_URL must name a throw-away database (it is migrated and emptied). Kiln: N tags, each bound to a Modbus
register, A alarm definitions; export (deploy.bundle.bundle_export), diff of a bundle with 1 % of tags changed
(deploy.bundle.bundle_plan), import into an empty configuration (deploy.services.config_import). Naive: the same
three done row by row with the ORM (related rows fetched per row, full_clean and save() per row), on
--naive-tags tags (it is two orders of magnitude slower), scaled linearly to N. Targets (issue 15): export and
import <= 10 s each, diff <= 3 s at 20,000 tags + 5,000 alarms. Print the load average beside the figures.

--compare GIT_REF also measures an earlier commit first (checked out in a temporary git worktree, on a fresh
database of its own, DATABASE_URL's name + "_before"; this script run with --code on that tree, so both sides are
measured the same way) and prints its Kiln figures beside these: before and after in one run. Besides wall-clock
seconds it prints CPU seconds (this process plus its PostgreSQL backend, read from /proc when the server is on
this machine): on a machine shared with other work the wall clock of two runs minutes apart differs with the
load, the CPU an import costs much less. Give DATABASE_URL a fresh database too: the audit trail is append-only,
and an import into a trail of 500,000 records (ten earlier runs) takes twice as long as into an empty one.
"""

import argparse
import copy
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

# --code DIR: measure the Kiln checked out in DIR (--compare's earlier commit) with this script.
_CODE = sys.argv[sys.argv.index("--code") + 1] if "--code" in sys.argv else str(Path(__file__).resolve().parents[1])
sys.path.insert(0, _CODE)
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "scada.settings")
os.environ.setdefault("DEBUG", "1")

import django  # noqa: E402

django.setup()

from django.core.management import call_command  # noqa: E402


def _plant(tags: int, alarms: int):
    from alarms.models import AlarmDefinition
    from drivers.models import Connection, TagBinding
    from tags.models import Machine, Tag

    machine = Machine.objects.create(machine_id="bench-m1")
    conn = Connection.objects.create(name="bench-plc", host="127.0.0.1")
    Tag.objects.bulk_create([Tag(machine=machine, name=f"T{i:06d}", datatype="REAL", min_value=0, max_value=100,
                                 description=f"bench tag {i}", unit="C") for i in range(tags)], batch_size=5000)
    ids = list(Tag.objects.order_by("name").values_list("id", flat=True))
    TagBinding.objects.bulk_create([TagBinding(tag_id=t, connection=conn, table="holding", address=i * 2 % 65000,
                                               data_type="float32") for i, t in enumerate(ids)], batch_size=5000)
    AlarmDefinition.objects.bulk_create([AlarmDefinition(key=f"a{i:06d}", name=f"Alarm {i}", tag_id=ids[i],
                                                         kind="HI", setpoint=90) for i in range(alarms)],
                                        batch_size=5000)


def _clear():
    from alarms.models import Alarm, AlarmDefinition
    from drivers.models import Connection, TagBinding
    from tags.models import Machine, Tag

    for model in (Alarm, AlarmDefinition, TagBinding, Connection, Tag, Machine):
        model.objects.all().delete()


def _backend_cpu() -> float | None:
    """CPU seconds the PostgreSQL backend of this connection has used (None when it is not on this machine)."""
    from django.db import connection

    with connection.cursor() as cur:
        cur.execute("SELECT pg_backend_pid()")
        pid = cur.fetchone()[0]
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime


CPU: dict[str, float] = {}


def _timed(fn, label: str = ""):
    backend = _backend_cpu()
    c0, t0 = time.process_time(), time.perf_counter()
    result = fn()
    wall = time.perf_counter() - t0
    after = _backend_cpu()
    if label and backend is not None and after is not None:
        CPU[label] = time.process_time() - c0 + after - backend
    return wall, result


def _naive_export():
    from alarms.models import AlarmDefinition
    from tags.models import Tag

    out = []
    for tag in Tag.objects.all():  # the machine and binding fetched per row
        binding = getattr(tag, "binding", None)
        out.append({"name": tag.name, "machine": tag.machine.machine_id, "desc": tag.description,
                    "conn": binding.connection.name if binding else None})
    for a in AlarmDefinition.objects.all():
        out.append({"key": a.key, "tag": a.tag.name if a.tag_id else None})
    return out


def _naive_diff(rows):
    from tags.models import Tag

    changed = 0
    for row in rows:
        if "name" in row:
            tag = Tag.objects.get(name=row["name"])  # one query per row
            changed += tag.description != row["desc"]
    return changed


def _naive_import(tags: int, alarms: int):
    from alarms.models import AlarmDefinition
    from drivers.models import Connection, TagBinding
    from tags.models import Machine, Tag

    machine = Machine(machine_id="bench-m1")
    machine.full_clean()
    machine.save()
    conn = Connection(name="bench-plc", host="127.0.0.1")
    conn.full_clean()
    conn.save()
    for i in range(tags):
        tag = Tag(machine=machine, name=f"T{i:06d}", datatype="REAL", min_value=0, max_value=100, unit="C",
                  description=f"bench tag {i}")
        tag.full_clean()
        tag.save()
        binding = TagBinding(tag=tag, connection=conn, table="holding", address=i * 2 % 65000, data_type="float32")
        binding.full_clean()
        binding.save()
        if i < alarms:
            alarm = AlarmDefinition(key=f"a{i:06d}", name=f"Alarm {i}", tag=tag, kind="HI", setpoint=90)
            alarm.full_clean()
            alarm.save()


def _before(ref: str, args) -> dict[str, float]:
    """The Kiln figures of `ref`'s own bench_config.py, run from a temporary worktree of this repository."""
    import psycopg
    from django.db import connection

    repo = Path(__file__).resolve().parents[1]
    db = connection.settings_dict
    name = f"{db['NAME']}_before"
    admin = f"host={db['HOST'] or '127.0.0.1'} port={db['PORT'] or 5432} user={db['USER']} dbname=postgres"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    env = {**os.environ, "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}"
                                         f"/{name}"}
    with tempfile.TemporaryDirectory() as tmp:
        tree = Path(tmp) / "before"
        subprocess.run(["git", "-C", str(repo), "worktree", "add", "--detach", str(tree), ref], check=True,
                       capture_output=True)
        try:
            out = subprocess.run([sys.executable, __file__, "--code", str(tree), "--tags", str(args.tags),
                                  "--alarms", str(args.alarms), "--naive-tags", "50"],
                                 cwd=tree, env=env, capture_output=True, text=True, check=True).stdout
        finally:
            subprocess.run(["git", "-C", str(repo), "worktree", "remove", "--force", str(tree)], check=False,
                           capture_output=True)
            with psycopg.connect(admin, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    load = re.search(r"load average (.*)$", out, re.M)
    print(f"{ref}: measured first, load average {load[1] if load else '?'}")
    return {m[1]: float(m[2]) for m in re.finditer(r"^figure (\S+) ([\d.]+)$", out, re.M)}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--tags", type=int, default=20000)
    parser.add_argument("--alarms", type=int, default=5000)
    parser.add_argument("--naive-tags", type=int, default=2000)
    parser.add_argument("--compare", metavar="GIT_REF", help="also run this commit's bench first, side by side")
    parser.add_argument("--code", metavar="DIR", help="measure the Kiln in DIR (what --compare uses)")
    args = parser.parse_args()
    before = _before(args.compare, args) if args.compare else {}
    call_command("migrate", verbosity=0)
    from deploy.bundle import bundle_export, bundle_plan
    from deploy.services import config_import

    _clear()
    _plant(args.tags, args.alarms)
    t_export, bundle = _timed(bundle_export, "export")
    edited = copy.deepcopy(bundle)
    for item in edited["sections"]["tags"][:: 100]:
        item["description"] += " (edited)"
    t_diff, plan = _timed(lambda: bundle_plan(edited), "diff")
    _clear()
    t_import, result = _timed(lambda: config_import(bundle=bundle, user=None), "import")
    assert result["applied"] and plan.count == len(edited["sections"]["tags"][:: 100])

    n, na = args.naive_tags, min(args.alarms, args.naive_tags * args.alarms // max(args.tags, 1))
    _clear()
    tn_import, _ = _timed(lambda: _naive_import(n, na))
    tn_export, rows = _timed(_naive_export)
    tn_diff, _ = _timed(lambda: _naive_diff(rows))
    scale = args.tags / n
    load = open("/proc/loadavg").read().split()[:3]
    print(f"plant: {args.tags} tags with bindings, {args.alarms} alarm definitions; load average {' '.join(load)}")
    then = f"Kiln at {args.compare}" if args.compare else ""
    print(f"{'':8}{'Kiln':>10}{then:>22}{'naive (scaled from ' + str(n) + ' tags)':>34}")
    for label, kiln, naive in (("export", t_export, tn_export), ("diff", t_diff, tn_diff),
                               ("import", t_import, tn_import)):
        old = f"{before[label]:.2f}s" if label in before else ""
        print(f"{label:8}{kiln:9.2f}s{old:>22}{naive * scale:33.1f}s")
        if args.code:
            print(f"figure {label} {kiln:.3f}")  # read by --compare
    for label, cpu in CPU.items():
        old = f"{before[label + '_cpu']:.2f}s" if label + "_cpu" in before else ""
        print(f"{label + ' cpu':12}{cpu:5.2f}s{old:>22}   (CPU: this process + its PostgreSQL backend)")
        if args.code:
            print(f"figure {label}_cpu {cpu:.3f}")
    walls = {"export": t_export, "diff": t_diff, "import": t_import}
    for name, now in [*walls.items(), *((f"{k}_cpu", v) for k, v in CPU.items())]:
        if before.get(name) and now:
            print(f"{name}: {before[name] / now:.2f}x faster than at {args.compare}")
    _clear()


if __name__ == "__main__":
    main()
