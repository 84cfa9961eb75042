"""The whole plant on one box (issue 18 §1): Kiln's production processes under a rising value-change rate.

    .venv/bin/python bench/bench_plant.py                      # ramp: 4 steps of 40 s (~5 min with set-up)
    .venv/bin/python bench/bench_plant.py --short              # 2 minutes: two small steps (the make-test size)
    .venv/bin/python bench/bench_plant.py --soak-minutes 60 --soak-rate 1000   # soak at one rate

What runs (each its own process, as in production):
- Kiln: the Procfile's `web` (daphne), `worker` (default queue: historian writer, rollups, alarm timers), `drivers`
  (poll loops) and `beat`, with DEBUG=0, on PostgreSQL `kiln_plant_bench` (dropped and created afresh) and Redis
  db 12 (flushed). Only --concurrency of `drivers` is raised to the number of PLCs when there are more than 3.
- --plcs simulated PLCs (bench/plant_load.plc_process), each a pymodbus server in its own process with
  --registers counters changing at random at the step's rate and --tracked counters stepping every 0.5 s.
- The configuration (tags, connections, bindings at 100 ms, alarm definitions) is imported through
  deploy.services.config_import, the service behind `manage.py config_import` and POST /api/config/import.
- One load process: --ws-clients WebSocket clients (each subscribed to --ws-tags bulk tags), --rest-rate tag
  reads/s and --history-rate history queries/s (half 1-minute averages over the last hour, half raw 10 minutes).

Per step (figures over the step's --step-seconds after a settle time), printed with the load average:
  changes/s made by the PLCs, recorded/s (history rows whose time falls in the step), committed/s (the writer's
  counter), historian lag p99 (age of the oldest buffered sample, sampled every 0.25 s), tracked unseen (tracked
  values, each held 5 poll periods, never polled: poll starvation), lost (recorded but dropped by the buffer or
  the outbox), doubled (tracked values stored twice), poll overruns, poll and recording p99 and the worst
  connection's start-jitter p99, WebSocket push p99 (receive − poll time), REST and history p99, new PostgreSQL
  sessions/s, raw sample rows read/s and 1-minute rollup rows written/s (pg_stat_user_tables), CPU % and RSS per
  process (PostgreSQL: the bench database's backends, sampled: a lower bound).
The knee: the highest rate with 0 unseen, 0 lost, 0 doubled, lag p99 ≤ 2 s, push p99 ≤ 100 ms, REST p99 ≤ 100 ms
and no poll overrun. Then (--naive-seconds) the naive baseline on the same PLCs at the top rate, Kiln stopped.
--compare RATE first runs one step with the Celery processes configured as before issue 18 and one as now.
Exit status 1 when anything was lost or doubled, or a client saw errors.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

from plant_load import load_process, loadavg, naive_process, pid_cpu_rss, plc_process, tree_cpu_rss  # noqa: E402

DB_NAME = "kiln_plant_bench"
PROCESSES = ("web", "worker", "drivers", "beat")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def p99(values) -> float | None:
    if not values:
        return None
    v = sorted(values)
    return v[min(len(v) - 1, int(0.99 * len(v)))]


def environment(port: int, state_dir: str) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("KILN_", "DJANGO_"))}
    env.update(
        DATABASE_URL=os.environ.get("BENCH_DATABASE_URL", f"postgres://postgres@127.0.0.1:5432/{DB_NAME}"),
        REDIS_URL=os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/12"),
        DEBUG="0", SECRET_KEY=secrets.token_urlsafe(50), JWT_SIGNING_KEY=secrets.token_urlsafe(50),
        KILN_AUDIT_KEY=secrets.token_urlsafe(50), ALLOWED_HOSTS="127.0.0.1,localhost", TRUSTED_PROXIES="127.0.0.1",
        SECURE_SSL_REDIRECT="0",  # no TLS proxy in front here
        KILN_RATE_LIMIT_ENABLED="0",  # one bench user makes every request; a plant's clients are many
        KILN_PORT=str(port), KILN_BIND="127.0.0.1", KILN_STATE_DIR=state_dir, DJANGO_SETTINGS_MODULE="scada.settings",
        PYTHONPATH=str(ROOT), LOG_LEVEL="WARNING",
    )
    env.pop("CELERY_BROKER_URL", None)
    return env


def fresh_database(url: str) -> None:
    import dj_database_url
    import psycopg

    cfg = dj_database_url.parse(url)
    with psycopg.connect(host=cfg["HOST"] or "127.0.0.1", port=cfg["PORT"] or 5432, user=cfg["USER"],
                         password=cfg.get("PASSWORD") or None, dbname="postgres", autocommit=True) as conn:
        conn.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s", [cfg["NAME"]])
        conn.execute(f'DROP DATABASE IF EXISTS "{cfg["NAME"]}"')
        conn.execute(f'CREATE DATABASE "{cfg["NAME"]}"')


def build_plant(args, ports: list[int]) -> dict:
    """Tags, connections, bindings and alarms, imported as one configuration bundle; a token for the clients."""
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0, interactive=False)
    from django.db import transaction

    from accounts.models import User
    from accounts.tokens import issue_token_pair
    from alarms.models import AlarmDefinition
    from deploy.bundle import bundle_export
    from deploy.services import config_import
    from drivers.models import Connection, TagBinding
    from scada.roles import Role
    from tags.models import Machine, Site, Tag

    # The bundle is written by making the plant with the ORM in a transaction that is rolled back, then exported:
    # what an engineer's exported configuration would hold. Only the import below is kept.
    class Rollback(Exception):
        pass

    bundle = None
    try:
        with transaction.atomic():
            site = Site.objects.create(site_id="bench", name="Bench plant")
            for p, port in enumerate(ports):
                machine = Machine.objects.create(machine_id=f"plc{p}", name=f"PLC {p}", site=site)
                conn = Connection.objects.create(name=f"bench-plc-{p}", host="127.0.0.1", port=port, timeout=1.0)
                tags = Tag.objects.bulk_create(
                    [Tag(machine=machine, name=f"P{p}_R{i:04d}", datatype="INT") for i in range(args.registers)]
                    + [Tag(machine=machine, name=f"P{p}_T{i:02d}", datatype="INT") for i in range(args.tracked)])
                TagBinding.objects.bulk_create([TagBinding(tag=t, connection=conn, table="holding", address=i,
                                                           data_type="uint16", scan_period=100)
                                                for i, t in enumerate(tags)])
            bulk = list(Tag.objects.filter(name__contains="_R").order_by("pk"))
            AlarmDefinition.objects.bulk_create([
                AlarmDefinition(key=f"hi{i:05d}", name=f"Counter high {i}", tag=t, kind="HI",
                                setpoint=5 + (i * 7) % 200, deadband=0)
                for i, t in enumerate(bulk[:args.alarms])])
            bundle = bundle_export()
            raise Rollback
    except Rollback:
        pass
    t0 = time.perf_counter()
    result = config_import(bundle=bundle, user=None, reason="bench_plant")
    assert result["applied"], result
    print(f"configuration imported in {time.perf_counter() - t0:.1f} s: {result['detail']}", flush=True)
    user = User.objects.create(username="bench-plant", role=Role.ENGINEER)
    token = issue_token_pair(user)["token"]
    names = list(Tag.objects.filter(name__contains="_R").order_by("name").values_list("name", flat=True))
    tracked = {t.name: t.pk for t in Tag.objects.filter(name__contains="_T")}
    from django.db import connection

    connection.close()
    return {"token": token, "bulk_names": names, "tracked": tracked}


def start_kiln(env: dict, plcs: int, log_dir: Path, only=PROCESSES) -> dict[str, subprocess.Popen]:
    from procrun import parse_procfile

    procs = {}
    for name, command in parse_procfile(str(ROOT / "Procfile")):
        if name not in only:
            continue
        if name == "drivers" and plcs > 3:
            command = command.replace("--concurrency 3", f"--concurrency {plcs}")
        log = open(log_dir / f"{name}.log", "wb")  # noqa: SIM115 - open for the process's life
        procs[name] = subprocess.Popen(["/bin/bash", "-c", "exec " + command], cwd=ROOT, env=env, stdout=log,
                                       stderr=subprocess.STDOUT, start_new_session=True)
    return procs


def stop_all(procs: dict[str, subprocess.Popen]) -> None:
    for proc in procs.values():
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
    deadline = time.time() + 20
    for proc in procs.values():
        try:
            proc.wait(max(0.1, deadline - time.time()))
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)


def wait_until(predicate, timeout: float, what: str, procs=None):
    end = time.time() + timeout
    while time.time() < end:
        value = predicate()
        if value:
            return value
        for name, proc in (procs or {}).items():
            if proc.poll() is not None:
                raise SystemExit(f"{name} exited while waiting for {what}")
        time.sleep(0.2)
    raise SystemExit(f"timed out waiting for {what}")


class Probe:
    """What the bench reads from Kiln's own stores: Redis (stats, buffer) and PostgreSQL (rows, sessions)."""

    def __init__(self):
        import orjson
        from django.db import connection

        from drivers.models import Connection
        from drivers.runtime import stats_key
        from historian.constants import BUFFER_STREAM, WRITER_STATS
        from scada.redis import get_redis

        self.r, self.orjson, self.connection = get_redis(), orjson, connection
        self.stream, self.writer_stats = BUFFER_STREAM, WRITER_STATS
        self.stats_keys = [stats_key(pk) for pk in Connection.objects.values_list("pk", flat=True)]
        self.pg_cpu: dict[int, float] = {}
        self.pg_total = 0.0

    def oldest_age(self) -> float:
        first = self.r.xrange(self.stream, count=1)
        return max(0.0, time.time() - int(first[0][0].split(b"-")[0]) / 1000) if first else 0.0

    def drivers(self) -> dict:
        rows = [self.orjson.loads(self.r.hget(k, "json") or b"{}") for k in self.stats_keys]
        return {"cycles": sum(s.get("cycles", 0) for s in rows), "overruns": sum(s.get("overruns", 0) for s in rows),
                "jitter_p99": max((s.get("jitter_ms_p99") or 0 for s in rows), default=0),
                "poll_p99": max((s.get("poll_ms_p99") or 0 for s in rows), default=0),
                "record_p99": max((s.get("record_ms_p99") or 0 for s in rows), default=0),
                "polled": sum(1 for s in rows if s.get("state") == "connected"),
                "outbox_dropped": sum(s.get("outbox_dropped", 0) or 0 for s in rows)}

    def table_stats(self) -> tuple[int, int]:
        """(raw sample rows read, 1-minute rollup rows written) so far, from PostgreSQL's statistics."""
        rows = self.sql("SELECT relname LIKE 'historian_sample%%', sum(coalesce(seq_tup_read, 0) "
                        "+ coalesce(idx_tup_fetch, 0)), sum(n_tup_ins + n_tup_upd) FROM pg_stat_user_tables "
                        "WHERE relname LIKE 'historian_sample%%' OR relname LIKE 'historian_rollup_1m%%' GROUP BY 1")
        by = {raw: (read, written) for raw, read, written in rows}
        return int(by.get(True, (0, 0))[0] or 0), int(by.get(False, (0, 0))[1] or 0)

    def committed(self) -> int:
        return int(self.r.hget(self.writer_stats, "committed_total") or 0)

    def dropped(self) -> int:
        from historian.constants import BUFFER_DROPPED_TOTAL

        return int(self.r.get(BUFFER_DROPPED_TOTAL) or 0)

    def sql(self, query: str, params=None):
        with self.connection.cursor() as cur:
            cur.execute(query, params or [])
            return cur.fetchall()

    def sessions(self) -> int:
        return self.sql("SELECT sessions FROM pg_stat_database WHERE datname = current_database()")[0][0]

    def sample_pg_cpu(self) -> None:
        """Add the CPU the bench database's backends used since the last sample (a backend's first sample is its
        baseline, so a session shorter than the sampling interval is not counted: a lower bound)."""
        for (pid,) in self.sql("SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
                               "AND pid <> pg_backend_pid()"):
            cpu, _ = pid_cpu_rss(pid)
            if pid in self.pg_cpu:
                self.pg_total += max(0.0, cpu - self.pg_cpu[pid])
            self.pg_cpu[pid] = cpu
        self.connection.close()


