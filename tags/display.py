"""How a tag's value reads to people: its display decimals (Tag.decimals) applied, the HMI's rule otherwise.

The browser's Kiln.fmtValue (static/hmi/js/kiln.js) follows the same rule, so the admin, reports and the HMI
show one number the same way. Values themselves are never rounded: only their text.
"""

from __future__ import annotations

import math

__all__ = ["value_text", "value_shown"]


def _auto_decimals(value: float) -> int:
    a = abs(value)
    if float(value).is_integer() or a >= 1000:
        return 0
    return 1 if a >= 100 else 2 if a >= 1 else 3


def value_text(value, decimals: int | None = None, unit: str = "") -> str:
    """`value` as text: numbers with `decimals` digits (automatic when None), booleans ON/OFF, a unit appended."""
    if value is None:
        return "—"
    if isinstance(value, bool):
        text = "ON" if value else "OFF"
    elif isinstance(value, int | float):
        if isinstance(value, float) and not math.isfinite(value):
            text = str(value)
        else:
            text = f"{value:.{_auto_decimals(value) if decimals is None else decimals}f}"
    else:
        text = str(value)
    return f"{text} {unit}" if unit and not isinstance(value, bool) else text


def value_shown(value, decimals: int | None = None) -> str | None:
    """What the HMI shows for `value` without its unit (the API's `value_text`); None for no value.

    A separate text beside the number: the API never rounds a value itself (1485.2 stays 1485.2, an average
    72.43333333333333 stays whole), it adds how people read it.
    """
    return None if value is None else value_text(value, decimals)
