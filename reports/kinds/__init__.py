"""Report kinds: the code behind each definition, named in the ordered setting KILN_REPORT_KINDS.

An engineer adds definitions of these kinds in Django admin; a new kind is a class added to the setting.
"""

from __future__ import annotations

from reports.kinds.base import Cancelled, Param, ReportContext, ReportKind, Section, parse_when, plant_zone
from scada.errors import NotFound
from scada.extensions import extension_list

__all__ = ["kinds", "kind_get", "Cancelled", "Param", "ReportContext", "ReportKind", "Section", "parse_when",
           "plant_zone"]

_instances: dict[type, ReportKind] = {}


def kinds() -> dict[str, ReportKind]:
    """name → kind, in KILN_REPORT_KINDS order."""
    out = {}
    for entry in extension_list("KILN_REPORT_KINDS"):
        kind = _instances.setdefault(entry.obj, entry.obj())
        out[kind.name] = kind
    return out


def kind_get(name: str) -> ReportKind:
    try:
        return kinds()[name]
    except KeyError:
        raise NotFound(f"Report kind {name!r} is not installed (KILN_REPORT_KINDS)")
