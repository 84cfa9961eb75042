"""Writes a kind's rows to a CSV file as they come (never the whole report in memory), through the one CSV guard
every Kiln CSV uses (scada.csv_safe: no cell runs as a spreadsheet formula)."""

from __future__ import annotations

import csv
from collections.abc import Iterable
from pathlib import Path

from scada.csv_safe import csv_safe_cell

__all__ = ["csv_write"]


def _cell(value):
    # Numbers (the bulk of a history export) go straight through; only text needs the formula guard.
    if value is None:
        return ""
    if type(value) is float or type(value) is int:
        return value
    return csv_safe_cell(value)


def csv_write(path: Path, header: list[str], rows: Iterable[list], trusted: tuple[int, ...] = ()) -> int:
    """Write header and rows to `path` (UTF-8, RFC 4180 line ends); the number of data rows written.

    `trusted`: column indexes whose text cannot start a formula by construction (tag names, ISO times), written
    as they are; every other cell goes through the guard.
    """
    n = 0
    guarded = [i for i in range(len(header)) if i not in trusted]
    with open(path, "w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out)
        writer.writerow(header)
        batch = []
        for row in rows:
            for i in guarded:
                row[i] = _cell(row[i])
            batch.append(row)
            if len(batch) >= 1000:  # writerows on a batch: a third of the per-row call overhead
                writer.writerows(batch)
                n += len(batch)
                batch.clear()
        writer.writerows(batch)
        n += len(batch)
    return n
