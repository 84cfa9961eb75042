"""Validation of a screen's bindings: which SVG element shows which tag, and how.

A binding is a small JSON object (see docs in Screen.bindings). Validation is strict about shape (kinds,
numbers, colours, ids that exist in the drawing) because the browser applies bindings without further
checks; it is lenient about tags that do not exist yet, which the page shows as unresolved instead.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable

from hmi.choices import BindingKind, ClickAction

__all__ = ["BindingError", "bindings_validate", "binding_tag_names", "binding_devices", "binding_screens"]

MAX_BINDINGS = 5000
TAG_NAME_RE = re.compile(r"^[A-Za-z][A-Za-z0-9_.-]{0,127}$")
SLUG_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
# Colours are set as SVG attributes by the browser: accept only plain colour syntax, nothing with url().
COLOR_RE = re.compile(r"^(#[0-9A-Fa-f]{3,8}|[a-z]{3,20}|rgba?\(\s*[\d.\s,%]+\))$")

KIND_KEYS = {
    BindingKind.TEXT: {"decimals", "show_unit", "labels", "unit"},
    BindingKind.COLOR: {"ranges", "states", "attribute", "default"},
    BindingKind.FILL: {"min", "max", "direction"},
    BindingKind.VISIBLE: {"when", "above", "below"},
    BindingKind.ROTATE: {"min", "max", "degrees", "cx", "cy"},
    BindingKind.CLICK: {"action", "device", "command", "screen"},
}
COMMON_KEYS = {"element", "kind", "tag"}


class BindingError(ValueError):
    """The bindings cannot be stored; `errors` lists every problem found, one line each."""

    def __init__(self, errors: list[str]):
        self.errors = errors
        super().__init__("; ".join(errors))


def _number(value, where: str, errors: list[str]) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        errors.append(f"{where} must be a number")
        return None
    try:
        number = float(value)
    except OverflowError:  # a 400-digit integer: JSON allows it, a float does not
        number = math.inf
    if not math.isfinite(number) or abs(number) > 1e15:
        errors.append(f"{where} must be a finite number of at most 1e15")
        return None
    return number


def _color(value, where: str, errors: list[str]) -> None:
    if not isinstance(value, str) or not COLOR_RE.match(value.strip()):
        errors.append(f"{where} must be a colour such as #2e7d32, red or rgb(0,128,0)")


def _state_key(value) -> str:
    # State maps are keyed by the value as JSON text (true/false/1/"AUTO") so BOOL and INT states both work.
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _validate_one(i: int, b, ids: set[str] | None, errors: list[str]) -> dict | None:
    where = f"binding {i + 1}"
    if not isinstance(b, dict):
        errors.append(f"{where}: must be an object")
        return None
    element = b.get("element")
    if not isinstance(element, str) or not element:
        errors.append(f"{where}: 'element' (the id of an SVG element) is required")
        return None
    where = f"binding {i + 1} ({element})"
    if ids is not None and element not in ids:
        errors.append(f"{where}: no element with id '{element}' in the drawing")
    try:
        kind = BindingKind(b.get("kind"))
    except ValueError:
        errors.append(f"{where}: 'kind' must be one of {', '.join(BindingKind.values)}")
        return None
    unknown = set(b) - COMMON_KEYS - KIND_KEYS[kind]
    if unknown:
        errors.append(f"{where}: unknown keys {sorted(unknown)} for kind '{kind}'")
    tag = b.get("tag")
    action = b.get("action")
    needs_tag = kind != BindingKind.CLICK or action in (ClickAction.WRITE, ClickAction.TREND, ClickAction.FACEPLATE)
    if tag is not None and (not isinstance(tag, str) or not TAG_NAME_RE.match(tag)):
        errors.append(f"{where}: 'tag' is not a valid tag name")
    elif needs_tag and not tag:
        errors.append(f"{where}: 'tag' is required")
    out = {k: v for k, v in b.items() if k in COMMON_KEYS | KIND_KEYS[kind]}

    if kind == BindingKind.TEXT:
        decimals = b.get("decimals")
        if decimals is not None and (isinstance(decimals, bool) or not isinstance(decimals, int)
                                     or not 0 <= decimals <= 6):
            errors.append(f"{where}: 'decimals' must be an integer from 0 to 6")
        if "show_unit" in b and not isinstance(b["show_unit"], bool):
            errors.append(f"{where}: 'show_unit' must be true or false")
        if "unit" in b and (not isinstance(b["unit"], str) or len(b["unit"]) > 32):
            errors.append(f"{where}: 'unit' must be a short text")
        labels = b.get("labels")
        if labels is not None:
            if not isinstance(labels, dict) or not all(isinstance(v, str) and len(v) <= 64 for v in labels.values()):
                errors.append(f"{where}: 'labels' maps values to short texts, e.g. {{\"true\": \"Open\"}}")
            else:
                out["labels"] = {_state_key(k): v for k, v in labels.items()}
    elif kind == BindingKind.COLOR:
        if b.get("attribute", "fill") not in ("fill", "stroke"):
            errors.append(f"{where}: 'attribute' must be fill or stroke")
        if "default" in b:
            _color(b["default"], f"{where}: 'default'", errors)
        ranges, states = b.get("ranges"), b.get("states")
        if (ranges is None) == (states is None):
            errors.append(f"{where}: give either 'ranges' or 'states'")
        if ranges is not None:
            if not isinstance(ranges, list) or not ranges:
                errors.append(f"{where}: 'ranges' is a list of {{\"below\": number, \"color\": ...}}")
            else:
                last = None
                for j, r in enumerate(ranges):
                    if not isinstance(r, dict) or "color" not in r:
                        errors.append(f"{where}: range {j + 1} needs a 'color'")
                        continue
                    _color(r["color"], f"{where}: range {j + 1} color", errors)
                    below = _number(r.get("below"), f"{where}: range {j + 1} 'below'", errors)
                    if below is not None and last is not None and below <= last:
                        errors.append(f"{where}: ranges must be in increasing 'below' order")
                    last = below if below is not None else last
        if states is not None:
            if not isinstance(states, dict) or not states:
                errors.append(f"{where}: 'states' maps values to colours, e.g. {{\"true\": \"#2e7d32\"}}")
            else:
                for k, v in states.items():
                    _color(v, f"{where}: state {k!r}", errors)
                out["states"] = {_state_key(k): v for k, v in states.items()}
    elif kind in (BindingKind.FILL, BindingKind.ROTATE):
        lo = _number(b.get("min"), f"{where}: 'min'", errors)
        hi = _number(b.get("max"), f"{where}: 'max'", errors)
        if lo is not None and hi is not None and lo >= hi:
            errors.append(f"{where}: 'min' must be less than 'max'")
        if kind == BindingKind.FILL and b.get("direction", "up") not in ("up", "right"):
            errors.append(f"{where}: 'direction' must be up or right")
        if kind == BindingKind.ROTATE:
            for key in ("degrees", "cx", "cy"):
                _number(b.get(key), f"{where}: '{key}'", errors)
    elif kind == BindingKind.VISIBLE:
        if not {"when", "above", "below"} & set(b):
            errors.append(f"{where}: give 'when' (a value), 'above' or 'below'")
        for key in ("above", "below"):
            _number(b.get(key), f"{where}: '{key}'", errors)
        if "when" in b and not isinstance(b["when"], (bool, int, float, str)):
            errors.append(f"{where}: 'when' must be a plain value")
    elif kind == BindingKind.CLICK:
        try:
            action = ClickAction(action)
        except ValueError:
            errors.append(f"{where}: 'action' must be one of {', '.join(ClickAction.values)}")
            return out
        if action in (ClickAction.COMMAND, ClickAction.DEVICE):
            device = b.get("device")
            if not isinstance(device, str) or not SLUG_RE.match(device):
                errors.append(f"{where}: 'device' (a machine id) is required")
            if action == ClickAction.COMMAND and (not isinstance(b.get("command"), str)
                                                  or not SLUG_RE.match(b["command"])):
                errors.append(f"{where}: 'command' (a command id) is required")
        if action == ClickAction.SCREEN and (not isinstance(b.get("screen"), str) or not SLUG_RE.match(b["screen"])):
            errors.append(f"{where}: 'screen' (a screen slug) is required")
    return out


def bindings_validate(bindings, *, ids: set[str] | None = None) -> list[dict]:
    """The normalized bindings, or BindingError with every problem. `ids`: element ids present in the SVG."""
    if bindings in (None, ""):
        return []
    if not isinstance(bindings, list):
        raise BindingError(["bindings must be a JSON list of objects"])
    if len(bindings) > MAX_BINDINGS:
        raise BindingError([f"a screen has at most {MAX_BINDINGS} bindings, not {len(bindings)}"])
    errors: list[str] = []
    out = [_validate_one(i, b, ids, errors) for i, b in enumerate(bindings)]
    if errors:
        raise BindingError(errors)
    return [b for b in out if b is not None]


def binding_tag_names(bindings: Iterable[dict]) -> list[str]:
    """Every tag a screen uses, sorted, each once."""
    return sorted({b["tag"] for b in bindings if b.get("tag")})


def binding_devices(bindings: Iterable[dict]) -> list[str]:
    return sorted({b["device"] for b in bindings if b.get("device")})


def binding_screens(bindings: Iterable[dict]) -> list[str]:
    return sorted({b["screen"] for b in bindings if b.get("screen")})