def count_rows(probe: Probe, t0: float, t1: float) -> int:
    return probe.sql("SELECT count(*) FROM historian_sample WHERE ts >= to_timestamp(%s) AND ts < to_timestamp(%s)",
                     [t0, t1])[0][0]


def tracked_check(probe: Probe, tracked: dict[str, int], marks0, marks1, tracked_per_plc: int) -> tuple[int, int, int]:
    """(changes made, missing from PostgreSQL, stored more than once) for the tracked counters between two marks."""
    made = missing = doubled = 0
    for p, (m0, m1) in enumerate(zip(marks0, marks1, strict=True)):
        for k in range(tracked_per_plc):
            lo, hi = m0[1][k], m1[1][k]
            made += hi - lo
            rows = probe.sql("SELECT value, count(*) FROM historian_sample WHERE tag_id = %s AND value > %s "
                             "AND value <= %s AND quality = 0 GROUP BY value", [tracked[f"P{p}_T{k:02d}"], lo, hi])
            missing += (hi - lo) - len(rows)
            doubled += sum(c - 1 for _, c in rows)
    probe.connection.close()
    return made, missing, doubled


class Plant:
    def __init__(self, args):
        self.args = args
        self.ctx = mp.get_context("spawn")
        self.plcs, self.kiln, self.load = [], {}, None

    def set_rate(self, rate: float) -> None:
        for pipe, _ in self.plcs:
            pipe.send(("rate", rate / len(self.plcs)))

    def marks(self) -> list:
        for pipe, _ in self.plcs:
            pipe.send(("mark",))
        return [pipe.recv()[1:] for pipe, _ in self.plcs]

    def pids(self) -> dict[str, list[int]]:
        out = {name: [proc.pid] for name, proc in self.kiln.items()}
        out["plcs"] = [proc.pid for _, proc in self.plcs]
        out["clients"] = [self.load[1].pid]
        return out


