"""Configuration bundles: export, validation and diff, through the sections of settings.KILN_CONFIG_SECTIONS.

A bundle is data only, never code:
    {"format": "kiln-config", "version": 1, "exported_at": "...Z", "instance": "test-1",
     "sections": {"sites": [...], "tags": [...], ...}}
Sections appear in settings order and items in key order, each item's fields in the section's order, so two
exports of the same configuration are byte-identical and a diff of two bundle files is readable. A section
absent from a bundle is left as it is by an import (a CSV edit of the tags is a bundle of the tags alone).
This module reads no table itself: each section belongs to its app (scada.configsections).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from django.conf import settings
from django.utils import timezone

from scada.errors import BadRequest, Unprocessable
from scada.extensions import extension_list
from scada.text import has_nul

__all__ = ["BUNDLE_FORMAT", "BUNDLE_VERSION", "MANIFEST", "sections", "bundle_export", "bundle_schema",
           "bundle_write_dir", "bundle_read_path", "bundle_dumps", "Plan", "bundle_plan"]

BUNDLE_FORMAT = "kiln-config"
BUNDLE_VERSION = 1
MANIFEST = "kiln-bundle.json"
# Problems listed in full in a refusal; the detail line names the first few.
MAX_PROBLEMS = 1000
DETAIL_PROBLEMS = 5


def sections() -> list:
    """Fresh instances of every configured section, in dependency order (a section may hold per-import state)."""
    return [entry.obj() for entry in extension_list("KILN_CONFIG_SECTIONS")]


def _now_iso() -> str:
    return timezone.now().strftime("%Y-%m-%dT%H:%M:%SZ")


def bundle_export(*, only: list[str] | None = None) -> dict:
    """The whole configuration (or the sections named in `only`) as a bundle."""
    return {"format": BUNDLE_FORMAT, "version": BUNDLE_VERSION, "exported_at": _now_iso(),
            "instance": settings.KILN_INSTANCE_NAME,
            "sections": {s.name: s.export() for s in sections() if only is None or s.name in only}}


def bundle_schema() -> dict:
    """The JSON Schema of a bundle, from the sections' field lists (for editors and docs)."""
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", "title": "Kiln configuration bundle",
            "type": "object", "required": ["format", "version", "sections"],
            "properties": {"format": {"type": "string", "enum": [BUNDLE_FORMAT]},
                           "version": {"type": "integer", "enum": [BUNDLE_VERSION]},
                           "exported_at": {"type": "string"}, "instance": {"type": "string"},
                           "sections": {"type": "object", "additionalProperties": False, "properties": {
                               s.name: {"type": "array", "items": s.json_schema()} for s in sections()}}}}


def bundle_dumps(value: Any) -> str:
    return json.dumps(value, indent=2, ensure_ascii=False, allow_nan=False) + "\n"


