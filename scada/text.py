"""Small text checks every app shares (scada is the base layer: any app may import it)."""

import math

__all__ = ["has_nul", "printable"]


def has_nul(value) -> bool:
    """True when any string in a JSON value (keys included) holds a NUL, which PostgreSQL text cannot store.

    Iterative: no depth limit to trip."""
    stack = [value]
    while stack:
        v = stack.pop()
        if isinstance(v, str):
            if "\x00" in v:
                return True
        elif isinstance(v, dict):
            stack.extend(v.keys())
            stack.extend(v.values())
        elif isinstance(v, list | tuple):
            stack.extend(v)
    return False


def printable(value, limit: int = 1000):
    """A value as it may go into the audit trail of a refused attempt: JSON scalars as they are, text without NUL
    cut to `limit`, anything else (NUL, containers, non-finite floats) as its escaped repr, cut."""
    if value is None or isinstance(value, (bool, int)) or isinstance(value, float) and math.isfinite(value):
        return value
    if isinstance(value, str) and "\x00" not in value:
        return value[:limit]
    return repr(value)[:limit]  # repr escapes NUL (and anything else) as text