def cpu_rss(plant: Plant) -> dict[str, tuple[float, int]]:
    out = {}
    for name, pids in plant.pids().items():
        totals = [tree_cpu_rss(pid) for pid in pids]
        out[name] = (sum(c for c, _ in totals), sum(r for _, r in totals))
    return out


def run_step(plant: Plant, probe: Probe, info: dict, rate: float, seconds: float, settle: float) -> dict:
    args = plant.args
    plant.set_rate(rate)
    time.sleep(settle)
    marks0, cpu0, drv0 = plant.marks(), cpu_rss(plant), probe.drivers()
    committed0, dropped0, sessions0, pg0 = probe.committed(), probe.dropped(), probe.sessions(), probe.pg_total
    tables0 = probe.table_stats()
    load_pipe = plant.load[0]
    load_pipe.send("start")
    t0 = time.time()
    ages, stop = [], threading.Event()

    def sampler():
        while not stop.is_set():
            ages.append(probe.oldest_age())
            probe.sample_pg_cpu()
            stop.wait(0.25)

    th = threading.Thread(target=sampler, daemon=True)
    th.start()
    time.sleep(seconds)
    t1 = time.time()
    load_pipe.send("stop")
    marks1, cpu1, drv1, committed1 = plant.marks(), cpu_rss(plant), probe.drivers(), probe.committed()
    stop.set()
    th.join()
    sessions1, load_stats, load_avg, tables1 = probe.sessions(), load_pipe.recv(), loadavg(), probe.table_stats()
    pg_cpu = probe.pg_total - pg0
    # Let the writer commit what was still buffered, then count: rows are checked, not the writer's word. First
    # a moment for the values the PLCs held at the mark to be polled and recorded (a poll period, plus slack).
    time.sleep(1.0)
    wait_until(lambda: probe.oldest_age() == 0.0 or None, 120, "the historian buffer to drain")
    made_bulk = sum(m1[0] - m0[0] for m0, m1 in zip(marks0, marks1, strict=True))
    tracked_made, missing, doubled = tracked_check(probe, info["tracked"], marks0, marks1, args.tracked)
    rows = count_rows(probe, t0, t1)
    probe.connection.close()
    dropped = probe.dropped() - dropped0 + drv1["outbox_dropped"] - drv0["outbox_dropped"]
    span = t1 - t0
    return {
        "rate": rate, "made_per_s": (made_bulk + tracked_made) / span, "recorded_per_s": rows / span,
        "committed_per_s": (committed1 - committed0) / span, "lag_p99": p99(ages) or 0.0,
        # unseen: a tracked value (held 5 poll periods) never polled, so never recorded (poll starvation);
        # lost: recorded but not stored (buffer or outbox drops). Both count against the knee.
        "tracked": tracked_made, "missing": missing, "doubled": doubled, "dropped": dropped, "lost": dropped,
        "cycles": drv1["cycles"] - drv0["cycles"],
        "overruns": drv1["overruns"] - drv0["overruns"], "jitter_p99": drv1["jitter_p99"], "poll_p99": drv1["poll_p99"],
        "record_p99": drv1["record_p99"],
        "raw_read_per_s": (tables1[0] - tables0[0]) / span, "rollup_rows_per_s": (tables1[1] - tables0[1]) / span,
        "push_p99": p99(load_stats["push"]), "pushed": load_stats["updates"], "rest_p99": p99(load_stats["rest"]),
        "history_p99": p99(load_stats["history"]), "client_errors": load_stats["errors"] + load_stats["ws_dead"],
        "error_kinds": load_stats["kinds"] | ({"ws closed": load_stats["ws_dead"]} if load_stats["ws_dead"] else {}),
        "sessions_per_s": (sessions1 - sessions0) / span, "load": load_avg,
        "cpu": {n: 100.0 * (cpu1[n][0] - cpu0[n][0]) / span for n in cpu1} | {"postgres": 100.0 * pg_cpu / span},
        "rss": {n: cpu1[n][1] for n in cpu1},
    }


