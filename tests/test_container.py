"""Dockerfile + compose.yaml: every production process of the Procfile, health-checked, restarted alone, no secret.

Checked statically: no image is built here (the build needs a Docker daemon and base images). `docker compose
config` is run as well where Docker Compose is installed.
"""

import re
import shlex
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from tests.test_systemd_units import DEMO_ONLY, _procfile

ROOT = Path(__file__).resolve().parent.parent
SECRETS = ("SECRET_KEY", "JWT_SIGNING_KEY", "KILN_AUDIT_KEY", "POSTGRES_PASSWORD")


def _compose() -> dict:
    return yaml.safe_load((ROOT / "compose.yaml").read_text())


def _kiln_services() -> dict:
    return {name: s for name, s in _compose()["services"].items() if name not in ("postgres", "redis")}


def _procfile_argv(name: str) -> list[str]:
    command = re.sub(r"\$\{KILN_CELERY_LOG_LEVEL:-(\w+)\}", r"\1", _procfile()[name])
    command = command.replace("${KILN_STATE_DIR:-.kiln}", "/var/lib/kiln")
    return shlex.split(command)


def test_every_production_process_of_the_procfile_is_a_service_restarted_alone():
    services = _kiln_services()
    assert set(services) == set(_procfile()) - DEMO_ONLY
    for name, service in _compose()["services"].items():
        assert service["restart"] == "unless-stopped", name


def test_the_workers_and_beat_run_the_procfiles_commands():
    services = _kiln_services()
    for name in ("worker", "drivers", "beat", "reports"):
        assert services[name]["command"] == _procfile_argv(name), name
    assert services["web"]["command"] == ["bash", "scripts/serve.sh"]  # the Procfile's daphne after migrate


def test_every_service_has_a_health_check_and_the_workers_use_manage_py_health():
    services = _compose()["services"]
    for name, service in services.items():
        assert service["healthcheck"]["test"], name
    assert "/api/system/health" in " ".join(services["web"]["healthcheck"]["test"])
    for name, check in (("worker", "historian"), ("drivers", "drivers"), ("beat", "alarms"), ("reports", "historian")):
        test = " ".join(services[name]["healthcheck"]["test"])
        assert f"manage.py health {check}" in test, name
    for name in ("worker", "drivers", "reports"):  # the worker's own node answers a ping (celery's %h = $HOSTNAME)
        queue = re.search(r"--hostname (\w+)@%h", " ".join(services[name]["command"])).group(1)
        assert f"--node {queue}@$$HOSTNAME" in " ".join(services[name]["healthcheck"]["test"]), name


def test_no_secret_is_written_in_the_files_only_required_from_the_environment():
    text = (ROOT / "compose.yaml").read_text()
    for name in SECRETS:
        values = re.findall(rf"{name}: (.*)", text)
        assert values and all(v.startswith(f"${{{name}:?") for v in values), name
    assert re.search(r"postgres://kiln:\$\{POSTGRES_PASSWORD:\?[^}]*\}@", text)
    dockerfile = (ROOT / "Dockerfile").read_text()
    for name in SECRETS:
        assert not re.search(rf"(ENV|ARG)\s[^\n]*\b{name}\b", dockerfile), name
    ignored = (ROOT / ".dockerignore").read_text().split()
    assert {".git", ".venv", ".kiln", "*.env"} <= set(ignored)


def test_redis_keeps_the_historian_buffer_on_disk_and_the_image_runs_as_a_user():
    redis = _compose()["services"]["redis"]
    assert "--appendonly" in redis["command"] and redis["command"][redis["command"].index("--appendonly") + 1] == "yes"
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert re.search(r"^USER kiln$", dockerfile, re.M)
    assert re.search(r"^FROM python:3\.11-slim-bookworm$", dockerfile, re.M)  # the Python pyproject.toml requires
    assert "pip install --no-cache-dir ." in dockerfile  # the pins of pyproject.toml, nothing unpinned


@pytest.mark.skipif(shutil.which("docker") is None or subprocess.run(
    ["docker", "compose", "version"], capture_output=True).returncode != 0, reason="Docker Compose not installed")
def test_docker_compose_accepts_the_file():
    env = {"PATH": "/usr/bin:/bin:/usr/local/bin", "KILN_HOST": "scada.example", "POSTGRES_PASSWORD": "p",
           "SECRET_KEY": "s", "JWT_SIGNING_KEY": "j", "KILN_AUDIT_KEY": "a"}
    subprocess.run(["docker", "compose", "-f", str(ROOT / "compose.yaml"), "config", "-q"], env=env, check=True)
