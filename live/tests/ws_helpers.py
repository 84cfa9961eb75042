"""Helpers for the WebSocket tests: tags, tokens, a connected communicator, recording values."""

import asyncio
import contextlib
import os
import socket
import subprocess
import sys
import time
import uuid
from datetime import timedelta
from pathlib import Path

from asgiref.sync import async_to_sync
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.conf import settings
from django.db import connection
from rest_framework_simplejwt.tokens import AccessToken

from tags.models import Machine, Site, Tag
from tags.values import Sample, tag_values_record

ORIGIN = (b"origin", b"http://localhost")
REPO = Path(__file__).resolve().parents[2]


@contextlib.contextmanager
def running_daphne(log_dir, *, env=None, procs=None):
    """A real daphne serving scada.asgi on the test database and this suite's Redis db; yields its ws:// URL.
    `env` adds environment variables; the process is appended to `procs` when given (to kill it in a test)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    db = connection.settings_dict
    env = {
        **os.environ,
        "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}",
        "REDIS_URL": settings.REDIS_URL,
        "KILN_TESTING": "1",
        "DJANGO_SETTINGS_MODULE": "scada.settings",
        "DB_POOL_MAX_SIZE": "4",  # pooled connections as in production (tests otherwise run without a pool)
        **(env or {}),
    }
    log_path = Path(log_dir) / "daphne.log"
    log = open(log_path, "wb")
    proc = subprocess.Popen([str(Path(sys.executable).parent / "daphne"), "-b", "127.0.0.1", "-p", str(port),
                             "scada.asgi:application"], cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT)
    if procs is not None:
        procs.append(proc)
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise AssertionError(log_path.read_text())
                time.sleep(0.1)
        yield f"ws://127.0.0.1:{port}/ws"
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


def run(coro_fn):
    """Run an async test body on a fresh event loop (sync_to_async calls come back to this thread)."""
    return async_to_sync(coro_fn)()


def make_tags(names, datatype="REAL"):
    site, _ = Site.objects.get_or_create(site_id="ws-site", defaults={"name": "WS site"})
    machine, _ = Machine.objects.get_or_create(machine_id="ws-line", defaults={"name": "WS line", "site": site})
    return [Tag.objects.create(machine=machine, name=n, datatype=datatype) for n in names]


def short_token(user, seconds: float) -> str:
    """An access token like a login issues, but valid for only `seconds`."""
    token = AccessToken.for_user(user)
    token["sid"] = uuid.uuid4().hex
    token["username"] = user.username
    token["role"] = int(user.role)
    token["iat_ms"] = int(time.time() * 1000)
    token.set_exp(lifetime=timedelta(seconds=seconds))
    return str(token)


def record(*pairs, quality="GOOD", substatus=None):
    """Record (tag, value) pairs as one batch, through the one values service."""
    return tag_values_record(samples=[Sample(tag_id=t.pk, value=v, quality=quality, substatus=substatus)
                                      for t, v in pairs])


arecord = database_sync_to_async(record)


async def open_ws(token, *, headers=(ORIGIN,), path=None):
    from scada.asgi import application

    comm = WebsocketCommunicator(application, path or f"/ws?token={token}", headers=list(headers))
    connected, code = await comm.connect(timeout=5)
    return comm, connected, code


async def subscribe(comm, names, **extra):
    """Subscribe asking for the one-frame snapshot (as the HMI does) and return that frame (or the error)."""
    await comm.send_json_to({"type": "subscribe", "tags": list(names), "snapshot": True, **extra})
    return await comm.receive_json_from(timeout=5)


async def wait_for(predicate, timeout=5.0):
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.01)