def ms(v) -> str:
    return "-" if v is None else f"{v * 1000:.0f}"


def print_step(s: dict) -> None:
    print(f"rate {s['rate']:>6.0f}/s  made {s['made_per_s']:>6.0f}/s  recorded {s['recorded_per_s']:>6.0f}/s  "
          f"committed {s['committed_per_s']:>6.0f}/s  lag p99 {s['lag_p99']:.2f} s  "
          f"tracked unseen {s['missing']}/{s['tracked']}  lost {s['lost']}  doubled {s['doubled']}  "
          f"overruns {s['overruns']}/{s['cycles']} cycles  poll p99 {s['poll_p99']:.1f} ms "
          f"(recording p99 {s['record_p99']:.1f} ms)  "
          f"jitter p99 {s['jitter_p99']:.1f} ms  "
          f"push p99 {ms(s['push_p99'])} ms ({s['pushed']} updates)  REST p99 {ms(s['rest_p99'])} ms  "
          f"history p99 {ms(s['history_p99'])} ms  client errors {s['client_errors']} {s['error_kinds'] or ''}  "
          f"new PG sessions {s['sessions_per_s']:.1f}/s  raw rows read {s['raw_read_per_s']:.0f}/s  "
          f"1-min rollup rows written {s['rollup_rows_per_s']:.0f}/s  load {s['load']}", flush=True)
    print("    CPU %: " + "  ".join(f"{n} {v:.0f}" for n, v in s["cpu"].items())
          + "   RSS MB: " + "  ".join(f"{n} {v / 2**20:.0f}" for n, v in s["rss"].items()), flush=True)


