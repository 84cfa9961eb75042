"""Benchmark: live push, tag change recorded → received by real WebSocket clients through one daphne process.

    .venv/bin/python bench/bench_push.py [--quick] [--only idle,latency,throughput,baseline] [--json out.json]

Sets up its own data (database from BENCH_DATABASE_URL, else DATABASE_URL, else postgres kiln_bench, created if
missing; Redis from REDIS_URL, else db 15), starts ONE daphne (scada.asgi), and drives it with real `websockets`
clients in separate processes and a producer calling tags.values.tag_values_record (the one way values enter).
Each recorded value is the producer's clock at the start of the record call, so a client's latency is simply
its receive time minus the value: recorded → received, across processes on one machine clock.

Phases (targets from issue 4):
  idle        1,000 subscribed sockets, no changes: daphne CPU from /proc            target ≤ 5 % of a core
  latency     500 clients × 10 tags (5 subscribers a tag), 1,000 changes/s          target p50 ≤ 10 ms, p99 ≤ 50 ms
  throughput  2,000 clients × 10 tags (10 subscribers a tag), rising change rates   target ≥ 20,000 frames/s
  baseline    the same 2,000 clients against bench/naive_push.py (one group per tag, one group_send per change;
              on the default list-based layer via async_to_sync and via one loop, and on the pub/sub layer),
              each flat out, side by side with Kiln flat out                         target Kiln ≥ 10× baseline
  batchmode   the 2,000 clients opted in to {"type":"batch"} frames: updates/s at 8,000 and 20,000 changes/s
A "frame" is one WebSocket message carrying one update (single-message mode, the seed's form); in batch mode
frames_per_s counts batch frames and updates_per_s the updates inside them.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing as mp
import os
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import orjson

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DB = "postgres://postgres@127.0.0.1:5432/kiln_bench"
TAG_PREFIX = "BenchPush_"
CLIENTS_PER_PROC = 500


# --- environment, data, daphne -------------------------------------------------------------------------------

def configure_env() -> dict:
    env = dict(os.environ)
    env["DATABASE_URL"] = os.environ.get("BENCH_DATABASE_URL") or os.environ.get("DATABASE_URL") or DEFAULT_DB
    env.setdefault("REDIS_URL", "redis://127.0.0.1:6379/15")
    env["DJANGO_SETTINGS_MODULE"] = "scada.settings"
    env["DEBUG"] = "0"
    env["KILN_RATE_LIMIT_ENABLED"] = "0"
    env.setdefault("SECRET_KEY", secrets.token_urlsafe(50))
    env["ALLOWED_HOSTS"] = "127.0.0.1,localhost"
    env["LOG_LEVEL"] = "WARNING"
    env["SECURE_SSL_REDIRECT"] = "0"
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    os.environ.update({k: env[k] for k in ("DATABASE_URL", "REDIS_URL", "DJANGO_SETTINGS_MODULE", "DEBUG",
                                          "KILN_RATE_LIMIT_ENABLED", "SECRET_KEY", "ALLOWED_HOSTS", "LOG_LEVEL",
                                          "SECURE_SSL_REDIRECT")})
    return env


def ensure_database(url: str) -> None:
    import dj_database_url
    import psycopg

    cfg = dj_database_url.parse(url)
    if "postgresql" not in cfg["ENGINE"]:
        return
    conninfo = {"host": cfg.get("HOST") or "127.0.0.1", "port": cfg.get("PORT") or 5432, "user": cfg.get("USER"),
                "password": cfg.get("PASSWORD") or None, "dbname": "postgres", "autocommit": True}
    with psycopg.connect(**conninfo) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [cfg["NAME"]]).fetchone():
            conn.execute(f'CREATE DATABASE "{cfg["NAME"]}"')


def setup_data(n_tags: int) -> list[tuple[int, str]]:
    """Migrate, make n_tags REAL tags and an Operator; return [(tag id, name)]."""
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0, interactive=False)
    from accounts.models import User
    from scada.roles import Role
    from tags.models import Machine, Site, Tag
    from tags.values import tag_config_changed

    user, created = User.objects.get_or_create(username="bench-push", defaults={"role": Role.OPERATOR})
    if created:
        user.set_unusable_password()
        user.save()
    site, _ = Site.objects.get_or_create(site_id="bench-push", defaults={"name": "Bench push"})
    machine, _ = Machine.objects.get_or_create(machine_id="bench-push", defaults={"name": "Bench", "site": site})
    have = set(Tag.objects.filter(machine=machine).values_list("name", flat=True))
    missing = [f"{TAG_PREFIX}{i:05d}" for i in range(n_tags) if f"{TAG_PREFIX}{i:05d}" not in have]
    if missing:
        Tag.objects.bulk_create([Tag(machine=machine, name=n, datatype="REAL") for n in missing], batch_size=1000)
        tag_config_changed()
    rows = list(Tag.objects.filter(machine=machine, name__in=[f"{TAG_PREFIX}{i:05d}" for i in range(n_tags)])
                .order_by("name").values_list("id", "name"))
    from django.db import connection

    connection.close()
    return rows


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_daphne(env: dict, app: str) -> tuple[subprocess.Popen, int]:
    """One daphne on a free port. Its output goes to a file (a pipe nobody reads would fill and freeze it)."""
    port = free_port()
    daphne = str(Path(sys.executable).parent / "daphne")
    log_path = Path(tempfile.gettempdir()) / f"bench_push_daphne_{port}.log"
    log = open(log_path, "wb")  # noqa: SIM115 - stays open for the process's life
    proc = subprocess.Popen([daphne, "-b", "127.0.0.1", "-p", str(port), app], cwd=ROOT, env=env,
                            stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    proc.log_path = log_path
    print(f"daphne {app} on port {port}, log {log_path}", flush=True)
    deadline = time.time() + 30
    while time.time() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"daphne exited: {log_path.read_text()[-2000:]}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return proc, port
        except OSError:
            time.sleep(0.1)
    proc.kill()
    raise SystemExit("daphne did not start within 30 s")


def stop_daphne(proc: subprocess.Popen) -> None:
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(15)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(5)


def cpu_seconds(pid: int) -> float:
    """utime + stime of a process (all its threads), from /proc/<pid>/stat."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


