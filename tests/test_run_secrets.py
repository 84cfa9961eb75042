"""make run keeps one random set of keys per installation in .kiln/secrets.env (scripts/ensure-secrets.sh)."""

import os
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
NAMES = ("SECRET_KEY", "JWT_SIGNING_KEY", "KILN_AUDIT_KEY")


def source_secrets(install_dir: Path, **env_vars) -> dict:
    """Source the script as run.sh does, in `install_dir`; return the keys it leaves in the environment."""
    (install_dir / ".venv").mkdir(exist_ok=True)
    if not (install_dir / ".venv" / "bin").exists():
        (install_dir / ".venv" / "bin").symlink_to(ROOT / ".venv" / "bin")
    env = {k: v for k, v in os.environ.items() if k not in NAMES} | env_vars
    script = f"set -euo pipefail; source {ROOT / 'scripts' / 'ensure-secrets.sh'}; " + "; ".join(
        f'echo "{n}=${n}"' for n in NAMES)
    result = subprocess.run(["bash", "-c", script], cwd=install_dir, env=env, capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 0, result.stderr
    return dict(line.split("=", 1) for line in result.stdout.splitlines() if line.split("=", 1)[0] in NAMES)


def test_it_generates_random_keys_on_first_run_in_a_private_file(tmp_path):
    keys = source_secrets(tmp_path)
    secrets_file = tmp_path / ".kiln" / "secrets.env"
    assert oct(secrets_file.stat().st_mode & 0o777) == "0o600"
    assert set(keys) == set(NAMES) and len(set(keys.values())) == 3
    assert all(len(v) >= 60 for v in keys.values())


def test_it_reuses_the_keys_on_the_next_run(tmp_path):
    first = source_secrets(tmp_path)
    assert source_secrets(tmp_path) == first


def test_it_gives_each_installation_its_own_keys(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    assert source_secrets(tmp_path / "a")["SECRET_KEY"] != source_secrets(tmp_path / "b")["SECRET_KEY"]


def test_it_lets_a_key_from_the_environment_win(tmp_path):
    source_secrets(tmp_path)
    keys = source_secrets(tmp_path, SECRET_KEY="set-by-the-operator")
    assert keys["SECRET_KEY"] == "set-by-the-operator"


def test_it_keeps_the_secrets_file_out_of_git():
    result = subprocess.run(["git", "check-ignore", "-q", ".kiln/secrets.env"], cwd=ROOT)
    assert result.returncode == 0
