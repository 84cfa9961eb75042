"""The processes bench_plant.py drives Kiln with: simulated PLCs, WebSocket and REST clients, /proc readings.

- `plc_process`: one real pymodbus server (drivers.plcsim.SimulatedPlc) per process. Its registers are counters:
  "bulk" registers [0, bulk) get +1 at random, at the rate the bench sets (changes/s for this PLC); "tracked"
  registers [bulk, bulk + tracked) all get +1 every TRACKED_PERIOD s. A tracked value is held for 5 poll periods,
  so Kiln must see every one of them: each tracked value between two marks must be in PostgreSQL exactly once.
- `load_process`: WebSocket clients subscribed across the bulk tags (push latency = receive time − the update's
  `ts`, the poll time), REST reads at a fixed rate and history queries at a fixed rate (latency per request).
- `tree_cpu_rss`: CPU seconds and RSS of a process and its children (Celery prefork children count).
"""

from __future__ import annotations

import asyncio
import os
import random
import threading
import time
from datetime import datetime

TRACKED_PERIOD = 0.5


# --- simulated PLCs ----------------------------------------------------------------------------------------------

def plc_process(conn, port: int, bulk: int, tracked: int, seed: int) -> None:
    asyncio.run(_plc_main(conn, port, bulk, tracked, seed))


async def _plc_main(conn, port, bulk, tracked, seed):
    from drivers.plcsim import SimulatedPlc

    rng = random.Random(seed)
    plc = SimulatedPlc(port=port, size=bulk + tracked)
    await plc.start()
    values = [0] * (bulk + tracked)
    state = {"rate": 0.0, "bulk_changes": 0, "exit": False}
    commands: asyncio.Queue = asyncio.Queue()
    loop = asyncio.get_running_loop()

    def listen():  # the pipe is blocking: read it on a thread, hand commands to the loop
        while True:
            try:
                cmd = conn.recv()
            except EOFError:
                cmd = ("exit",)
            loop.call_soon_threadsafe(commands.put_nowait, cmd)
            if cmd[0] == "exit":
                return

    threading.Thread(target=listen, daemon=True).start()
    conn.send(("ready", port))
    tick, owed = 0.01, 0.0
    next_tick = next_tracked = time.monotonic()
    while True:
        while not commands.empty():
            cmd = commands.get_nowait()
            if cmd[0] == "rate":
                state["rate"] = cmd[1]
            elif cmd[0] == "mark":  # counters now: bulk changes made so far, tracked values
                conn.send(("mark", state["bulk_changes"], values[bulk:]))
            elif cmd[0] == "exit":
                await plc.stop()
                return
        now = time.monotonic()
        owed += state["rate"] * tick
        n = int(owed)
        if n:
            owed -= n
            for addr in (rng.randrange(bulk) for _ in range(n)):
                values[addr] = (values[addr] + 1) & 0xFFFF
                plc.set("holding", addr, [values[addr]])
            state["bulk_changes"] += n
        if tracked and now >= next_tracked:
            next_tracked += TRACKED_PERIOD
            for i in range(bulk, bulk + tracked):
                values[i] += 1
            plc.set("holding", bulk, values[bulk:])
        next_tick += tick
        await asyncio.sleep(max(0.0, next_tick - time.monotonic()))


# --- WebSocket, REST and history clients -------------------------------------------------------------------------

def load_process(conn, base: str, token: str, ws_assignments: list[list[str]], rest_names: list[str],
                 rest_rate: float, history_rate: float) -> None:
    asyncio.run(_load_main(conn, base, token, ws_assignments, rest_names, rest_rate, history_rate))


def _epoch(iso: str) -> float:
    return datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()