def holds(s: dict) -> bool:
    return (s["lost"] == 0 and s["missing"] == 0 and s["doubled"] == 0 and s["lag_p99"] <= 2.0 and s["overruns"] == 0
            and (s["push_p99"] or 0) <= 0.1 and (s["rest_p99"] or 0) <= 0.1)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--plcs", type=int, default=3)
    ap.add_argument("--registers", type=int, default=400, help="bulk registers (tags) per PLC")
    ap.add_argument("--tracked", type=int, default=10, help="tracked counters per PLC (each +1 every 0.5 s)")
    ap.add_argument("--alarms", type=int, default=1000)
    ap.add_argument("--rates", default="1000,2000,4000,8000", help="bulk changes/s, all PLCs together, per step")
    ap.add_argument("--step-seconds", type=float, default=40)
    ap.add_argument("--settle-seconds", type=float, default=5)
    ap.add_argument("--ws-clients", type=int, default=50)
    ap.add_argument("--ws-tags", type=int, default=20)
    ap.add_argument("--rest-rate", type=float, default=20)
    ap.add_argument("--history-rate", type=float, default=2)
    ap.add_argument("--short", action="store_true", help="2 minutes: rates 300,1000 for 25 s each, 20 clients")
    ap.add_argument("--compare", type=float, default=0, metavar="RATE",
                    help="first, at RATE: the workers as before issue 18 (CELERY_DB_REUSE_MAX=0, "
                         "KILN_HISTORIAN_ROLLUP_SETTLE_SECONDS=-1, KILN_DRIVERS_RECORDER=0) and as now, one step "
                         "each, --compare-rounds pairs")
    ap.add_argument("--compare-rounds", type=int, default=1)
    ap.add_argument("--naive-seconds", type=float, default=30,
                    help="last, at the top rate with Kiln stopped: the naive baseline (0: skip)")
    ap.add_argument("--soak-minutes", type=float, default=0, help="after the ramp (or instead, with --rates '')")
    ap.add_argument("--soak-rate", type=float, default=0, help="default: half the knee")
    args = ap.parse_args()
    if args.short:
        args.rates, args.step_seconds, args.settle_seconds, args.ws_clients = "300,1000", 25, 3, 20
    rates = [float(r) for r in args.rates.split(",") if r]

    port, state_dir = free_port(), tempfile.mkdtemp(prefix="kiln-plant-bench-")
    log_dir = Path(state_dir)
    env = environment(port, state_dir)
    os.environ.update({k: v for k, v in env.items() if k not in ("PYTHONPATH",)})
    fresh_database(env["DATABASE_URL"])
    import redis

    redis.Redis.from_url(env["REDIS_URL"]).flushdb()
    print(f"kiln_plant_bench: {args.plcs} PLCs × ({args.registers} + {args.tracked} tracked) registers at 100 ms, "
          f"{args.alarms} alarm definitions, {args.ws_clients} WebSocket clients × {args.ws_tags} tags, "
          f"{args.rest_rate:g} REST/s, {args.history_rate:g} history/s; logs in {log_dir}; load {loadavg()}",
          flush=True)
    plant = Plant(args)
    code = 0
    try:
        for p in range(args.plcs):
            parent, child = plant.ctx.Pipe()
            proc = plant.ctx.Process(target=plc_process, args=(child, free_port(), args.registers, args.tracked,
                                                                  p), daemon=True)
            proc.start()
            plant.plcs.append((parent, proc))
        ports = [pipe.recv()[1] for pipe, _ in plant.plcs]
        info = build_plant(args, ports)
        plant.kiln = start_kiln(env, args.plcs, log_dir)
        base = f"http://127.0.0.1:{port}"
        probe = Probe()
        wait_until(lambda: probe.drivers()["polled"] == args.plcs or None, 180, "every connection polled", plant.kiln)
        import urllib.request

        wait_until(lambda: _answers(urllib.request, f"{base}/api/system/health"), 60, "the web process", plant.kiln)
        names = info["bulk_names"]
        ws = [[names[(c * args.ws_tags + k) % len(names)] for k in range(args.ws_tags)] for c in range(args.ws_clients)]
        parent, child = plant.ctx.Pipe()
        proc = plant.ctx.Process(target=load_process, args=(child, base, info["token"], ws, names, args.rest_rate,
                                                            args.history_rate), daemon=True)
        proc.start()
        plant.load = (parent, proc)
        parent.recv()
        print(f"plant up (load {loadavg()}); steps of {args.step_seconds:g} s after {args.settle_seconds:g} s settle",
              flush=True)
        if args.compare:
            code |= compare(plant, probe, info, env, log_dir, args)
        steps = []
        for rate in rates:
            steps.append(run_step(plant, probe, info, rate, args.step_seconds, args.settle_seconds))
            print_step(steps[-1])
        held = [s["rate"] for s in steps if holds(s)]
        if steps and held:
            knee = next(s for s in steps if s["rate"] == max(held))
            print(f"KNEE: {knee['rate']:.0f} changes/s made, {knee['recorded_per_s']:.0f} recorded/s "
                  f"(load {knee['load']})", flush=True)
        elif steps:
            print("KNEE: below the lowest step", flush=True)
        if any(s["lost"] or s["doubled"] or s["client_errors"] for s in steps):
            code = 1
        if args.naive_seconds and steps:
            naive(plant, probe, info, ports, env, args, steps[-1])
        if args.soak_minutes:
            code |= soak(plant, probe, info, args, args.soak_rate or (max(held) / 2 if held else rates[0]))
    finally:
        if plant.load:
            plant.load[0].send("exit")
        stop_all(plant.kiln)
        for pipe, proc in plant.plcs:
            pipe.send(("exit",))
            proc.join(5)
        if code == 0:
            shutil.rmtree(state_dir, ignore_errors=True)
    return code


