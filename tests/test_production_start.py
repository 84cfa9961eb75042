"""The documented production start (DEBUG=0, scripts/serve.sh) serves HMI pages and their static files."""

import os
import re
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection

ROOT = Path(__file__).resolve().parent.parent
PROXY = {"X-Forwarded-Proto": "https", "Host": "localhost"}  # as the TLS-terminating proxy in front sends them


def get(url):
    request = urllib.request.Request(url, headers=PROXY)
    with urllib.request.urlopen(request, timeout=10) as response:
        return response.status, response.read()


# Its own deadline (migrate + collectstatic under a loaded CI machine) is longer than the suite's 120 s default.
@pytest.mark.timeout(360)
@pytest.mark.django_db
def test_it_serves_an_hmi_page_and_its_static_files_with_debug_off(tmp_path):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    db = connection.settings_dict
    env = {k: v for k, v in os.environ.items() if not k.startswith(("KILN_", "PYTEST"))}
    env.update(
        DEBUG="0", SECRET_KEY="vJ3q-8Zr_TmW2xKp0LbY7nHd5FsC1gEa9UoQ4iRt6", ALLOWED_HOSTS="localhost",
        TRUSTED_PROXIES="127.0.0.1", KILN_PORT=str(port), STATIC_ROOT=str(tmp_path / "static"),
        DATABASE_URL=f"postgres://{db['USER']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}",
        REDIS_URL=settings.REDIS_URL,
    )
    log_path = tmp_path / "serve.log"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(["bash", "scripts/serve.sh"], cwd=ROOT, env=env, stdout=log,
                                stderr=subprocess.STDOUT)
        try:
            deadline = time.monotonic() + 300  # migrate + collectstatic (hashing and compressing ~180 files) first
            while True:
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                    break
                except OSError:
                    assert proc.poll() is None and time.monotonic() < deadline, log_path.read_text()
                    time.sleep(0.2)
            status, page = get(f"http://127.0.0.1:{port}/login/")
            assert status == 200, log_path.read_text()
            assets = re.findall(r'(?:src|href)="(/static/[^"]+)"', page.decode())
            assert any(a.endswith(".css") for a in assets) and any(a.endswith(".js") for a in assets), assets
            for asset in assets:
                assert get(f"http://127.0.0.1:{port}{asset}")[0] == 200, asset
        finally:
            proc.terminate()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
