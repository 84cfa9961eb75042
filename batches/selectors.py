"""Reading batches and recipes: the list, one batch, its electronic batch record (EBR).

Other apps (reports: the batch-record PDF) read batches only through these functions.
"""

from __future__ import annotations

from django.db.models import QuerySet

from batches.ebr import batch_ebr, batch_evidence, batch_record, batch_signed_content
from batches.models import Batch, Recipe
from scada.api.renderers import iso_utc
from scada.errors import NotFound

__all__ = ["batch_queryset", "batch_get", "batch_summary", "batch_ebr", "batch_record", "batch_evidence",
           "batch_signed_content", "recipe_queryset", "recipe_get"]


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
    return Recipe.objects.prefetch_related("machines").order_by("name", "-version")


def recipe_get(*, pk) -> Recipe:
    recipe = Recipe.objects.filter(pk=pk).first() if isinstance(pk, int) else None
    if recipe is None:
        raise NotFound(f"Recipe {pk} not found")
    return recipe
