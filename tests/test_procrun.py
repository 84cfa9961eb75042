"""scripts/procrun.py, what `make run` runs its Procfile with: the URL again once the web process answers, and
Ctrl-C (SIGINT to the terminal's process group) stops everything without a traceback or `Error 143`."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from tests.servers import free_port, wait_for

REPO = Path(__file__).resolve().parents[1]


def _start(tmp_path, procfile: str, *args):
    (tmp_path / "Procfile").write_text(procfile)
    log = open(tmp_path / "out.log", "wb")  # noqa: SIM115 - closed by the caller through proc.log
    proc = subprocess.Popen([sys.executable, str(REPO / "scripts" / "procrun.py"), str(tmp_path / "Procfile"), *args],
                            stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    proc.log = log
    return proc


def _output(tmp_path) -> str:
    return (tmp_path / "out.log").read_text()


def test_ctrl_c_stops_every_process_cleanly_and_the_url_is_printed_once_the_web_answers(tmp_path):
    port = free_port()
    py = sys.executable
    proc = _start(tmp_path, f"web: {py} -m http.server {port} --bind 127.0.0.1\n"
                            f"sleeper: {py} -c 'import time; print(\"sleeping\", flush=True); time.sleep(600)'\n",
                  "--ready-url", f"http://127.0.0.1:{port}/", "--ready-message", "READY at the URL")
    try:
        assert wait_for(lambda: "READY at the URL" in _output(tmp_path) and "sleeping" in _output(tmp_path), timeout=30)
        os.killpg(proc.pid, signal.SIGINT)  # what the terminal does on Ctrl-C: the whole foreground group
        assert proc.wait(20) == 0
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        proc.log.close()
    out = _output(tmp_path)
    assert "Traceback" not in out and "KeyboardInterrupt" not in out
    assert "Error 143" not in out and "exit status" not in out
    assert out.rstrip().endswith("all stopped")
    assert out.index("READY at the URL") > out.index("web") > 0


def test_a_process_that_dies_stops_the_others_and_the_status_says_so(tmp_path):
    py = sys.executable
    proc = _start(tmp_path, f"crash: {py} -c 'import sys, time; time.sleep(0.5); sys.exit(3)'\n"
                            f"sleeper: {py} -c 'import time; time.sleep(600)'\n")
    try:
        started = time.monotonic()
        assert proc.wait(30) == 1
        assert time.monotonic() - started < 25
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        proc.log.close()
    out = _output(tmp_path)
    assert "crash ended by itself (exit status 3)" in out and "Traceback" not in out
