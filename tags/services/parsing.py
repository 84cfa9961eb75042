"""Parsing helpers shared by the tag API, admin, filters and the services: datatypes, qualities and roles."""

from __future__ import annotations

from scada.errors import BadRequest
from scada.roles import Role
from tags.choices import DataType, Quality

__all__ = ["datatype_parse", "quality_parse", "role_parse"]


def datatype_parse(value) -> str:
    """'REAL' / 'real' → 'REAL'; anything else is a 400 with the seed's exact message."""
    text = value if isinstance(value, str) else ("" if value is None else str(value))
    if text.upper() in DataType.values:
        return text.upper()
    raise BadRequest(f"Invalid datatype: '{text}' not in {list(DataType.values)}")


def quality_parse(value) -> str:
    text = value if isinstance(value, str) else ("" if value is None else str(value))
    if text.upper() in Quality.values:
        return text.upper()
    raise BadRequest(f"Invalid quality: '{text}' not in {list(Quality.values)}")


def role_parse(value) -> int:
    """'operator' / 'Supervisor' / 20 → a Role value; 400 otherwise."""
    if isinstance(value, int) and not isinstance(value, bool) and value in Role.values:
        return value
    try:
        return int(Role.from_name(str(value)))
    except ValueError:
        raise BadRequest(f"Invalid write_role: '{value}' not in {[r.label for r in Role]}")
