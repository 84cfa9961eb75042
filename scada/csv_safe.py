"""One guard for every CSV Kiln writes (alarm journal, history export, error bodies of those): no cell runs as a
spreadsheet formula.

Spreadsheets run a cell whose text starts with = + - @ as a formula (and some strip leading tabs, carriage
returns, line feeds, spaces or other control characters first), so a free-text value such as an alarm message,
a shelve reason or a STRING tag's value could carry `=HYPERLINK(...)` into an engineer's spreadsheet (CSV
injection, OWASP). Such a cell gets a leading apostrophe, which spreadsheets show as "text".

A cell with a carriage return or line feed inside is one quoted field to a CSV reader, but naive line-based
tools (and some importers) start a new row there; so line breaks are normalised to LF and every line of the
cell is guarded the same way as its start. Numbers (including negative ones) are written as they are.
"""

from __future__ import annotations

import re

__all__ = ["csv_safe_cell"]

_TRIGGERS = frozenset("=+-@")
# Leading characters spreadsheets skip before looking for a formula: whitespace and C0 control characters.
_SKIPPED = re.compile(r"[\s\x00-\x1f\x7f]*")
_LINE_BREAKS = re.compile(r"\r\n?")


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _guard_line(line: str) -> str:
    start = _SKIPPED.match(line).end()
    if start == len(line):
        # Only whitespace or control characters: harmless unless it is a tab/CR a spreadsheet might act on.
        return "'" + line if line[:1] in ("\t", "\r") else line
    if line[start] in _TRIGGERS and not _is_number(line.strip()):
        return "'" + line
    if start and line[0] in ("\t", "\r") and not _is_number(line.strip()):
        return "'" + line  # a leading tab or CR is itself a known trigger in some spreadsheets
    return line


def csv_safe_cell(value) -> str | int | float:
    """A value as a safe CSV cell: None → "", a bool → "true"/"false", numbers unchanged, text neutralised so that
    no line of it can start a formula."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return value
    text = str(value)
    if "\r" in text or "\n" in text:
        return "\n".join(_guard_line(line) for line in _LINE_BREAKS.sub("\n", text).split("\n"))
    return _guard_line(text)