async def _load_main(conn, base, token, ws_assignments, rest_names, rest_rate, history_rate):
    import orjson
    import requests
    from websockets.asyncio.client import connect

    stats = {"active": False, "push": [], "updates": 0, "rest": [], "history": [], "errors": 0, "kinds": {}}
    ws_url = base.replace("http://", "ws://") + "/ws"

    async def client(names):
        async with connect(f"{ws_url}?token={token}", origin="http://localhost", compression=None,
                           ping_interval=None, max_size=None, open_timeout=60) as ws:
            await ws.send(orjson.dumps({"type": "subscribe", "tags": names}).decode())
            ready.append(1)
            async for raw in ws:
                if not stats["active"] or not raw.startswith('{"type":"update"'):
                    continue
                msg = orjson.loads(raw)
                if "subscription" in msg:  # the initial value of a subscription, not a change
                    continue
                stats["updates"] += 1
                stats["push"].append(time.time() - _epoch(msg["ts"]))

    def http_loop(kind: str, rate: float):
        # Requests on a fixed schedule (not back to back), as a client polling an API does; one session each.
        session = requests.Session()
        session.headers["Authorization"] = f"Bearer {token}"
        interval, next_at, rng = 1.0 / rate, time.monotonic(), random.Random(kind)
        while not stop.is_set():
            name = rng.choice(rest_names)
            url = (f"{base}/api/tags/{name}" if kind == "rest" else
                   f"{base}/api/tags/{name}/history?mode=average&interval=60" if rng.random() < 0.5 else
                   f"{base}/api/tags/{name}/history?start={_iso_ago(600)}")
            t0 = time.perf_counter()
            try:
                status = session.get(url, timeout=30).status_code
            except requests.RequestException as exc:
                status = type(exc).__name__
            if stats["active"]:
                stats[kind].append(time.perf_counter() - t0)
                if status != 200:
                    stats["errors"] += 1
                    key = f"{kind} {status}"
                    stats["kinds"][key] = stats["kinds"].get(key, 0) + 1
            next_at += interval
            time.sleep(max(0.0, next_at - time.monotonic()))

    ready: list[int] = []
    stop = threading.Event()
    tasks = [asyncio.ensure_future(client(names)) for names in ws_assignments]
    while len(ready) < len(ws_assignments):
        await asyncio.sleep(0.05)
        failed = [t for t in tasks if t.done() and t.exception()]
        if failed:
            raise failed[0].exception()
    threads = [threading.Thread(target=http_loop, args=("rest", rest_rate), daemon=True),
               threading.Thread(target=http_loop, args=("history", history_rate), daemon=True)]
    for t in threads:
        t.start()
    conn.send(("ready", len(ready)))
    while True:
        cmd = await asyncio.to_thread(conn.recv)
        if cmd == "start":
            stats.update(active=True, push=[], updates=0, rest=[], history=[], errors=0, kinds={})
        elif cmd == "stop":
            stats["active"] = False
            dead = sum(1 for t in tasks if t.done())
            keys = ("push", "updates", "rest", "history", "errors", "kinds")
            conn.send({k: stats[k] for k in keys} | {"ws_dead": dead})
        elif cmd == "exit":
            stop.set()
            for t in tasks:
                t.cancel()
            return


def _iso_ago(seconds: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() - seconds))


# --- /proc --------------------------------------------------------------------------------------------------------

_CLK = os.sysconf("SC_CLK_TCK")
_PAGE = os.sysconf("SC_PAGE_SIZE")


def _children(pid: int) -> list[int]:
    out = []
    try:
        for task in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{task}/children") as f:
                out += [int(c) for c in f.read().split()]
    except OSError:
        pass
    return out


def tree_pids(pid: int) -> list[int]:
    pids, todo = [], [pid]
    while todo:
        p = todo.pop()
        pids.append(p)
        todo += _children(p)
    return pids


def pid_cpu_rss(pid: int) -> tuple[float, int]:
    """(CPU seconds, RSS bytes) of one process, (0, 0) if it is gone."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0, 0
    return (int(fields[11]) + int(fields[12])) / _CLK, int(fields[21]) * _PAGE


def tree_cpu_rss(pid: int) -> tuple[float, int]:
    cpu = rss = 0
    for p in tree_pids(pid):
        c, r = pid_cpu_rss(p)
        cpu += c
        rss += r
    return cpu, rss


def loadavg() -> str:
    with open("/proc/loadavg") as f:
        return " ".join(f.read().split()[:3])


# --- the naive baseline ------------------------------------------------------------------------------------------

def naive_process(conn, dsn: str, ports: list[int], registers: int, seconds: float) -> None:
    """A naive stack on the same PLCs: one register per request, one INSERT (own transaction) per changed value.

    What a hand-written poller storing straight into a table does (and what the issue's PyScada/FUXA figures
    describe): it keeps no schedule, so its sampling period is however long a pass over every register takes.
    Generous to it: plain psycopg, not an ORM; no live table, alarms, push or buffering at all.
    """
    import psycopg
    from pymodbus.client import ModbusTcpClient

    db = psycopg.connect(dsn, autocommit=True)
    db.execute("CREATE TABLE IF NOT EXISTS bench_naive_sample (plc int, address int, ts timestamptz, value int)")
    db.execute("TRUNCATE bench_naive_sample")
    clients = [ModbusTcpClient("127.0.0.1", port=port, timeout=2, retries=0) for port in ports]
    for c in clients:
        c.connect()
    last: dict[tuple[int, int], int] = {}
    conn.send(("ready",))
    conn.recv()  # start
    t0 = time.time()
    passes = stored = 0
    while time.time() - t0 < seconds:
        for p, c in enumerate(clients):
            for address in range(registers):
                value = c.read_holding_registers(address, count=1, device_id=1).registers[0]
                if last.get((p, address)) != value:
                    last[(p, address)] = value
                    db.execute("INSERT INTO bench_naive_sample VALUES (%s, %s, now(), %s)", [p, address, value])
                    stored += 1
        passes += 1
    span = time.time() - t0
    conn.send({"stored_per_s": stored / span, "pass_s": span / max(passes, 1)})
    db.close()
