"""Historian configuration: the KILN_HISTORIAN_* and KILN_HISTORY_* values of the one settings module.

They are defined (from the environment, with their defaults and minimums) in scada/settings.py and listed in
docs/configuration.md. `conf.NAME` reads django.conf.settings on every access, so tests can override a value with
pytest-django's `settings` fixture and nothing stale is kept.
"""

from __future__ import annotations

from django.conf import settings

__all__ = ["conf"]

_PREFIXES = ("KILN_HISTORIAN_", "KILN_HISTORY_")


class _Conf:
    def __getattr__(self, name: str) -> int:
        if not name.startswith(_PREFIXES):
            raise AttributeError(name)
        return getattr(settings, name)


conf = _Conf()
