"""Reading batches and recipes: the list, one batch, its electronic batch record (EBR).

Other apps (reports: the batch-record PDF) read batches only through these functions.
"""

from __future__ import annotations

from django.db.models import QuerySet

from accounts.selectors import signature_dict
from batches.ebr import batch_ebr, batch_evidence, batch_record, batch_signed_content
from batches.models import Batch, Recipe
from scada.api.renderers import iso_utc
from scada.errors import NotFound

__all__ = ["batch_queryset", "batch_get", "batch_summary", "batch_ebr", "batch_record", "batch_evidence",
           "batch_signed_content", "recipe_queryset", "recipe_get", "recipe_dict"]


def batch_queryset() -> QuerySet[Batch]:
    return Batch.objects.select_related("recipe", "machine", "started_by").order_by("-started_at", "-id")


def batch_get(*, pk) -> Batch:
    """One batch with what its record needs joined in; NotFound ("Batch N not found") otherwise."""
    try:
        pk = int(pk)
    except (TypeError, ValueError):
        raise NotFound(f"Batch {str(pk)[:50]} not found") from None
    batch = (Batch.objects.select_related("recipe", "recipe__approval_signature", "machine", "started_by",
                                          "close_signature", "verify_signature")
             .filter(pk=pk).first()) if 0 < pk < 2**63 else None
    if batch is None:
        raise NotFound(f"Batch {pk} not found")
    return batch


def batch_summary(batch: Batch) -> dict:
    """A batch as the list shows it."""
    return {"id": batch.pk, "lot": batch.lot, "recipe": batch.recipe.name, "recipe_version": batch.recipe.version,
            "machine": batch.machine.machine_id, "status": batch.status, "started_by": batch.started_by.username,
            "started_at": iso_utc(batch.started_at), "completed_at": iso_utc(batch.completed_at),
            "aborted_at": iso_utc(batch.aborted_at), "closed_at": iso_utc(batch.closed_at),
            "current_phase": batch.current_phase}


def recipe_queryset() -> QuerySet[Recipe]:
    return (Recipe.objects.select_related("approval_signature")
            .prefetch_related("machines", "recorded_tags", "parameters__target_tag", "phases")
            .order_by("name", "-version"))


def recipe_get(*, pk) -> Recipe:
    try:
        pk = int(pk)
    except (TypeError, ValueError):
        raise NotFound(f"Recipe {str(pk)[:50]} not found") from None
    recipe = recipe_queryset().filter(pk=pk).first() if 0 < pk < 2**63 else None
    if recipe is None:
        raise NotFound(f"Recipe {pk} not found")
    return recipe


def recipe_dict(recipe: Recipe) -> dict:
    """A recipe version as the API shows it: its definition (from the prefetched rows) and its approval."""
    sig = recipe.approval_signature
    return {
        "id": recipe.pk, "name": recipe.name, "version": recipe.version, "title": recipe.title,
        "description": recipe.description, "status": recipe.status,
        "machines": sorted(m.machine_id for m in recipe.machines.all()),
        "recorded_tags": sorted(t.name for t in recipe.recorded_tags.all()),
        "requires_verification": recipe.requires_verification,
        "parameters": [{"name": p.name, "datatype": p.datatype, "unit": p.unit, "min": p.min_value,
                        "max": p.max_value, "default": p.default,
                        "target_tag": p.target_tag.name if p.target_tag else None}
                       for p in sorted(recipe.parameters.all(), key=lambda p: (p.position, p.name))],
        "phases": [{"position": ph.position, "name": ph.name, "instructions": ph.instructions,
                    "requirement": ph.requirement, "value_label": ph.value_label, "value_unit": ph.value_unit,
                    "value_min": ph.value_min, "value_max": ph.value_max}
                   for ph in sorted(recipe.phases.all(), key=lambda ph: ph.position)],
        "approved_at": iso_utc(recipe.approved_at), "retired_at": iso_utc(recipe.retired_at),
        "approval": signature_dict(sig) if sig else None,
    }