# --- client processes ------------------------------------------------------------------------------------------

def client_process(conn, url: str, assignments: list[tuple[str, list[str]]], batch: bool, sample_every: int):
    asyncio.run(_client_main(conn, url, assignments, batch, sample_every))


async def _client_main(conn, url, assignments, batch, sample_every):
    import websockets.exceptions
    from websockets.asyncio.client import connect

    stats = {"active": False, "messages": 0, "updates": 0, "lat": [], "n": 0}
    sem = asyncio.Semaphore(20)

    async def open_one(token, names):
        # 2,000 handshakes at once on a shared machine: some time out in daphne's 5 s connect window; retry.
        for attempt in range(6):
            try:
                async with sem:
                    ws = await connect(f"{url}?token={token}", origin="http://localhost", compression=None,
                                       ping_interval=None, max_size=None, open_timeout=60)
                    await ws.send(orjson.dumps({"type": "subscribe", "tags": names, "batch": batch,
                                               "snapshot": True}).decode())
                    first = orjson.loads(await asyncio.wait_for(ws.recv(), 60))
                if first.get("type") != "snapshot":
                    raise SystemExit(f"subscribe failed: {first}")
                return ws
            except (OSError, TimeoutError, websockets.exceptions.WebSocketException):
                if attempt == 5:
                    raise
                await asyncio.sleep(0.5 * (attempt + 1))
        raise AssertionError("unreachable")

    async def reader(ws):
        s = stats
        try:
            async for raw in ws:
                if not s["active"]:
                    continue
                now = time.time()
                s["messages"] += 1
                if raw.startswith('{"type":"update"'):
                    s["updates"] += 1
                    s["n"] += 1
                    if s["n"] % sample_every == 0:
                        s["lat"].append(now - orjson.loads(raw)["value"])
                elif raw.startswith('{"type":"batch"'):
                    ups = orjson.loads(raw)["updates"]
                    s["updates"] += len(ups)
                    s["lat"].extend(now - u["value"] for u in ups[::sample_every])
        except Exception:  # noqa: BLE001 - a closed socket ends its reader
            pass

    sockets = await asyncio.gather(*[open_one(token, names) for token, names in assignments])
    readers = [asyncio.ensure_future(reader(ws)) for ws in sockets]
    conn.send(("ready", len(sockets)))
    while True:
        cmd = await asyncio.to_thread(conn.recv)
        if cmd == "start":
            stats.update(messages=0, updates=0, lat=[], n=0, active=True)
        elif cmd == "stop":
            stats["active"] = False
            conn.send({"messages": stats["messages"], "updates": stats["updates"], "lat": stats["lat"]})
        elif cmd == "exit":
            break
    for r in readers:
        r.cancel()
    # Close together and briefly: a server still draining a backlog would hold each close handshake for seconds.
    try:
        await asyncio.wait_for(asyncio.gather(*(ws.close() for ws in sockets), return_exceptions=True), 5)
    except TimeoutError:
        pass


