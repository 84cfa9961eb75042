"""Screen services: create, update, restore and delete screens, each sanitized, validated, versioned and audited.

Every way a screen is written (the visual editor through the API, Django admin, the demo loader) goes through
screen_save, so the rules hold whatever the client: the drawing is re-sanitized, the bindings are validated
against the drawing's ids, every tag, device and screen a binding names must exist, and each save appends a
ScreenVersion and an audit record in the same transaction.
"""

from __future__ import annotations

from django.db import transaction

from accounts.audit import audit_record
from hmi.bindings import BindingError, binding_devices, binding_screens, binding_tag_names, bindings_validate
from hmi.models import Screen, ScreenVersion
from hmi.sanitize import SvgRejected, svg_sanitize
from scada.errors import BadRequest, Conflict, NotFound, Unprocessable
from tags.models import Machine, Tag

__all__ = ["screen_save", "screen_delete", "screen_restore", "bindings_unknown_references", "screens_references_check"]


def _snapshot(screen: Screen) -> dict:
    return {"name": screen.name, "slug": screen.slug, "description": screen.description, "is_home": screen.is_home,
            "sort_order": screen.sort_order, "svg_bytes": len(screen.svg or ""), "bindings": screen.bindings,
            "version": screen.version}


def bindings_unknown_references(bindings: list[dict], *, own_slug: str | None = None) -> list[str]:
    """One line per tag, device or screen the bindings name that does not exist (empty: all exist).

    Names are checked as saved: a tag deleted later shows as unresolved on the page instead (hmi.selectors).
    """
    problems = []
    names = binding_tag_names(bindings)
    if names:
        known = set(Tag.objects.filter(name__in=names).values_list("name", flat=True))
        unknown = [n for n in names if n not in known]
        if unknown:
            problems.append("unknown tag(s): " + ", ".join(unknown))
    devices = binding_devices(bindings)
    if devices:
        known = set(Machine.objects.filter(machine_id__in=devices).values_list("machine_id", flat=True))
        unknown = [d for d in devices if d not in known]
        if unknown:
            problems.append("unknown device(s): " + ", ".join(unknown))
    screens = [s for s in binding_screens(bindings) if s != own_slug]
    if screens:
        known = set(Screen.objects.filter(slug__in=screens).values_list("slug", flat=True))
        unknown = [s for s in screens if s not in known]
        if unknown:
            problems.append("unknown screen(s): " + ", ".join(unknown))
    return problems


def screens_references_check() -> None:
    """Every screen's tags, devices and screens must exist now; else 422 naming each screen and unknown name.

    The second half of `screen_save(defer_references=True)`: call it in the same transaction after the last
    write that could supply (or remove) a referenced object, so a refusal rolls all of it back. One query per
    kind of name for all screens.
    """
    screens = list(Screen.objects.order_by("slug").values_list("slug", "bindings"))
    named = {slug: (binding_tag_names(b), binding_devices(b), binding_screens(b)) for slug, b in screens}
    tags = set(Tag.objects.filter(name__in={n for t, _, _ in named.values() for n in t}).values_list("name", flat=True))
    devices = set(Machine.objects.filter(machine_id__in={d for _, ds, _ in named.values() for d in ds})
                  .values_list("machine_id", flat=True))
    slugs = {slug for slug, _ in screens}
    problems = []
    for slug, (tag_names, device_ids, screen_slugs) in named.items():
        for label, names, known in (("tag", tag_names, tags), ("device", device_ids, devices),
                                    ("screen", screen_slugs, slugs)):
            unknown = [n for n in names if n not in known]
            if unknown:
                problems.append(f"screen '{slug}': unknown {label}(s): {', '.join(unknown)}")
    if problems:
        raise Unprocessable("Screens refused, nothing changed: " + "; ".join(problems)[:2000],
                            extra={"errors": problems})


def _prepare(svg, bindings, slug: str | None, check_references: bool) -> tuple[str, list[dict], list[str]]:
    if not isinstance(svg, str | bytes):
        raise BadRequest("svg: must be the drawing's markup as text")
    try:
        clean = svg_sanitize(svg)
    except SvgRejected as exc:
        raise BadRequest(f"svg: {exc}")
    try:
        normalized = bindings_validate(bindings, ids=clean.ids)
    except BindingError as exc:
        raise BadRequest("bindings: " + "; ".join(exc.errors), extra={"errors": exc.errors})
    unknown = bindings_unknown_references(normalized, own_slug=slug) if check_references else []
    if unknown:
        raise BadRequest("bindings: " + "; ".join(unknown), extra={"errors": unknown})
    return clean.markup, normalized, clean.removed


