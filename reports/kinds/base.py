"""What every report kind shares: its parameters (typed, with defaults), how they are read from a request or a
schedule, and the context a kind builds its output from.

A kind is plain Python named in the ordered setting KILN_REPORT_KINDS; a definition (reports.models) picks one
and sets its title, tags and defaults. Parameters are checked before any work is queued, so a bad one is a 400
naming it, never a failed run later.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from django.conf import settings
from django.utils.dateparse import parse_datetime

from scada.errors import BadRequest
from scada.roles import Role
from scada.text import has_nul

__all__ = ["Param", "ReportContext", "ReportKind", "Section", "parse_when", "plant_zone", "Cancelled"]

# "now", "now-24h", "now+30m", "today", "today-1d": plant-relative times, so a schedule's "last 24 h" and a
# form's default mean something when they run. Nothing else is interpreted (no expressions, no eval).
_RELATIVE = re.compile(r"^(now|today)(?:([+-])(\d{1,5})([mhd]))?$")
_UNITS = {"m": 60, "h": 3600, "d": 86400}
MAX_TEXT = 200
MAX_LIST = 100


class Cancelled(Exception):
    """Raised inside a kind when its run was cancelled; the run ends as cancelled, with no file."""


def _text_ok(value: str, limit: int) -> bool:
    """Short, NUL-free text that UTF-8 (and so PostgreSQL) can hold: no lone surrogates."""
    if len(value) > limit or has_nul(value):
        return False
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def plant_zone() -> ZoneInfo:
    return ZoneInfo(settings.KILN_PLANT_TIME_ZONE)


def parse_when(text: str, *, now: datetime) -> datetime:
    """An ISO 8601 date-time (UTC when it names no offset) or a relative time; ValueError otherwise."""
    text = text.strip()
    match = _RELATIVE.match(text)
    if match:
        base, sign, amount, unit = match.groups()
        if base == "now":
            when = now
        else:  # midnight in the plant's time zone, as the plant's day starts
            local = now.astimezone(plant_zone())
            when = local.replace(hour=0, minute=0, second=0, microsecond=0).astimezone(UTC)
        if amount:
            delta = timedelta(seconds=int(amount) * _UNITS[unit])
            when = when - delta if sign == "-" else when + delta
        return when
    parsed = parse_datetime(text)  # ValueError for a well-formed but impossible date (2026-02-30)
    if parsed is None:
        raise ValueError("not an ISO 8601 date-time nor a relative time (now, now-8h, today-1d)")
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    # Python refuses arithmetic past year 1..9999 and PostgreSQL refuses offsets past ±15:59; keep a sane range.
    if not (datetime(1970, 1, 1, tzinfo=UTC) <= parsed <= datetime(9000, 1, 1, tzinfo=UTC)):
        raise ValueError("out of range (1970 to 9000)")
    return parsed.astimezone(UTC)


@dataclass(frozen=True)
class Param:
    """One parameter of a report kind, as GET /api/reports lists it."""

    name: str
    type: str  # datetime | int | string | choice | choices | tags
    label: str = ""
    default: Any = None
    required: bool = False
    choices: tuple[str, ...] = ()
    minimum: int | None = None
    maximum: int | None = None
    help: str = ""

    def describe(self, default: Any) -> dict:
        out = {"name": self.name, "type": self.type, "label": self.label or self.name.replace("_", " ").capitalize(),
               "default": default, "required": self.required, "help": self.help}
        if self.choices:
            out["choices"] = list(self.choices)
        if self.minimum is not None:
            out["minimum"] = self.minimum
        if self.maximum is not None:
            out["maximum"] = self.maximum
        return out

    def clean(self, value: Any, *, now: datetime) -> Any:
        """The value as the kind uses it; ValueError with a short reason when it cannot be."""
        if self.type == "datetime":
            if not isinstance(value, str) or not value or not _text_ok(value, 64):
                raise ValueError("expected an ISO 8601 date-time or a relative time such as now-8h")
            return parse_when(value, now=now)
        if self.type == "int":
            if isinstance(value, bool) or not isinstance(value, int | str | float):
                raise ValueError("expected an integer")
            if isinstance(value, float) and (not math.isfinite(value) or value != int(value)):
                raise ValueError("expected an integer")
            try:
                number = int(value) if not isinstance(value, str) or len(value) < 20 else None
            except ValueError:
                number = None
            if number is None:
                raise ValueError("expected an integer")
            if self.minimum is not None and number < self.minimum:
                raise ValueError(f"must be at least {self.minimum}")
            if self.maximum is not None and number > self.maximum:
                raise ValueError(f"must be at most {self.maximum}")
            return number
        if self.type == "string":
            if not isinstance(value, str) or not _text_ok(value, MAX_TEXT):
                raise ValueError(f"expected text of at most {MAX_TEXT} characters")
            return value
        if self.type == "choice":
            if value not in self.choices:
                raise ValueError(f"expected one of {', '.join(self.choices)}")
            return value
        if self.type in ("choices", "tags"):
            items = value.split(",") if isinstance(value, str) else value
            if not isinstance(items, list) or len(items) > MAX_LIST:
                raise ValueError(f"expected a list (or comma-separated text) of at most {MAX_LIST} items")
            cleaned = []
            for item in items:
                if not isinstance(item, str) or not _text_ok(item, 128):
                    raise ValueError("expected names of at most 128 characters")
                if item.strip() and item.strip() not in cleaned:
                    cleaned.append(item.strip())
            if self.type == "choices" and any(c not in self.choices for c in cleaned):
                raise ValueError(f"expected items among {', '.join(self.choices)}")
            return cleaned
        raise ValueError(f"unknown parameter type {self.type}")  # pragma: no cover - a kind's own bug


@dataclass
class Section:
    """One part of a PDF: a heading, then any of a paragraph, key figures, charts (SVG text) and a table."""

    title: str
    text: str = ""
    figures: list[tuple[str, str]] = field(default_factory=list)
    charts: list[str] = field(default_factory=list)
    columns: list[str] = field(default_factory=list)
    rows: list[list] = field(default_factory=list)
    note: str = ""


@dataclass
class ReportContext:
    """What a kind builds from: the definition, the cleaned parameters, the time it runs and a progress hook."""

    definition: Any
    params: dict
    now: datetime
    username: str = ""
    progress: Callable[[float], None] = lambda fraction: None

    @property
    def zone(self) -> ZoneInfo:
        return plant_zone()


class ReportKind:
    """Base of every report kind. Subclasses set name, title, parameters and write csv_rows / sections."""

    name = ""
    title = ""
    description = ""
    parameters: tuple[Param, ...] = ()
    formats: tuple[str, ...] = ("pdf", "csv")
    # The least role that may run any definition of this kind, whatever the definition says (audit: Admin).
    min_role = Role.OPERATOR
    orientation = "portrait"
    # CSV columns whose text cannot start a spreadsheet formula by construction (skip the per-cell guard).
    csv_trusted_columns: tuple[int, ...] = ()

    def defaults(self, definition) -> dict:
        """Each parameter's default, the definition's own overriding the kind's."""
        own = definition.defaults if isinstance(definition.defaults, dict) else {}
        return {p.name: own.get(p.name, p.default) for p in self.parameters}

    def describe(self, definition) -> list[dict]:
        defaults = self.defaults(definition)
        return [p.describe(defaults[p.name]) for p in self.parameters]

    def clean(self, definition, raw: Any, *, now: datetime) -> dict:
        """Cleaned parameters (defaults filled in); BadRequest naming the first bad one."""
        if raw is None:
            raw = {}
        if not isinstance(raw, dict):
            raise BadRequest("parameters: expected an object")
        known = {p.name: p for p in self.parameters}
        unknown = [str(k)[:64] for k in raw if k not in known]
        if unknown:
            raise BadRequest(f"parameters.{unknown[0]}: unknown parameter; this report takes "
                             f"{', '.join(known) or 'none'}")
        defaults = self.defaults(definition)
        cleaned: dict[str, Any] = {}
        for p in self.parameters:
            value = raw.get(p.name, defaults[p.name])
            if value is None or value == "" or value == []:
                if p.required and not self.fills(definition, p.name):
                    raise BadRequest(f"parameters.{p.name}: this parameter is required")
                cleaned[p.name] = None if p.type not in ("choices", "tags") else []
                continue
            try:
                cleaned[p.name] = p.clean(value, now=now)
            except ValueError as exc:
                raise BadRequest(f"parameters.{p.name}: {exc}")
        self.check(definition, cleaned, now=now)
        return cleaned

    def fills(self, definition, name: str) -> bool:
        """True when the definition supplies a required parameter itself (its tags, say)."""
        return False

    def check(self, definition, params: dict, *, now: datetime) -> None:
        """Cross-parameter checks (end after start, ...); raise BadRequest naming the parameter."""

    def estimate_rows(self, ctx: ReportContext) -> int:
        """Roughly how many rows the output holds: small reports are answered at once, large ones queued."""
        return 0

    def csv_header(self, ctx: ReportContext) -> list[str]:
        raise NotImplementedError

    def csv_rows(self, ctx: ReportContext) -> Iterator[list]:
        raise NotImplementedError

    def sections(self, ctx: ReportContext) -> list[Section]:
        raise NotImplementedError

    def range_text(self, ctx: ReportContext) -> str:
        start, end = ctx.params.get("start"), ctx.params.get("end")
        if not start or not end:
            return ""
        zone = ctx.zone
        fmt = "%Y-%m-%d %H:%M"
        return (f"{start.astimezone(zone).strftime(fmt)} to {end.astimezone(zone).strftime(fmt)} "
                f"({zone.key})")


def range_check(params: dict, *, max_days: int | None = None) -> None:
    """end after start (and a bounded span): the checks every ranged report shares."""
    start, end = params.get("start"), params.get("end")
    if start and end and end <= start:
        raise BadRequest("parameters.end: must be after start")
    if max_days and start and end and end - start > timedelta(days=max_days):
        raise BadRequest(f"parameters.start: the range is at most {max_days} days")