class Clients:
    """N client processes of up to CLIENTS_PER_PROC sockets each; start/stop counting together.

    `assignments` is one (token, tag names) per socket: every socket logs in as its own session, as HMI
    screens do, so the periodic revocation sweep costs what it would in a plant.
    """

    def __init__(self, url, assignments, batch=False, sample_every=1):
        ctx = mp.get_context("spawn")
        self.pipes, self.procs = [], []
        for i in range(0, len(assignments), CLIENTS_PER_PROC):
            parent, child = ctx.Pipe()
            p = ctx.Process(target=client_process, args=(child, url, assignments[i:i + CLIENTS_PER_PROC],
                                                         batch, sample_every), daemon=True)
            p.start()
            child.close()  # so a client process that dies shows up as EOF here, not as a hang
            self.pipes.append(parent)
            self.procs.append(p)
        t = time.time()
        self.connected = sum(pipe.recv()[1] for pipe in self.pipes)
        self.connect_seconds = time.time() - t

    def start(self):
        for pipe in self.pipes:
            pipe.send("start")

    def stop(self) -> dict:
        for pipe in self.pipes:
            pipe.send("stop")
        reports = [pipe.recv() for pipe in self.pipes]
        lat = sorted(x for r in reports for x in r["lat"])
        return {"messages": sum(r["messages"] for r in reports), "updates": sum(r["updates"] for r in reports),
                "lat": lat}

    def close(self):
        for pipe in self.pipes:
            pipe.send("exit")
        for p in self.procs:
            p.join(15)
            if p.is_alive():
                p.terminate()
                p.join(5)


def assignments_for(n_clients: int, tag_names: list[str], per_client: int = 10) -> list[tuple[str, list[str]]]:
    """Client i (its own login session) watches per_client consecutive tags; tags are shared evenly."""
    from accounts.models import User
    from accounts.tokens import issue_token_pair

    user = User.objects.get(username="bench-push")
    n = len(tag_names)
    return [(issue_token_pair(user)["token"], [tag_names[(i * per_client + k) % n] for k in range(per_client)])
            for i in range(n_clients)]


# --- producer --------------------------------------------------------------------------------------------------

def produce(tag_ids: list[int], rate: float | None, seconds: float, batch_hz: float = 100.0) -> dict:
    """Record `rate` changes/s (None: as fast as possible) in batches of rate/batch_hz, for `seconds`."""
    from tags.values import Sample, tag_values_record

    per_batch = len(tag_ids) if rate is None else max(1, round(rate / batch_hz))
    interval = 0.0 if rate is None else per_batch / rate
    n, idx, changes = len(tag_ids), 0, 0
    start = time.perf_counter()
    next_at = start
    while True:
        now = time.perf_counter()
        if now - start >= seconds:
            break
        if now < next_at:
            time.sleep(next_at - now)
        value = time.time()
        samples = [Sample(tag_id=tag_ids[(idx + k) % n], value=value) for k in range(per_batch)]
        idx += per_batch
        changes += len(tag_values_record(samples=samples))
        next_at += interval
    elapsed = time.perf_counter() - start
    return {"changes": changes, "seconds": elapsed, "changes_per_s": changes / elapsed}


