"""Parsing of Kiln's environment variables, for scada/settings.py (the one settings module) and processes
that read a variable before Django is set up. Each helper fails loudly with ImproperlyConfigured instead of
guessing when a variable is malformed.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from django.core.exceptions import ImproperlyConfigured

# Secrets that ship in this repository (earlier demos, docs) and must never run a plant.
KNOWN_INSECURE_SECRET_KEYS = {"", "kiln-demo-insecure-secret-key-change-me", "changeme", "secret"}
# A production key must be at least this long and use at least this many distinct characters ("a" * 32 is not a key).
SECRET_MIN_LENGTH = 32
SECRET_MIN_DISTINCT = 10

def envstr(name: str, default: str) -> str:
    return os.environ.get(name, default)


def envbool(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    if raw.lower() in ("1", "true", "yes", "on"):
        return True
    if raw.lower() in ("0", "false", "no", "off"):
        return False
    raise ImproperlyConfigured(f"{name} must be a boolean (1/0, true/false), got {raw!r}")


def envint(name: str, default: int, minimum: int | None = None) -> int:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be an integer, got {raw!r}")
    if minimum is not None and value < minimum:
        raise ImproperlyConfigured(f"{name} must be at least {minimum}, got {value}")
    return value


def envlist(name: str, default: str) -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


def envsecret(name: str, default: str) -> str:
    """A secret from NAME, or from the file named by NAME_FILE (Docker/Kubernetes secrets)."""
    path = os.environ.get(f"{name}_FILE")
    if path:
        try:
            return Path(path).read_text().strip()
        except OSError as exc:
            raise ImproperlyConfigured(f"{name}_FILE points at {path!r}, which cannot be read: {exc}")
    return os.environ.get(name, default)


def weak_secret_reason(value: str) -> str | None:
    """Why `value` cannot be a production key, or None when it can."""
    if value in KNOWN_INSECURE_SECRET_KEYS or value.startswith("django-insecure"):
        return "is a published default"
    if len(value) < SECRET_MIN_LENGTH:
        return f"is shorter than {SECRET_MIN_LENGTH} characters"
    if len(set(value)) < SECRET_MIN_DISTINCT:
        return f"has fewer than {SECRET_MIN_DISTINCT} distinct characters"
    return None


def dev_secret(name: str) -> str:
    """A random key for a developer's or the test suite's process that was given none (never a published one).

    Put in the environment, so processes this one starts (the suite's daphne, runserver's reloader) share it.
    `make run` instead keeps one key per installation in .kiln/secrets.env, stable across restarts.
    """
    value = secrets.token_urlsafe(50)
    os.environ[name] = value
    return value
