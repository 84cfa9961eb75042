"""Pure lifecycle rules (no I/O): the shown state from an alarm's flags, the limit test, message rendering.

An alarm carries independent facts: is the condition active, is an acknowledgement outstanding, is it
suppressed by design, shelved, out of service. The ISA-18.2 state shown to people is derived from them, so
acknowledging never touches `active`, and when shelving ends the alarm simply shows its true state again.
"""

from __future__ import annotations

import re

from alarms.choices import AlarmKind, AlarmState

__all__ = ["display_state", "render_message", "MESSAGE_FIELDS", "condition_holds"]

MESSAGE_FIELDS = ("name", "key", "tag", "machine", "value", "unit", "setpoint", "priority", "category")
_PLACEHOLDER_RE = re.compile(r"\{([a-z_]+)\}")


def display_state(*, active: bool, acked: bool, suppressed: bool, shelved: bool, out_of_service: bool) -> str:
    """The one state shown for a combination of flags (out of service > shelved > suppressed > true state)."""
    if out_of_service:
        return AlarmState.OUT_OF_SERVICE
    if shelved:
        return AlarmState.SHELVED
    if suppressed:
        return AlarmState.SUPPRESSED
    if active:
        return AlarmState.ACTIVE_ACKED if acked else AlarmState.ACTIVE_UNACKED
    return AlarmState.NORMAL if acked else AlarmState.RTN_UNACKED


def condition_holds(kind: str, setpoint: float | None, deadband: float, active: bool, value, quality: str):
    """Whether the alarm condition holds for one value: True, False, or None when it cannot be judged.

    Limits have hysteresis: a HI alarm activates above the setpoint and clears only below setpoint - deadband.
    A BAD value cannot be judged against a limit, so limit and digital alarms hold their state (the BAD
    quality kind exists to annunciate exactly that).
    """
    if kind == AlarmKind.BAD_QUALITY:
        return quality == "BAD"
    if quality == "BAD" or value is None or isinstance(value, str):
        return None
    if kind in (AlarmKind.HI, AlarmKind.HIHI):
        return value > (setpoint - deadband if active else setpoint)
    if kind in (AlarmKind.LO, AlarmKind.LOLO):
        return value < (setpoint + deadband if active else setpoint)
    if kind == AlarmKind.EQUAL:
        return value == setpoint
    return value != setpoint


def _fmt(value, decimals: int | None = None) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float | int) and decimals is not None:
        return f"{value:.{decimals}f}"
    if isinstance(value, float):
        return f"{value:.6g}"
    return "" if value is None else str(value)


# The numbers of a message that are the tag's (its value and the limit it crossed): shown with its decimals.
_TAG_NUMBERS = ("value", "setpoint")


def render_message(template: str, fields: dict, decimals: int | None = None) -> str:
    """Fill {name}, {value}, {unit}, ... into a message template; value and setpoint with the tag's `decimals`.

    A plain placeholder substitution on purpose: str.format would let a template reach attributes of the
    values ("{value.__class__}"). Unknown placeholders are left as written.
    """

    def sub(m):
        key = m.group(1)
        if key not in fields:
            return m.group(0)
        return _fmt(fields[key], decimals if key in _TAG_NUMBERS else None)

    return _PLACEHOLDER_RE.sub(sub, template)[:500]
