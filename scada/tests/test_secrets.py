"""With DEBUG off, Kiln refuses to start on a weak SECRET_KEY, JWT_SIGNING_KEY or KILN_AUDIT_KEY; with DEBUG on
it never falls back to a key published in the repository."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]  # the repository
STRONG = "vJ3q-8Zr_TmW2xKp0LbY7nHd5FsC1gEa9UoQ4iRt6"
STRONG_2 = "Q9w8E7r6T5y4U3i2O1pA_sDfGhJkLzXcVbNm-0aa"
KEY_NAMES = ("SECRET_KEY", "JWT_SIGNING_KEY", "KILN_AUDIT_KEY")


def settings_in_subprocess(**env_vars):
    """Import scada.settings in a fresh interpreter with exactly these keys; print the three effective keys."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("KILN_", "PYTEST")) and not k.startswith(KEY_NAMES)}
    env.update(ALLOWED_HOSTS="scada.plant.example", DJANGO_SETTINGS_MODULE="scada.settings", **env_vars)
    code = ("from scada import settings as s; "
            "print(s.SECRET_KEY); print(s.SIMPLE_JWT['SIGNING_KEY']); print(s.KILN_AUDIT_KEY)")
    return subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=60)


@pytest.mark.parametrize("name", KEY_NAMES)
@pytest.mark.parametrize("weak", ["a" * 32, "ab" * 40, "short-but-random-7Qz",
                                  "kiln-demo-insecure-secret-key-change-me"])
def test_it_refuses_a_weak_key_in_production(name, weak):
    keys = {"SECRET_KEY": STRONG} | {name: weak}
    result = settings_in_subprocess(DEBUG="0", **keys)
    assert result.returncode != 0
    assert f"ImproperlyConfigured: {name} must be set to a random value" in result.stderr


def test_it_accepts_strong_keys_in_production():
    result = settings_in_subprocess(DEBUG="0", SECRET_KEY=STRONG, JWT_SIGNING_KEY=STRONG_2, KILN_AUDIT_KEY=STRONG_2)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == [STRONG, STRONG_2, STRONG_2]


def test_it_reads_a_weak_key_from_its_file_and_refuses_it(tmp_path):
    path = tmp_path / "audit.key"
    path.write_text("x" * 64 + "\n")
    result = settings_in_subprocess(DEBUG="0", SECRET_KEY=STRONG, KILN_AUDIT_KEY_FILE=str(path))
    assert result.returncode != 0
    assert "KILN_AUDIT_KEY must be set to a random value" in result.stderr


def test_it_uses_a_fresh_random_key_in_debug_when_none_is_given():
    first = settings_in_subprocess(DEBUG="1")
    second = settings_in_subprocess(DEBUG="1")
    assert first.returncode == 0 and second.returncode == 0, first.stderr + second.stderr
    key = first.stdout.split()[0]
    assert len(key) >= 32 and key != second.stdout.split()[0]
    assert "kiln-demo-insecure" not in first.stdout
