"""Batch pages in the HMI: the list, the start form, a batch's page (phases, parameters, recorded tags live,
comments, deviations) and the EBR review with the close-and-sign form.

Like every HMI page these only read (batches.selectors); the forms are sent by the page's script to the REST API
(static/hmi/js/batches.js), which checks the role, the signature and the input, and audits. So a form here can do
nothing the API would refuse, and the same role rules show in what each page offers.
"""

from __future__ import annotations

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render

from batches.choices import BATCH_STATUS_COLORS, BatchStatus, RecipeStatus
from batches.models import Recipe
from batches.selectors import batch_ebr, batch_get, batch_queryset, batch_summary
from hmi.selectors import tag_config
from hmi.views import base_context, hmi_page
from scada.errors import NotFound
from scada.roles import Role

PAGE = 100


def _batch(pk) -> dict:
    try:
        return batch_ebr(batch_get(pk=pk))
    except NotFound as exc:
        raise Http404(exc.detail) from exc


@hmi_page
def batch_list_view(request: HttpRequest) -> HttpResponse:
    status = request.GET.get("status", "")
    queryset = batch_queryset()
    if status in BatchStatus.values:
        queryset = queryset.filter(status=status)
    batches = [batch_summary(b) for b in queryset[:PAGE]]
    return render(request, "batches/list.html", {
        **base_context(request, "batches"), "batches": batches, "status": status,
        "statuses": BatchStatus.choices, "colors": BATCH_STATUS_COLORS})


@hmi_page
def batch_start_view(request: HttpRequest) -> HttpResponse:
    recipes = list(Recipe.objects.filter(status=RecipeStatus.APPROVED).prefetch_related("machines")
                   .order_by("name", "-version"))
    chosen = None
    wanted = request.GET.get("recipe", "")
    if wanted.isdigit():
        chosen = next((r for r in recipes if r.pk == int(wanted)), None)
    parameters = list(chosen.parameters.select_related("target_tag").order_by("position", "name")) if chosen else []
    return render(request, "batches/start.html", {
        **base_context(request, "batches"), "recipes": recipes, "recipe": chosen, "parameters": parameters,
        "may_start": request.user.role >= Role.SUPERVISOR})


@hmi_page
def batch_view(request: HttpRequest, pk: int) -> HttpResponse:
    ebr = _batch(pk)
    active = next((p for p in ebr["phases"] if p["status"] == "active"), None)
    recorded = [row["tag"] for row in ebr["evidence"]["recorded_tags"]]
    return render(request, "batches/batch.html", {
        # The recorded tags' configuration: their values show with their decimals and units.
        **base_context(request, "batches", batch_id=ebr["id"], recorded_tags=recorded, tags=tag_config(recorded)),
        "b": ebr,
        "active": active, "recorded": recorded, "colors": BATCH_STATUS_COLORS,
        "may_supervise": request.user.role >= Role.SUPERVISOR})


@hmi_page
def batch_review_view(request: HttpRequest, pk: int) -> HttpResponse:
    ebr = _batch(pk)
    first = next((s for s in ebr["signatures"] if s["kind"] == "close"), None)
    return render(request, "batches/review.html", {
        **base_context(request, "batches", batch_id=ebr["id"]), "b": ebr, "colors": BATCH_STATUS_COLORS,
        "first_signature": first, "may_close": request.user.role >= Role.SUPERVISOR and ebr["status"] == "complete"})
