"""Small text checks every app shares (scada is the base layer: any app may import it)."""

__all__ = ["has_nul"]


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