def naive(plant: Plant, probe: Probe, info: dict, ports: list[int], env: dict, args, kiln_step: dict) -> None:
    """The naive stack (plant_load.naive_process) on the same PLCs at the top rate, Kiln and its clients stopped."""
    plant.load[0].send("exit")
    plant.load = None
    stop_all(plant.kiln)
    plant.kiln = {}
    rate = kiln_step["rate"]
    plant.set_rate(rate)
    parent, child = plant.ctx.Pipe()
    proc = plant.ctx.Process(target=naive_process, args=(child, env["DATABASE_URL"], ports,
                                                         args.registers + args.tracked, args.naive_seconds))
    proc.start()
    parent.recv()
    time.sleep(args.settle_seconds)
    marks0 = plant.marks()
    cpu0 = pid_cpu_rss(proc.pid)[0]
    parent.send("start")
    result = parent.recv()
    marks1, cpu1 = plant.marks(), pid_cpu_rss(proc.pid)[0]
    proc.join(10)
    made = missing = 0
    for p, (m0, m1) in enumerate(zip(marks0, marks1, strict=True)):
        for k in range(args.tracked):
            lo, hi = m0[1][k], m1[1][k]
            seen = probe.sql("SELECT count(DISTINCT value) FROM bench_naive_sample WHERE plc = %s AND address = %s "
                             "AND value > %s AND value <= %s", [p, args.registers + k, lo, hi])[0][0]
            made += hi - lo
            missing += hi - lo - seen
    probe.connection.close()
    print(f"NAIVE at {rate:.0f} changes/s (one request per register, one INSERT per value; Kiln stopped): "
          f"stored {result['stored_per_s']:.0f}/s, one pass over all registers {result['pass_s'] * 1000:.0f} ms, "
          f"tracked changes missed {missing}/{made}, CPU {100 * (cpu1 - cpu0) / args.naive_seconds:.0f} %, "
          f"load {loadavg()}", flush=True)
    print(f"SIDE BY SIDE at {rate:.0f} changes/s: Kiln recorded {kiln_step['recorded_per_s']:.0f}/s with "
          f"{kiln_step['missing']}/{kiln_step['tracked']} tracked missed and clients on; naive "
          f"{result['stored_per_s']:.0f}/s with {missing}/{made} missed "
          f"({kiln_step['recorded_per_s'] / max(result['stored_per_s'], 1):.1f}×)", flush=True)


