"""Kiln's extension points, read from code settings once per process (docs/architecture.md, "Extending Kiln").

Two of Django's own idioms, nothing hand-written per extension point:

- an ordered list of dotted paths, like MIDDLEWARE: `extension_list("KILN_VALUE_CONSUMERS")`;
- one pluggable backend, like AUTHENTICATION_BACKENDS: `extension_backend("KILN_WRITE_ROUTER")` (a class is
  instantiated once; a function is used as it is; an empty setting means "none").

Fan-out where order does not matter is a signal sent with `send_robust` (tags/signals.py), not a setting.

Paths are imported on first use, never per call: the values path reads its consumers for every poll cycle, so
the resolved tuple is cached. A test that overrides one of these settings (pytest-django's `settings` fixture,
`override_settings`) fires `setting_changed`, which drops that setting's cached entry.
"""

from __future__ import annotations

import inspect
import threading
from typing import NamedTuple

from django.conf import settings
from django.core.signals import setting_changed
from django.dispatch import receiver
from django.utils.module_loading import import_string

__all__ = ["EXTENSION_LISTS", "EXTENSION_BACKENDS", "Extension", "extension_list", "extension_backend"]

# Every extension setting, so a test can check that each entry imports (tests/test_extensions.py).
EXTENSION_LISTS = ("KILN_VALUE_CONSUMERS", "KILN_TAG_VALIDATORS", "KILN_STATUS_PROVIDERS", "KILN_DEMO_LOADERS",
                   "KILN_REPORT_KINDS", "KILN_TAG_USAGE_PROVIDERS", "KILN_CONFIG_SECTIONS", "KILN_HEALTH_CHECKS")
EXTENSION_BACKENDS = ("KILN_WRITE_ROUTER", "KILN_DEVICE_ALARMS_PROVIDER")


class Extension(NamedTuple):
    """One resolved entry of an ordered extension setting: its dotted path (for logs) and the object."""

    path: str
    obj: object


_resolved: dict[str, object] = {}
# Held only on a miss: two threads must not build two write routers (each serializes writes with its own locks).
_resolving = threading.RLock()


def extension_list(setting: str) -> tuple[Extension, ...]:
    """The entries of an ordered extension setting, imported once, in the setting's order."""
    try:
        return _resolved[setting]
    except KeyError:
        pass
    with _resolving:
        if setting not in _resolved:
            _resolved[setting] = tuple(Extension(path, import_string(path)) for path in getattr(settings, setting))
        return _resolved[setting]


def extension_backend(setting: str):
    """The backend a single-contract setting names, imported (and, for a class, instantiated) once; None if empty."""
    try:
        return _resolved[setting]
    except KeyError:
        pass
    with _resolving:
        if setting not in _resolved:
            path = getattr(settings, setting)
            backend = import_string(path) if path else None
            _resolved[setting] = backend() if inspect.isclass(backend) else backend
        return _resolved[setting]


@receiver(setting_changed, dispatch_uid="kiln-extensions-reset")
def _reset(*, setting: str, **kwargs) -> None:
    # Only the overridden setting is dropped: the others keep their instances (a write router's caches).
    _resolved.pop(setting, None)