def bundle_write_dir(bundle: dict, directory: str | Path) -> list[Path]:
    """Write a bundle as a directory: the manifest plus one `<section>.json` file per section (one field a line,
    so a version-control diff of two exports shows exactly what changed)."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    manifest = {k: v for k, v in bundle.items() if k != "sections"}
    manifest["sections"] = list(bundle["sections"])
    written = [directory / MANIFEST]
    written[0].write_text(bundle_dumps(manifest))
    for name, items in bundle["sections"].items():
        path = directory / f"{name}.json"
        path.write_text(bundle_dumps(items))
        written.append(path)
    return written


def bundle_read_path(path: str | Path) -> dict:
    """A bundle from a directory written by bundle_write_dir, or from one JSON file. 400 when unreadable."""
    path = Path(path)

    def load(p: Path):
        try:
            return json.loads(p.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, ValueError) as exc:
            raise BadRequest(f"{p.name}: not readable JSON ({exc})")

    if path.is_file():
        return load(path)
    if not (path / MANIFEST).is_file():
        raise BadRequest(f"{path}: neither a bundle file nor a directory with {MANIFEST}")
    manifest = load(path / MANIFEST)
    if not isinstance(manifest, dict) or not isinstance(manifest.get("sections"), list):
        raise BadRequest(f"{MANIFEST}: 'sections' must list the section files")
    known = {s.name for s in sections()}
    bundle = {k: v for k, v in manifest.items() if k != "sections"}
    bundle["sections"] = {}
    for name in manifest["sections"]:
        if name not in known:
            raise BadRequest(f"{MANIFEST}: unknown section '{str(name)[:64]}'")
        bundle["sections"][name] = load(path / f"{name}.json")
    return bundle


@dataclass
class Plan:
    """What an import of a bundle would do: per section, the items added, changed (old, new) and removed keys."""

    sections: list
    desired: dict[str, dict[str, dict]] = field(default_factory=dict)
    added: dict[str, list[dict]] = field(default_factory=dict)
    changed: dict[str, list[tuple[dict, dict]]] = field(default_factory=dict)
    removed: dict[str, list[str]] = field(default_factory=dict)

    @property
    def count(self) -> int:
        return sum(len(v) for d in (self.added, self.changed, self.removed) for v in d.values())

    def touched(self, name: str) -> bool:
        return bool(self.added.get(name) or self.changed.get(name) or self.removed.get(name))

    def diff(self) -> dict:
        """The answer a dry run gives: per section, added and removed keys and changed fields (old → new)."""
        out = {}
        for s in self.sections:
            if not self.touched(s.name):
                continue
            out[s.name] = {
                "added": [s.key(item) for item in self.added.get(s.name, [])],
                "changed": [{"key": s.key(new), "fields": {k: {"old": old[k], "new": new[k]} for k in new
                                                           if old[k] != new[k]}}
                            for old, new in self.changed.get(s.name, [])],
                "removed": list(self.removed.get(s.name, [])),
            }
        count = self.count
        return {"changes": count, "detail": "no changes" if not count else _summary(out), "sections": out}


def _summary(diff: dict) -> str:
    parts = []
    for name, d in diff.items():
        bits = [f"{len(d[k])} {k}" for k in ("added", "changed", "removed") if d[k]]
        parts.append(f"{name}: {', '.join(bits)}")
    return "; ".join(parts)


def _refuse(problems: list[dict], status=Unprocessable):
    head = "; ".join(f"{p['section']} '{p['key']}': {p['problem']}" if p["key"] else f"{p['section']}: "
                     f"{p['problem']}" for p in problems[:DETAIL_PROBLEMS])
    more = f" (and {len(problems) - DETAIL_PROBLEMS} more)" if len(problems) > DETAIL_PROBLEMS else ""
    raise status(f"Bundle refused, nothing changed: {len(problems)} problem(s): {head}{more}",
                  extra={"problems": problems[:MAX_PROBLEMS]})


def _problem(section: str, key: str, problem: str) -> dict:
    return {"section": section, "file": f"{section}.json", "key": key, "problem": problem}


def bundle_plan(bundle: Any, *, current: dict | None = None) -> Plan:
    """Validate `bundle` whole and compare it with the configuration now (or with `current`, a bundle).

    400 when it is not a bundle at all; 422 listing every problem (file, object, what) when any item is wrong.
    Nothing is written.
    """
    if not isinstance(bundle, dict) or bundle.get("format") != BUNDLE_FORMAT:
        raise BadRequest(f"Not a configuration bundle: expected an object with \"format\": \"{BUNDLE_FORMAT}\"")
    if bundle.get("version") != BUNDLE_VERSION:
        raise BadRequest(f"Unsupported bundle version {str(bundle.get('version'))[:20]!s}: this Kiln reads "
                         f"version {BUNDLE_VERSION}")
    for name in ("exported_at", "instance"):
        if not isinstance(bundle.get(name, ""), str) or has_nul(bundle.get(name, "")):
            raise BadRequest(f"{name}: must be a string without NUL characters")
    given = bundle.get("sections")
    if not isinstance(given, dict):
        raise BadRequest("sections: must be an object of section name → list of items")
    all_sections = sections()
    known = {s.name for s in all_sections}
    unknown = sorted(str(k)[:64] for k in given if k not in known)
    if unknown:
        raise BadRequest(f"sections: unknown section(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}")
    if current is None:
        current = bundle_export(only=None)
    current_sections = current.get("sections", {})
    plan = Plan(sections=all_sections)
    problems: list[dict] = []
    stored: dict[str, dict[str, dict]] = {}
    fresh: dict[str, set[str]] = {}
    for s in all_sections:
        stored[s.name] = now = {s.key(item): item for item in current_sections.get(s.name, [])}
        # An absent section stays as it is: it takes part in validation (references) as it stands now.
        if s.name not in given:
            plan.desired[s.name], fresh[s.name] = now, set()
            continue
        items = given[s.name]
        if not isinstance(items, list):
            problems.append(_problem(s.name, "", "must be a list of items"))
            plan.desired[s.name], fresh[s.name] = {}, set()
            continue
        desired: dict[str, dict] = {}
        for i, item in enumerate(items):
            key = s.key(item) if isinstance(item, dict) else ""
            old = now.get(key)
            # An item identical (values and JSON types) to its stored canonical form was valid when stored: it
            # skips the shape check and normalizing, the bulk of a diff where 1 % of 45,000 items changed.
            if old is None or not _identical_item(item, old):
                errors = s.shape_errors(item)
                if errors:
                    problems += [_problem(s.name, key or f"#{i + 1}", e) for e in errors]
                    continue
                item = s.normalize(item)
                key = s.key(item)
            if key in desired:
                problems.append(_problem(s.name, key, "appears twice"))
            desired[key] = item
        plan.desired[s.name] = desired
        fresh[s.name] = {key for key, item in desired.items() if now.get(key) != item}
    if problems:
        _refuse(problems, status=Unprocessable)
    for s in all_sections:
        # Sections refer only to sections before them, so one pass in order carries freshness down the chain.
        fresh[s.name] |= s.dependents(plan.desired[s.name], fresh)
    for s in all_sections:
        problems += [_problem(s.name, key, msg)
                     for key, msg in s.check(plan.desired[s.name], plan.desired, fresh[s.name])]
    if problems:
        _refuse(problems)
    for s in all_sections:
        if s.name not in given:
            continue
        now, want = stored[s.name], plan.desired[s.name]
        added = [item for key, item in want.items() if key not in now]
        changed = [(now[key], item) for key, item in want.items() if key in now and now[key] != item]
        removed = sorted(key for key in now if key not in want)
        added.sort(key=s.key)
        changed.sort(key=lambda pair: s.key(pair[1]))
        if added:
            plan.added[s.name] = added
        if changed:
            plan.changed[s.name] = changed
        if removed:
            plan.removed[s.name] = removed
    return plan


def _identical(a, b) -> bool:
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(_identical(v, b[k]) for k, v in a.items())
    if isinstance(a, list):
        return len(a) == len(b) and all(map(_identical, a, b))
    return a == b


def _identical_item(item, stored: dict) -> bool:
    """`item` equals the stored item with the same JSON types (Python's 1 == True == 1.0 would let a bool field
    given as 1 skip the shape check)."""
    if not isinstance(item, dict) or item != stored:
        return False
    for k, v in item.items():
        w = stored[k]
        if type(v) is not type(w) or isinstance(v, dict | list) and not _identical(v, w):
            return False
    return True
