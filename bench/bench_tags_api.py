"""Benchmark: GET /api/tags?limit=100&include_values=true with a JWT, one daphne process, vs a DRF baseline.

    .venv/bin/python bench/bench_tags_api.py [--seconds 10] [--rounds 2] [--concurrency 8] [--tags 1000]

Sets up its own data (database from BENCH_DATABASE_URL, else DATABASE_URL, else postgres kiln_bench, created if
missing; Redis from REDIS_URL, else db 15), starts ONE daphne web process with rate limits off, and measures
Kiln's list endpoint and a plain DRF ModelSerializer + ListAPIView baseline on the same data (bench/urls_tags.py),
in alternating rounds so both see the same machine load. Prints req/s, p50 and p99 for each, and the ratio.
Targets (issue 3): >= 300 req/s and >= 3x the baseline.
"""

from __future__ import annotations

import argparse
import http.client
import os
import secrets
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

import orjson

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DB = "postgres://postgres@127.0.0.1:5432/kiln_bench"
KILN_PATH = "/api/tags?limit=100&include_values=true"
BASELINE_PATH = "/bench/baseline/tags?limit=100"


def configure_env() -> dict:
    env = dict(os.environ)
    env["DATABASE_URL"] = os.environ.get("BENCH_DATABASE_URL") or os.environ.get("DATABASE_URL") or DEFAULT_DB
    env.setdefault("REDIS_URL", "redis://127.0.0.1:6379/15")
    env["DJANGO_SETTINGS_MODULE"] = "bench.settings_tags"
    env["DEBUG"] = "0"
    env["KILN_RATE_LIMIT_ENABLED"] = "0"
    env.setdefault("SECRET_KEY", secrets.token_urlsafe(50))
    env["ALLOWED_HOSTS"] = "127.0.0.1,localhost"
    env["LOG_LEVEL"] = "WARNING"
    env["SECURE_SSL_REDIRECT"] = "0"  # plain HTTP on loopback; TLS would sit in a proxy in front
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    os.environ.update({k: env[k] for k in ("DATABASE_URL", "REDIS_URL", "DJANGO_SETTINGS_MODULE", "DEBUG",
                                          "KILN_RATE_LIMIT_ENABLED", "SECRET_KEY", "ALLOWED_HOSTS", "LOG_LEVEL",
                                          "SECURE_SSL_REDIRECT")})
    return env


def ensure_database(url: str) -> None:
    """CREATE DATABASE when it does not exist yet (PostgreSQL only)."""
    import dj_database_url
    import psycopg

    cfg = dj_database_url.parse(url)
    if "postgresql" not in cfg["ENGINE"]:
        return
    conninfo = {"host": cfg.get("HOST") or "127.0.0.1", "port": cfg.get("PORT") or 5432, "user": cfg.get("USER"),
                "password": cfg.get("PASSWORD") or None, "dbname": "postgres", "autocommit": True}
    with psycopg.connect(**conninfo) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [cfg["NAME"]]).fetchone()
        if not exists:
            conn.execute(f'CREATE DATABASE "{cfg["NAME"]}"')


def setup_data(n_tags: int) -> str:
    """Migrate, create n_tags tags over 10 bench machines with live values, and return an Operator's JWT."""
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0, interactive=False)
    from accounts.models import User
    from accounts.tokens import issue_token_pair
    from scada.roles import Role
    from tags.models import Machine, Tag
    from tags.values import Sample, tag_config_changed, tag_values_record

    user, created = User.objects.get_or_create(username="bench-operator", defaults={"role": Role.OPERATOR})
    if created:
        user.set_unusable_password()
        user.save()
    machines = [Machine.objects.get_or_create(machine_id=f"bench-m{i:02d}", defaults={"name": f"Bench {i}"})[0]
                for i in range(10)]
    have = Tag.objects.filter(machine__machine_id__startswith="bench-m").count()
    if have < n_tags:
        Tag.objects.filter(machine__machine_id__startswith="bench-m").delete()
        datatypes = ["REAL", "REAL", "INT", "BOOL", "STRING"]
        Tag.objects.bulk_create([
            Tag(machine=machines[i % 10], name=f"bench.m{i % 10:02d}.T{i:05d}", datatype=datatypes[i % 5],
                description=f"Bench tag {i}", unit="°C" if i % 5 < 2 else "", min_value=None, max_value=None,
                is_writable=i % 3 == 0)
            for i in range(n_tags)
        ], batch_size=1000)
        tag_config_changed()
    values = {"REAL": 72.5, "INT": 42, "BOOL": True, "STRING": "Running"}
    rows = Tag.objects.filter(machine__machine_id__startswith="bench-m").values_list("id", "datatype")
    tag_values_record(samples=[Sample(tag_id=tid, value=values[dt]) for tid, dt in rows], force=True)
    from django.db import connection

    with connection.cursor() as cur:
        cur.execute("ANALYZE tags_tag")  # fresh planner statistics, as autovacuum would give a running plant
        cur.execute("ANALYZE tags_machine")
    connection.close()
    return issue_token_pair(user)["token"]


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process and its threads so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_daphne(env: dict, port: int) -> subprocess.Popen:
    daphne = str(Path(sys.executable).parent / "daphne")
    proc = subprocess.Popen([daphne, "-b", "127.0.0.1", "-p", str(port), "scada.asgi:application"], cwd=ROOT,
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)
    deadline = time.time() + 30
    while time.time() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"daphne exited: {proc.stderr.read().decode()[-2000:]}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return proc
        except OSError:
            time.sleep(0.1)
    proc.kill()
    raise SystemExit("daphne did not start within 30 s")


