"""Screen services: create, update and delete screens, each sanitized, validated and audited."""

from __future__ import annotations

from django.db import transaction

from accounts.audit import audit_record
from hmi.bindings import BindingError, bindings_validate
from hmi.models import Screen
from hmi.sanitize import SvgRejected, svg_sanitize
from scada.errors import BadRequest

__all__ = ["screen_save", "screen_delete"]


def _snapshot(screen: Screen) -> dict:
    return {"name": screen.name, "slug": screen.slug, "description": screen.description, "is_home": screen.is_home,
            "sort_order": screen.sort_order, "svg_bytes": len(screen.svg or ""), "bindings": screen.bindings}


def _prepare(svg: str, bindings) -> tuple[str, list[dict], list[str]]:
    try:
        clean = svg_sanitize(svg)
    except SvgRejected as exc:
        raise BadRequest(f"svg: {exc}")
    try:
        normalized = bindings_validate(bindings, ids=clean.ids)
    except BindingError as exc:
        raise BadRequest("bindings: " + "; ".join(exc.errors), extra={"errors": exc.errors})
    return clean.markup, normalized, clean.removed


@transaction.atomic
def screen_save(*, actor, data: dict, screen: Screen | None = None) -> tuple[Screen, list[str]]:
    """Create (screen=None) or update a screen from raw input. Returns the screen and what sanitizing removed.

    The SVG is always re-sanitized, even on an update that did not touch it: the allowlist may have been
    tightened since the drawing was stored. Marking a screen as home unmarks the previous home screen.
    """
    creating = screen is None
    screen = screen or Screen()
    old = None if creating else _snapshot(Screen.objects.get(pk=screen.pk))
    markup, bindings, removed = _prepare(data.get("svg", screen.svg), data.get("bindings", screen.bindings))
    for field in ("name", "slug", "description", "is_home", "sort_order"):
        if field in data:
            setattr(screen, field, data[field])
    screen.svg, screen.bindings = markup, bindings
    if screen.is_home:
        # Before full_clean, which checks the one-home constraint against the table (rolled back on failure).
        Screen.objects.filter(is_home=True).exclude(pk=screen.pk).update(is_home=False)
    screen.full_clean()
    screen.save()
    audit_record(action="screen.create" if creating else "screen.update", user=actor, object_type="screen",
                 object_id=screen.pk, old_value=old, new_value=_snapshot(screen),
                 reason=("sanitized: " + "; ".join(removed))[:1000] if removed else "")
    return screen, removed


@transaction.atomic
def screen_delete(*, actor, screen: Screen) -> None:
    """Delete a screen; the audit trail keeps what it was."""
    audit_record(action="screen.delete", user=actor, object_type="screen", object_id=screen.pk,
                 old_value=_snapshot(screen))
    screen.delete()
