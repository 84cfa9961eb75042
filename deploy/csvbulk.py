"""CSV bulk editing of one section (tags, bindings, alarm definitions: the sections marked `csv = True`).

The CSV is a view of the section's bundle items: one column per field, one row per item, the key first. An import
turns the rows back into items and goes through the bundle import (one implementation: the same validation, the
same dry-run diff, one transaction, the same audit), so a spreadsheet can do nothing an import could not.

- A row updates the item with its key, or adds it; columns left out keep the item's current values (or the field
  defaults for a new item), so a CSV of `name,description` edits descriptions only.
- Items without a row stay, unless `remove_missing` is asked for (then the CSV is the whole section).
- Cells are written through scada.csv_safe (no formulas in a spreadsheet); the apostrophe it adds is removed
  again on the way in. Empty cell: null where the field allows it, else the field's default.
"""

from __future__ import annotations

import csv
import io
import json

from deploy.bundle import BUNDLE_FORMAT, BUNDLE_VERSION, sections
from deploy.services import config_import
from scada.csv_safe import csv_safe_cell
from scada.errors import BadRequest, NotFound, Unprocessable

__all__ = ["csv_sections", "csv_section", "csv_export", "csv_import", "MAX_CSV_ROWS"]

MAX_CSV_ROWS = 100_000
_TRUE = {"true", "1", "yes", "y"}
_FALSE = {"false", "0", "no", "n"}


def csv_sections() -> list[str]:
    return [s.name for s in sections() if getattr(s, "csv", False)]


def csv_section(name: str):
    """The section offered for CSV editing under `name`; 404 naming the ones that are."""
    for s in sections():
        if s.name == name and getattr(s, "csv", False):
            return s
    raise NotFound(f"No CSV for '{str(name)[:64]}': CSV bulk editing covers {', '.join(csv_sections())}")


def _cell(field, value):
    if field.kind == "json":
        return csv_safe_cell(json.dumps(value, ensure_ascii=False))
    return csv_safe_cell(value)


def csv_export(*, section: str) -> str:
    """The section as CSV text: a header of field names, then one row per item in key order."""
    s = csv_section(section)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow([f.name for f in s.fields])
    for item in s.export():
        writer.writerow([_cell(f, item[f.name]) for f in s.fields])
    return out.getvalue()


def _unguard(cell: str) -> str:
    # Undo csv_safe_cell's apostrophe: only where csv_safe_cell would have put it, so a real leading ' stays.
    if "'" not in cell:
        return cell
    candidate = "\n".join(line[1:] if line.startswith("'") else line for line in cell.split("\n"))
    return candidate if csv_safe_cell(candidate) == cell else cell


def _parse(field, cell: str):
    """A cell's text as the field's JSON value; ValueError with a short reason."""
    text = _unguard(cell)
    if text == "":
        if field.null:
            return None
        if not field.required:
            return field.default
        if field.kind in ("str", "role"):
            return ""
        raise ValueError("this field is required")
    if field.kind in ("str", "ref", "role"):
        return text
    if field.kind == "bool":
        low = text.strip().lower()
        if low in _TRUE:
            return True
        if low in _FALSE:
            return False
        raise ValueError("must be true or false")
    if field.kind in ("int", "float"):
        try:
            number = float(text)
        except ValueError:
            raise ValueError("must be a number") from None
        return int(number) if field.kind == "int" and number.is_integer() else number
    if field.kind == "json":
        try:
            return json.loads(text)
        except ValueError:
            raise ValueError("must be JSON, e.g. [] or {}") from None
    return text


def _rows(section, text: str) -> tuple[list[str], list[list[str]]]:
    if "\x00" in text:
        raise BadRequest("csv: contains a NUL character")
    reader = csv.reader(io.StringIO(text))
    try:
        rows = list(reader)
    except csv.Error as exc:
        raise BadRequest(f"csv: not readable CSV ({exc})")
    rows = [r for r in rows if any(c.strip() for c in r)]
    if not rows:
        raise BadRequest("csv: empty (the first row names the columns)")
    header = [c.strip() for c in rows[0]]
    known = {f.name for f in section.fields}
    unknown = [c for c in header if c not in known]
    if unknown:
        raise BadRequest(f"csv: unknown column(s) {', '.join(c[:64] for c in unknown[:10])}; the columns are "
                         f"{', '.join(f.name for f in section.fields)}")
    if len(set(header)) != len(header):
        raise BadRequest("csv: a column appears twice")
    missing = [k for k in section.key_fields if k not in header]
    if missing:
        raise BadRequest(f"csv: the key column(s) {', '.join(missing)} are needed")
    if len(rows) - 1 > MAX_CSV_ROWS:
        raise BadRequest(f"csv: at most {MAX_CSV_ROWS} rows")
    return header, rows[1:]


def csv_import(*, section: str, text: str, user, dry_run: bool = False, remove_missing: bool = False,
               reason: str = "", username: str | None = None) -> dict:
    """Apply a CSV of one section (or only answer its diff): the answer of deploy.services.config_import."""
    s = csv_section(section)
    if not isinstance(text, str):
        raise BadRequest("csv: must be text")
    header, rows = _rows(s, text)
    by_name = {f.name: f for f in s.fields}
    current = {s.key(item): item for item in s.export()}
    desired: dict[str, dict] = {} if remove_missing else dict(current)
    problems = []
    for number, row in enumerate(rows, start=2):
        if len(row) != len(header):
            problems.append({"section": s.name, "file": f"{s.name}.csv", "key": f"row {number}",
                             "problem": f"has {len(row)} cells, the header {len(header)}"})
            continue
        values, errors = {}, []
        for name, cell in zip(header, row, strict=True):
            try:
                values[name] = _parse(by_name[name], cell)
            except ValueError as exc:
                errors.append(f"{name}: {exc}")
        key = s.key(values)
        if errors:
            problems += [{"section": s.name, "file": f"{s.name}.csv", "key": f"row {number} ({key[:128]})",
                          "problem": e} for e in errors]
            continue
        base = current.get(key, {})
        desired[key] = {**base, **values}
    if problems:
        raise Unprocessable(f"CSV refused, nothing changed: {len(problems)} problem(s): "
                            + "; ".join(f"{p['key']}: {p['problem']}" for p in problems[:5]),
                            extra={"problems": problems[:1000]})
    bundle = {"format": BUNDLE_FORMAT, "version": BUNDLE_VERSION, "sections": {s.name: list(desired.values())}}
    return config_import(bundle=bundle, user=user, dry_run=dry_run, reason=reason, source=f"csv:{s.name}",
                         username=username)
