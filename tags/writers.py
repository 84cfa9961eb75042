"""The driver contract for writes: how a tag write reaches a PLC without `tags` importing `drivers`.

settings.KILN_WRITE_ROUTER names the one WriteRouter (drivers.writes.DriverWriteRouter), instantiated once per
process like an authentication backend. The tag write service asks it whether a tag is fed by
a PLC; if so the router encodes, writes, reads back and answers a DriverWriteOutcome. Tags no driver feeds
(manual / calculated / external-system tags) are recorded straight through tags.values.tag_values_record.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from scada.extensions import extension_backend

__all__ = ["DriverWriteOutcome", "WriteRouter", "get_write_router", "DriverWriteError"]


class DriverWriteError(Exception):
    """The PLC refused or did not answer the write. `detail` is shown to the user; nothing was confirmed.

    `unknown_outcome=True` means the request may have reached the PLC (reply lost): never retried blindly.
    """

    def __init__(self, detail: str, *, unknown_outcome: bool = False):
        self.detail = detail
        self.unknown_outcome = unknown_outcome
        super().__init__(detail)


@dataclass(slots=True)
class DriverWriteOutcome:
    confirmed: bool  # the read-back matched the value written
    readback: object  # the value read back from the PLC, in engineering units (None if it could not be read)


class WriteRouter(Protocol):
    def handles(self, tag_id: int) -> bool:
        """True when the tag is bound to a driver connection (its value comes from a PLC)."""

    def write(self, *, tag, value) -> DriverWriteOutcome:
        """Write `value` (already validated, engineering units) to the PLC and read it back.

        Serializes writes to one tag; raises DriverWriteError on failure. Records the read-back value through
        tags.values.tag_values_record itself, so the live table shows what the PLC holds.
        """


def get_write_router() -> WriteRouter | None:
    """The router settings.KILN_WRITE_ROUTER names (one instance per process), or None when it is empty.

    Tests swap in a fake by overriding the setting (pytest-django's `settings` fixture), which drops the cached
    instance; see tests/fixtures.py `plc_router`.
    """
    return extension_backend("KILN_WRITE_ROUTER")
