"""A worker started niced as its own session's leader (the reports worker under procrun or systemd) gives its
session's scheduling group (Linux autogroup) the same nice, so the nice counts against the web process too."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PROBE = """
import os, sys
from pathlib import Path
from scada.celery import _nice_for_the_whole_session
_nice_for_the_whole_session()
group = Path("/proc/self/autogroup")
print(group.read_text().strip() if group.exists() else "no autogroup")
"""


def _probe(*, nice: int, own_session: bool) -> str:
    env = dict(os.environ, DJANGO_SETTINGS_MODULE="scada.settings")
    return subprocess.run(  # noqa: S603 - this interpreter on a fixed script
        ["nice", "-n", str(nice), sys.executable, "-c", PROBE], cwd=REPO, env=env, capture_output=True, text=True,
        check=True, start_new_session=own_session, timeout=60).stdout.strip()


def test_a_niced_session_leader_gives_its_session_group_its_nice():
    answer = _probe(nice=7, own_session=True)
    assert answer == "no autogroup" or answer.endswith("nice 7"), answer


def test_a_niced_worker_inside_another_programs_session_leaves_the_group_alone():
    answer = _probe(nice=7, own_session=False)  # a test's or a bench's session: niceing it would nice them too
    assert answer == "no autogroup" or not answer.endswith("nice 7"), answer
