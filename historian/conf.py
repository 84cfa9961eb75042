"""Historian configuration: the KILN_HISTORIAN_* and KILN_HISTORY_* values of the one settings module.

They are defined (from the environment, with their defaults and minimums) in scada/settings.py and listed in
docs/configuration.md. `conf.NAME` reads django.conf.settings on every access, so tests can override a value with
pytest-django's `settings` fixture and nothing stale is kept.
"""

from __future__ import annotations

from django.conf import settings

__all__ = ["conf", "statement_timeout_local"]

_PREFIXES = ("KILN_HISTORIAN_", "KILN_HISTORY_")


class _Conf:
    def __getattr__(self, name: str) -> int:
        if not name.startswith(_PREFIXES):
            raise AttributeError(name)
        return getattr(settings, name)


conf = _Conf()


def statement_timeout_local(cur) -> None:
    """Give the open transaction the historian's own statement timeout (SET LOCAL: it ends with the transaction).

    A COPY of a large backlog or a CLUSTER of a day's partition legitimately outlasts the few seconds that
    DB_STATEMENT_TIMEOUT_MS allows a web request; cancelling them would only make the writer retry forever.
    """
    cur.execute(f"SET LOCAL statement_timeout = {int(conf.KILN_HISTORIAN_STATEMENT_TIMEOUT_MS)}")