BEFORE_18 = {"CELERY_DB_REUSE_MAX": "0", "KILN_HISTORIAN_ROLLUP_SETTLE_SECONDS": "-1", "KILN_DRIVERS_RECORDER": "0"}


def compare(plant: Plant, probe: Probe, info: dict, env: dict, log_dir: Path, args) -> int:
    """The same step with the workers configured as before issue 18 and as now, Kiln restarted in between."""
    out = []
    for i in range(args.compare_rounds):
        for label, extra in (("before", BEFORE_18), ("after", {})):
            # Only the Celery processes (what the two settings change); web keeps its WebSocket clients.
            celery = {n: p for n, p in plant.kiln.items() if n != "web"}
            stop_all(celery)
            plant.kiln |= start_kiln(env | extra, args.plcs, log_dir, only=tuple(celery))
            time.sleep(5)  # the stopped loops' last stats say "stopped" only once the new workers are up
            wait_until(lambda: probe.drivers()["polled"] == args.plcs or None, 180, "every connection polled",
                       plant.kiln)
            s = run_step(plant, probe, info, args.compare, args.step_seconds, args.settle_seconds)
            print(f"COMPARE round {i + 1} {label} ({' '.join(f'{k}={v}' for k, v in extra.items()) or 'defaults'}):")
            print_step(s)
            out.append(s)
    return 1 if any(s["lost"] or s["doubled"] for s in out) else 0


