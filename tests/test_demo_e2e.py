"""The demo as `make run` starts it, end to end: scripts/run.sh on a fresh SQLite database in a temporary
directory, on free ports, against this suite's Redis db (REDIS_URL).

One value's path through every process of the Procfile: the simulated PLC (plcsim) → the drivers worker's poll →
the live table (GET /api/tags/Reactor_Temp over HTTP from daphne) → a WebSocket update frame → the historian
writer (beat + default worker; the history API returns the samples) → an alarm: a setpoint written through the
write API goes out through the drivers worker to the PLC, whose reactor model heats past the demo's 85 °C HI
limit; the alarm shows in /api/alarms and in the journal (/api/alarms/history).
"""

import asyncio
import json
import os
import signal
import subprocess
import time
import urllib.error
import urllib.request
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import quote

import orjson
import pytest
from django.conf import settings
from websockets.asyncio.client import connect

from tests.servers import free_port

REPO = Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.timeout(180)


class Demo:
    """HTTP against the demo's daphne, and a bounded wait that shows the demo's output when it gives up."""

    def __init__(self, port: int, log: Path):
        self.base = f"http://127.0.0.1:{port}"
        self.log = log
        self.token = None

    def request(self, method: str, path: str, body=None) -> tuple[int, dict]:
        headers = {"Content-Type": "application/json"}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        req = urllib.request.Request(self.base + path, method=method, headers=headers,
                                     data=None if body is None else json.dumps(body).encode())
        try:
            with urllib.request.urlopen(req, timeout=10) as resp:  # noqa: S310 - a loopback http URL
                return resp.status, json.loads(resp.read() or b"null")
        except urllib.error.HTTPError as exc:
            return exc.code, json.loads(exc.read() or b"null")

    def wait_for(self, what: str, check, timeout: float):
        """Poll check() (a truthy result ends the wait) for at most `timeout` seconds."""
        deadline = time.monotonic() + timeout
        last = None
        while time.monotonic() < deadline:
            try:
                last = check()
            except (OSError, ValueError) as exc:  # not listening yet, or a half-written answer
                last = exc
            else:
                if last:
                    return last
            time.sleep(0.25)
        tail = self.log.read_text(errors="replace")[-6000:] if self.log.exists() else ""
        raise AssertionError(f"{what}: not within {timeout} s (last: {last!r})\n--- demo output ---\n{tail}")


@pytest.fixture
def demo(tmp_path, _clean_redis):
    """scripts/run.sh (migrate, demo_load --fresh-database, procrun.py with the Procfile); stopped in any case."""
    port, plc_port = free_port(), free_port()
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_URL", "KILN_TEST", "DJANGO_"))},
        "DATABASE_URL": f"sqlite:///{tmp_path / 'kiln.sqlite3'}",
        "REDIS_URL": settings.REDIS_URL,
        "KILN_PORT": str(port),
        "PLCSIM_PORT": str(plc_port),
        "OPCUASIM_PORT": str(free_port()),
        "KILN_STATE_DIR": str(tmp_path / "state"),
    }
    log = tmp_path / "demo.log"
    with open(log, "wb") as out:
        # Its own session: the finally below signals procrun (which stops every process it started), and nothing else.
        proc = subprocess.Popen(["bash", "scripts/run.sh"], cwd=REPO, env=env, stdout=out,
                                stderr=subprocess.STDOUT, start_new_session=True)
        try:
            yield Demo(port, log)
        finally:
            for sig, wait in ((signal.SIGTERM, 15), (signal.SIGKILL, 5)):
                try:
                    os.killpg(proc.pid, sig)
                except ProcessLookupError:
                    break
                try:
                    proc.wait(wait)
                    # procrun is gone; make sure nothing of its group lingers.
                    os.killpg(proc.pid, signal.SIGKILL)
                except ProcessLookupError:
                    break
                except subprocess.TimeoutExpired:
                    continue


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def test_it_carries_a_plc_value_to_the_live_table_history_alarms_and_websocket(demo):
    started = time.time()
    demo.wait_for("daphne answering", lambda: demo.request("GET", "/api/system/status")[0] in (200, 401, 503), 60)
    status, body = demo.request("POST", "/api/auth/login", {"username": "supervisor", "password": "kiln-supervisor"})
    assert status == 200, body
    demo.token = body["token"]

    # plcsim → drivers worker → live table: Reactor_Temp carries a time from after the demo started polling
    # (demo_load recorded its initial value before any process of the Procfile ran).
    def polled():
        status, tag = demo.request("GET", "/api/tags/Reactor_Temp")
        ts = datetime.fromisoformat(tag["timestamp"].replace("Z", "+00:00")).timestamp() if status == 200 else 0
        return tag if ts > started and tag["quality"] == "GOOD" else None

    live = demo.wait_for("a polled Reactor_Temp in the live table", polled, 60)
    assert isinstance(live["value"], float)

    # → a WebSocket client subscribed to the tag gets the next polled value as an update frame.
    async def ws_update():
        url = f"ws://127.0.0.1:{demo.base.rsplit(':', 1)[1]}/ws?token={demo.token}"
        async with connect(url, origin="http://localhost") as ws:
            await ws.send(orjson.dumps({"type": "subscribe", "tags": ["Reactor_Temp"]}).decode())
            # Seed 000's form from the first frame: the current value as {tag, value, quality, ts}.
            first = orjson.loads(await asyncio.wait_for(ws.recv(), 10))
            assert (first["type"], first["tag"]) == ("update", "Reactor_Temp"), first
            while True:
                frame = orjson.loads(await asyncio.wait_for(ws.recv(), 15))
                if frame.get("tag") == "Reactor_Temp":
                    return frame

    frame = asyncio.run(ws_update())
    assert frame["quality"] == "GOOD" and isinstance(frame["value"], float)

    # The write API → drivers worker → PLC: the reactor's setpoint to its maximum; the model heats towards it.
    status, body = demo.request("POST", "/api/tags/Reactor_Temp_SP/write", {"value": 150.0})
    assert status == 200, body

    # → historian: the writer (beat, default worker) has stored polled samples the history API returns.
    def history():
        status, body = demo.request("GET", f"/api/tags/Reactor_Temp/history?start={_iso(started - 60)}"
                                           f"&end={_iso(time.time() + 60)}")
        return [p for p in body["data"] if p["quality"] == "GOOD"] if status == 200 else None

    samples = demo.wait_for("Reactor_Temp samples in the history API", lambda: len(history() or []) >= 2, 30)
    assert samples

    # → alarms: past 85 °C for the 2 s on-delay, Reactor Temp High annunciates and is journaled.
    def active_alarm():
        status, body = demo.request("GET", "/api/alarms")
        return [a for a in body["results"] if a["key"] == "reactor_temp_hi" and a["active"]] if status == 200 else None

    (alarm,) = demo.wait_for("Reactor Temp High active in /api/alarms", active_alarm, 60)
    assert alarm["tag"] == "Reactor_Temp" and alarm["state"] == "active_unacked"
    status, journal = demo.request("GET", f"/api/alarms/history?tag={quote('Reactor_Temp')}")
    assert status == 200, journal
    assert any(e["key"] == "reactor_temp_hi" and e["state"] == "active_unacked" for e in journal["results"]), journal