def measure(clients: Clients, daphne_pid: int, seconds: float, work) -> dict:
    clients.start()
    cpu0, t0 = cpu_seconds(daphne_pid), time.perf_counter()
    ccpu0 = sum(cpu_seconds(p.pid) for p in clients.procs)
    pcpu0 = cpu_seconds(os.getpid())
    produced = work(seconds) if work else (time.sleep(seconds) or {})
    time.sleep(0.5)  # let in-flight frames land
    elapsed = time.perf_counter() - t0
    cpu = (cpu_seconds(daphne_pid) - cpu0) / elapsed
    ccpu = (sum(cpu_seconds(p.pid) for p in clients.procs) - ccpu0) / elapsed
    pcpu = (cpu_seconds(os.getpid()) - pcpu0) / elapsed
    got = clients.stop()
    lat = got.pop("lat")
    # Rates over the producing window: what was recorded in it and delivered (the drain only lets it land).
    window = produced.get("seconds", elapsed)
    out = {**produced, **got, "window_s": round(window, 2), "daphne_cpu_pct": round(cpu * 100, 1),
           "clients_cpu_pct": round(ccpu * 100, 1), "producer_cpu_pct": round(pcpu * 100, 1),
           "loadavg_1m": round(os.getloadavg()[0], 2),
           "frames_per_s": round(got["messages"] / window), "updates_per_s": round(got["updates"] / window)}
    if lat:
        out.update(lat_samples=len(lat), p50_ms=round(lat[len(lat) // 2] * 1000, 2),
                   p90_ms=round(lat[int(len(lat) * 0.9)] * 1000, 2),
                   p99_ms=round(lat[min(len(lat) - 1, int(len(lat) * 0.99))] * 1000, 2),
                   max_ms=round(lat[-1] * 1000, 1))
    return out


def show(name: str, r: dict) -> None:
    keys = ["changes_per_s", "frames_per_s", "updates_per_s", "p50_ms", "p90_ms", "p99_ms", "max_ms",
            "daphne_cpu_pct", "clients_cpu_pct", "producer_cpu_pct", "loadavg_1m"]
    print(f"  {name:<34} " + "  ".join(f"{k}={r[k]:.0f}" if isinstance(r.get(k), float) and k.endswith("_s")
                                       else f"{k}={r[k]}" for k in keys if k in r), flush=True)


# --- main ------------------------------------------------------------------------------------------------------

def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="shorter phases (a smoke run, not the figures)")
    parser.add_argument("--only", default="idle,latency,throughput,batchmode,baseline")
    parser.add_argument("--json", help="write the results here as JSON")
    parser.add_argument("--batch-hz", type=float, default=100.0,
                        help="recorded batches per second in the paced phases (default 100: 10 ms cycles)")
    args = parser.parse_args()
    phases = set(args.only.split(","))
    secs = 5.0 if args.quick else 15.0

    env = configure_env()
    ensure_database(env["DATABASE_URL"])
    tags = setup_data(2000)
    ids = [tid for tid, _ in tags]
    names = [name for _, name in tags]
    results: dict = {"machine": {"cpus": os.cpu_count(), "loadavg_start": os.getloadavg()},
                     "batch_hz": args.batch_hz}
    print(f"bench_push: {len(tags)} tags, cpus={os.cpu_count()}, load={os.getloadavg()[0]:.2f}", flush=True)

    proc, port = start_daphne(env, "scada.asgi:application")
    url = f"ws://127.0.0.1:{port}/ws"
    try:
        if "idle" in phases:
            clients = Clients(url, assignments_for(1000, names[:1000]))
            print(f"idle: {clients.connected} sockets connected+subscribed in {clients.connect_seconds:.1f} s",
                  flush=True)
            time.sleep(2)
            r = measure(clients, proc.pid, 30.0 if not args.quick else 10.0, None)
            clients.close()
            results["idle_1000"] = r
            show("1,000 idle sockets", r)
        if "latency" in phases:
            clients = Clients(url, assignments_for(500, names[:1000]))
            print(f"latency: {clients.connected} clients", flush=True)
            produce(ids[:1000], 1000, 2.0, args.batch_hz)  # warm up
            r = measure(clients, proc.pid, secs * 2, lambda s: produce(ids[:1000], 1000, s, args.batch_hz))
            clients.close()
            results["latency_500c_1000cps"] = r
            show("500 clients, 1,000 changes/s", r)
        if "throughput" in phases or "baseline" in phases:
            clients = Clients(url, assignments_for(2000, names), sample_every=10)
            print(f"throughput: {clients.connected} clients connected in {clients.connect_seconds:.1f} s",
                  flush=True)
            rates = [2000, 4000, 8000] if "throughput" in phases else []
            for rate in rates:
                r = measure(clients, proc.pid, secs, lambda s, rate=rate: produce(ids, rate, s, args.batch_hz))
                results[f"throughput_2000c_{rate}cps"] = r
                show(f"2,000 clients, {rate:,} changes/s", r)
            r = measure(clients, proc.pid, secs, lambda s: produce(ids, None, s))
            results["kiln_flat_out_2000c"] = r
            show("2,000 clients, Kiln flat out", r)
            clients.close()
        if "batchmode" in phases:
            clients = Clients(url, assignments_for(2000, names), batch=True, sample_every=10)
            print(f"batch frames: {clients.connected} clients opted in to batched frames", flush=True)
            for rate in (8000, 20000):
                r = measure(clients, proc.pid, secs, lambda s, rate=rate: produce(ids, rate, s, args.batch_hz))
                results[f"batchmode_2000c_{rate}cps"] = r
                show(f"2,000 batch clients, {rate:,} changes/s", r)
            clients.close()
    finally:
        stop_daphne(proc)

    if "baseline" in phases:
        from django.conf import settings
        from django.test import override_settings

        import bench.naive_push as naive

        proc, port = start_daphne(env, "bench.naive_push:application")
        try:
            variants = (("naive_async_to_sync", "ws", naive.naive_push_changes),
                        ("naive_one_loop", "ws", naive.naive_push_changes_one_loop),
                        ("naive_pubsub", "ws-pubsub", naive.naive_push_changes_pubsub))
            for path in ("ws", "ws-pubsub"):
                clients = Clients(f"ws://127.0.0.1:{port}/{path}", assignments_for(2000, names), sample_every=10)
                print(f"baseline: {clients.connected} clients on the per-tag-group consumer (/{path})", flush=True)
                for label, _, fn in (v for v in variants if v[1] == path):
                    # The naive push in the live push's place; the historian and alarms consumers stay as they are.
                    consumers = [f"bench.naive_push.{fn.__name__}" if c == "live.publisher.push_changes" else c
                                 for c in settings.KILN_VALUE_CONSUMERS]
                    with override_settings(KILN_VALUE_CONSUMERS=consumers):
                        r = measure(clients, proc.pid, secs, lambda s: produce(ids, None, s, batch_hz=100))
                    results[f"baseline_{label}_2000c"] = r
                    show(f"baseline {label}", r)
                clients.close()
        finally:
            stop_daphne(proc)
        kiln = results.get("kiln_flat_out_2000c", {}).get("frames_per_s", 0)
        best = max(results[f"baseline_{v[0]}_2000c"]["frames_per_s"] for v in variants)
        results["ratio_vs_best_baseline"] = round(kiln / best, 1) if best else None
        print(f"Kiln flat out {kiln} frames/s vs best per-change group_send {best} frames/s: "
              f"{results['ratio_vs_best_baseline']}x", flush=True)

    results["machine"]["loadavg_end"] = os.getloadavg()
    if args.json:
        Path(args.json).write_bytes(orjson.dumps(results, option=orjson.OPT_INDENT_2))


if __name__ == "__main__":
    main()