def soak(plant: Plant, probe: Probe, info: dict, args, rate: float) -> int:
    """Minute steps at one rate: RSS per process against the first minute's (warm-up), and nothing lost."""
    print(f"SOAK at {rate:.0f} changes/s for {args.soak_minutes:g} min", flush=True)
    first, lost, steps = None, 0, []
    for _ in range(max(1, int(args.soak_minutes))):
        s = run_step(plant, probe, info, rate, 60 - 2, 2)
        steps.append(s)
        lost += s["lost"] + s["doubled"] + s["missing"]
        first = first or s["rss"]
        growth = {n: 100.0 * (s["rss"][n] - first[n]) / first[n] for n in first if first[n]}
        print_step(s)
        print("    RSS growth since minute 1 %: " + "  ".join(f"{n} {g:+.1f}" for n, g in growth.items()), flush=True)
    print(f"SOAK: {len(steps)} min, unseen+lost+doubled {lost}, max RSS growth "
          f"{max(growth.values()):+.1f} % ({max(growth, key=growth.get)})", flush=True)
    return 1 if lost else 0


def _answers(urllib_request, url: str) -> bool:
    try:
        with urllib_request.urlopen(url, timeout=2) as response:
            return response.status == 200
    except OSError:
        return False


if __name__ == "__main__":
    sys.exit(main())