def check(port: int, path: str, token: str) -> int:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    conn.request("GET", path, headers={"Authorization": f"Bearer {token}"})
    resp = conn.getresponse()
    body = resp.read()
    conn.close()
    if resp.status != 200:
        raise SystemExit(f"GET {path}: {resp.status} {body[:300]!r}")
    items = orjson.loads(body)
    if not isinstance(items, list) or len(items) != 100 or "value" not in items[0]:
        raise SystemExit(f"GET {path}: unexpected body {body[:300]!r}")
    return len(body)


def load(port: int, path: str, token: str, seconds: float, concurrency: int, server_pid: int | None = None) -> dict:
    """`concurrency` keep-alive connections, each sending requests back to back for `seconds`."""
    headers = {"Authorization": f"Bearer {token}", "Accept": "application/json"}
    latencies: list[list[float]] = [[] for _ in range(concurrency)]
    errors = [0] * concurrency
    start_at = time.perf_counter() + 0.2
    stop_at = start_at + seconds

    def worker(i: int) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        mine = latencies[i]
        while time.perf_counter() < start_at:
            time.sleep(0.001)
        while True:
            t0 = time.perf_counter()
            if t0 >= stop_at:
                break
            try:
                conn.request("GET", path, headers=headers)
                resp = conn.getresponse()
                resp.read()
                if resp.status != 200:
                    errors[i] += 1
            except (OSError, http.client.HTTPException):
                errors[i] += 1
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
                continue
            mine.append(time.perf_counter() - t0)
        conn.close()

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(concurrency)]
    cpu0 = cpu_seconds(server_pid) if server_pid else 0.0
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    cpu = cpu_seconds(server_pid) - cpu0 if server_pid else 0.0
    lat = sorted(x for per in latencies for x in per)
    n = len(lat)
    return {
        # Server CPU per request: robust to a busy shared machine, where req/s mostly measures the neighbours.
        "cpu_ms": cpu / n * 1000 if n else float("nan"),
        "requests": n,
        "errors": sum(errors),
        "rps": n / seconds,
        "p50_ms": statistics.median(lat) * 1000 if lat else float("nan"),
        "p99_ms": lat[min(n - 1, int(n * 0.99))] * 1000 if lat else float("nan"),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0, help="measurement time per run (default 10)")
    parser.add_argument("--rounds", type=int, default=2, help="alternating rounds of kiln/baseline (default 2)")
    parser.add_argument("--concurrency", type=int, default=8, help="keep-alive client connections (default 8)")
    parser.add_argument("--tags", type=int, default=1000, help="tags in the bench data set (default 1000)")
    args = parser.parse_args()

    env = configure_env()
    print(f"database {env['DATABASE_URL']}  redis {env['REDIS_URL']}  (one daphne process, rate limits off)")
    ensure_database(env["DATABASE_URL"])
    token = setup_data(args.tags)
    port = free_port()
    proc = start_daphne(env, port)
    try:
        sizes = {name: check(port, path, token) for name, path in (("kiln", KILN_PATH), ("baseline", BASELINE_PATH))}
        print(f"response sizes: kiln {sizes['kiln']} B, baseline {sizes['baseline']} B (100 tags each)")
        load(port, KILN_PATH, token, 2.0, args.concurrency)  # warm-up: connections, caches, JIT-less but warm
        load(port, BASELINE_PATH, token, 2.0, args.concurrency)
        results: dict[str, list[dict]] = {"kiln": [], "baseline": []}
        for r in range(args.rounds):
            for name, path in (("kiln", KILN_PATH), ("baseline", BASELINE_PATH)):
                res = load(port, path, token, args.seconds, args.concurrency, server_pid=proc.pid)
                results[name].append(res)
                print(f"round {r + 1} {name:8s} {res['rps']:8.1f} req/s  p50 {res['p50_ms']:6.2f} ms  "
                      f"p99 {res['p99_ms']:7.2f} ms  daphne CPU {res['cpu_ms']:5.2f} ms/req  "
                      f"({res['requests']} requests, {res['errors']} errors)")
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)

    def best(name: str) -> dict:
        return max(results[name], key=lambda r: r["rps"])

    kiln, base = best("kiln"), best("baseline")
    ratio = kiln["rps"] / base["rps"] if base["rps"] else float("inf")
    cpu_kiln = min(r["cpu_ms"] for r in results["kiln"])
    cpu_base = min(r["cpu_ms"] for r in results["baseline"])
    print()
    print(f"GET {KILN_PATH}  (best of {args.rounds}, concurrency {args.concurrency}, "
          f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs)")
    print(f"  kiln      {kiln['rps']:8.1f} req/s  p50 {kiln['p50_ms']:6.2f} ms  p99 {kiln['p99_ms']:7.2f} ms  "
          f"daphne CPU {cpu_kiln:5.2f} ms/req (= {1000 / cpu_kiln:6.0f} req/s per core)")
    print(f"  baseline  {base['rps']:8.1f} req/s  p50 {base['p50_ms']:6.2f} ms  p99 {base['p99_ms']:7.2f} ms  "
          f"daphne CPU {cpu_base:5.2f} ms/req (= {1000 / cpu_base:6.0f} req/s per core)")
    print(f"  ratio     {ratio:8.2f}x req/s, {cpu_base / cpu_kiln:.2f}x CPU per request")
    print(f"  targets: >= 300 req/s {'OK' if kiln['rps'] >= 300 else 'MISSED'}, "
          f">= 3x baseline {'OK' if ratio >= 3 else 'MISSED'} (req/s; a busy machine mostly measures its neighbours)")
    if kiln["errors"] or base["errors"]:
        print("  errors seen: see the per-round lines above")


if __name__ == "__main__":
    main()