def _username(actor) -> str:
    return getattr(actor, "username", "") or ""


@transaction.atomic
def screen_save(*, actor, data: dict, screen: Screen | None = None, base_version: int | None = None,
                note: str = "", action: str | None = None,
                defer_references: bool = False) -> tuple[Screen, list[str]]:
    """Create (screen=None) or update a screen from raw input. Returns the screen and what sanitizing removed.

    The SVG is always re-sanitized, even on an update that did not touch it: the allowlist may have been
    tightened since the drawing was stored. Marking a screen as home unmarks the previous home screen.
    `base_version`: the version the editor started from; if someone saved since, 409 instead of overwriting.
    `defer_references=True` when what the bindings name is written later in the same transaction (screens that
    link to each other, a configuration bundle's new tags): the caller then runs screens_references_check()
    before that transaction commits.
    """
    if defer_references and not transaction.get_connection().in_atomic_block:
        raise RuntimeError("defer_references needs the caller's transaction, closed by screens_references_check()")
    creating = screen is None
    if creating:
        screen = Screen()
        old = None
    else:
        # Row lock: two saves of one screen get consecutive version numbers, and the check below is exact.
        current = Screen.objects.select_for_update().get(pk=screen.pk)
        if base_version is not None and base_version != current.version:
            raise Conflict(f"Screen '{current.slug}' was saved by someone else since you opened it (version "
                           f"{current.version}, you started from {base_version}); reload it to see their changes.",
                           extra={"version": current.version})
        screen.version = current.version
        old = _snapshot(current)
    slug = data.get("slug", screen.slug)
    markup, bindings, removed = _prepare(data.get("svg", screen.svg), data.get("bindings", screen.bindings),
                                         slug if isinstance(slug, str) else None, not defer_references)
    for field in ("name", "slug", "description", "is_home", "sort_order"):
        if field in data:
            setattr(screen, field, data[field])
    screen.svg, screen.bindings = markup, bindings
    screen.version = (screen.version or 0) + 1
    if screen.is_home:
        # Before full_clean, which checks the one-home constraint against the table (rolled back on failure).
        Screen.objects.filter(is_home=True).exclude(pk=screen.pk).update(is_home=False)
    screen.full_clean()
    screen.save()
    ScreenVersion.objects.create(screen=screen, number=screen.version, name=screen.name,
                                 description=screen.description, svg=screen.svg, bindings=screen.bindings,
                                 created_by=_username(actor), note=note[:200])
    reason = ("sanitized: " + "; ".join(removed))[:1000] if removed else note[:1000]
    audit_record(action=action or ("screen.create" if creating else "screen.update"), user=actor,
                 object_type="screen", object_id=screen.pk, old_value=old, new_value=_snapshot(screen), reason=reason)
    return screen, removed


def screen_restore(*, actor, screen: Screen, number: int) -> Screen:
    """Save version `number` of a screen again as its newest version (audited as screen.restore).

    The restored bindings are validated like any save: a version naming a tag deleted since is refused with
    the tag's name, so a restore never stores a binding to nothing.
    """
    version = None
    if 0 < number < 2**31:  # a larger number cannot be stored, so it names no version (and no SQL overflow)
        version = ScreenVersion.objects.filter(screen=screen, number=number).first()
    if version is None:
        raise NotFound(f"Screen '{screen.slug}' has no version {number}.")
    data = {"name": version.name, "description": version.description, "svg": version.svg,
            "bindings": version.bindings}
    saved, _ = screen_save(actor=actor, data=data, screen=screen, note=f"restored from version {number}",
                           action="screen.restore")
    return saved


@transaction.atomic
def screen_delete(*, actor, screen: Screen) -> None:
    """Delete a screen and its versions; the audit trail keeps what it was."""
    audit_record(action="screen.delete", user=actor, object_type="screen", object_id=screen.pk,
                 old_value=_snapshot(screen))
    screen.delete()
