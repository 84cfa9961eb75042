"""Tag look-up shared by the kinds that show tags (tag-history, shift)."""

from __future__ import annotations

from scada.errors import BadRequest
from tags.models import Tag

__all__ = ["tags_resolve"]


def tags_resolve(definition, names: list[str], *, parameter: str = "tags") -> list[Tag]:
    """The tags named (in that order), else the definition's own; BadRequest naming what is missing."""
    if not names:
        tags = list(definition.tags.order_by("name")) if definition is not None and definition.pk else []
        if not tags:
            raise BadRequest(f"parameters.{parameter}: name at least one tag (this report has none configured)")
        return tags
    found = {t.name: t for t in Tag.objects.filter(name__in=names)}
    missing = [n for n in names if n not in found]
    if missing:
        raise BadRequest(f"parameters.{parameter}: tag{'s' if len(missing) > 1 else ''} not found: "
                         f"{', '.join(missing[:10])}")
    return [found[n] for n in names]
