"""contrib/systemd: one unit per production process of the Procfile, each restarted alone, secrets from a file."""

import configparser
import os
import re
import secrets
import shlex
import subprocess
import sys
from pathlib import Path

from tests.servers import OwnRedis

ROOT = Path(__file__).resolve().parent.parent
UNITS = ROOT / "contrib" / "systemd"
INSTALL_DIR = "/opt/kiln/"  # where the units expect the checkout (docs/deployment.md)
DEMO_ONLY = {"plcsim", "opcuasim"}  # simulated PLCs for make run: a plant has real ones
UNIT_FOR = {"web": "kiln-web.service", "worker": "kiln-worker.service", "drivers": "kiln-drivers.service",
            "beat": "kiln-beat.service", "reports": "kiln-reports.service"}


def _procfile() -> dict[str, str]:
    lines = (ROOT / "Procfile").read_text().splitlines()
    return dict(line.split(": ", 1) for line in lines if line.strip() and not line.startswith("#"))


def _unit(name: str) -> configparser.ConfigParser:
    parser = configparser.ConfigParser(interpolation=None, strict=False)
    parser.optionxform = str
    parser.read(UNITS / name)
    return parser


def _argv(exec_start: str) -> list[str]:
    return shlex.split(exec_start)


def test_every_production_process_of_the_procfile_has_a_unit():
    assert set(_procfile()) - DEMO_ONLY == set(UNIT_FOR)
    for name in UNIT_FOR.values():
        assert (UNITS / name).is_file(), name
    target = _unit("kiln.target")
    assert set(target["Unit"]["Wants"].split()) == set(UNIT_FOR.values())


def test_each_unit_restarts_alone_and_reads_its_secrets_from_an_environment_file():
    for name in UNIT_FOR.values():
        service = _unit(name)["Service"]
        assert service["Restart"] == "always", name
        assert service["EnvironmentFile"] == "/etc/kiln/kiln.env", name
        assert service["WorkingDirectory"] == INSTALL_DIR.rstrip("/"), name
        assert "SECRET_KEY" not in (UNITS / name).read_text(), name  # secrets live in the file, not the unit
        assert _unit(name)["Unit"]["PartOf"] == "kiln.target", name


def test_every_exec_start_names_files_that_exist_in_the_repository():
    for name in UNIT_FOR.values():
        for arg in _argv(_unit(name)["Service"]["ExecStart"]):
            if arg.startswith(INSTALL_DIR):
                path = ROOT / arg.removeprefix(INSTALL_DIR)
                assert path.exists(), f"{name}: {arg}"


def test_the_workers_run_the_procfile_command_with_systemd_escaping():
    procfile = _procfile()
    for process in ("worker", "drivers", "reports"):
        exec_start = _unit(UNIT_FOR[process])["Service"]["ExecStart"]
        # systemd reads %h as its own specifier (a home directory): celery's %h must be written %%h.
        assert re.search(r"(?<!%)%h", exec_start) is None, exec_start
        queue = re.search(r"-Q (\w+)", procfile[process]).group(1)
        assert f"-Q {queue} " in exec_start and f"--hostname {queue}@%%h" in exec_start
    assert "scripts/serve.sh" in _unit("kiln-web.service")["Service"]["ExecStart"]
    assert " beat " in _unit("kiln-beat.service")["Service"]["ExecStart"]


def test_the_example_environment_file_names_only_documented_variables():
    documented = (ROOT / "docs" / "configuration.md").read_text()
    for line in (UNITS / "kiln.env.example").read_text().splitlines():
        if line and not line.startswith("#"):
            assert f"`{line.split('=', 1)[0]}`" in documented, line


def test_the_example_environment_with_its_secrets_filled_in_passes_check_deploy(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("KILN_", "PYTEST", "DJANGO_"))}
    for line in (UNITS / "kiln.env.example").read_text().splitlines():
        if line and not line.startswith("#"):
            name, value = line.split("=", 1)
            env[name] = value or secrets.token_urlsafe(50)  # the empty ones are the keys an installer generates
    env["STATIC_ROOT"] = str(ROOT / "staticfiles")  # /var/lib/kiln does not exist here; check --deploy reads it
    durable = OwnRedis(tmp_path)  # the example's Redis as docs/deployment.md sets it up: appendonly yes
    durable.start()
    env["REDIS_URL"] = durable.url
    result = subprocess.run([sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"], cwd=ROOT,
                            env=env, capture_output=True, text=True, timeout=120)
    durable.stop()
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues (0 silenced)." in result.stdout


def test_systemd_itself_accepts_every_unit(tmp_path):
    # systemd-analyze (Debian's systemd package) parses each unit as systemd would; the only complaint allowed is
    # that /opt/kiln is not installed on this machine (the paths are checked against the repository above).
    for name in (*UNIT_FOR.values(), "kiln.target"):
        (tmp_path / name).write_text((UNITS / name).read_text())
    for name in (*UNIT_FOR.values(), "kiln.target"):
        result = subprocess.run(["systemd-analyze", "verify", "--man=no", f"./{name}"], cwd=tmp_path,
                                capture_output=True, text=True, timeout=60)
        complaints = [line for line in (result.stdout + result.stderr).splitlines()
                      if line.strip() and not re.search(rf"Command {INSTALL_DIR}\S+ is not executable", line)]
        assert complaints == [], f"{name}: {complaints}"
