"""Batches' configuration section (settings.KILN_CONFIG_SECTIONS): recipes, keyed by name.

A bundle carries a recipe's definition (title, machines, recorded tags, parameters with their target tags by
name, phases), never its version number, status or approval. An approval is an e-signature over the exact
content signed on the instance where it was signed (batches.services.recipes), so it does not travel:
- each name exports its newest version that is not retired (draft or approved);
- a definition equal to that one is no change; a definition equal to the newest approved version (a deploy that
  goes back to what production approved) discards the newer drafts and is approved as it stands;
- any other definition arrives as a new draft version, which an Engineer on this instance must approve
  before a batch can run it (and its author, the deploying user, may not approve it);
- a name left out of the bundle: its drafts are deleted and its approved version retired (batches that ran it
  keep their records).
Nothing here starts, changes or signs a batch.
"""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db.models import Max

from batches.choices import RecipeStatus
from batches.models import Recipe, RecipeParameter, RecipePhase
from scada.configsections import Field, ModelSection

__all__ = ["RecipeSection"]

PARAMETER_KEYS = ("name", "description", "datatype", "unit", "min", "max", "default", "target_tag")
PHASE_KEYS = ("position", "name", "instructions", "requirement", "value_label", "value_unit", "value_min",
              "value_max")


def _parameter(p: RecipeParameter) -> dict:
    return {"name": p.name, "description": p.description, "datatype": p.datatype, "unit": p.unit,
            "min": p.min_value, "max": p.max_value, "default": p.default,
            "target_tag": p.target_tag.name if p.target_tag_id else None}


def _phase(ph: RecipePhase) -> dict:
    return {"position": ph.position, "name": ph.name, "instructions": ph.instructions, "requirement": ph.requirement,
            "value_label": ph.value_label, "value_unit": ph.value_unit, "value_min": ph.value_min,
            "value_max": ph.value_max}


class RecipeSection(ModelSection):
    """Recipes by name: each name's current definition (see the module docstring for versions and approvals)."""

    name = "recipes"
    model = Recipe
    key_fields = ("name",)
    fields = (
        Field("name", max_length=64),
        Field("title", default="", max_length=200),
        Field("description", default=""),
        Field("machines", kind="refs", ref="machines", path="machines__machine_id", default=[]),
        Field("recorded_tags", kind="refs", ref="tags", path="recorded_tags__name", default=[]),
        Field("requires_verification", kind="bool", default=False),
        Field("parameters", kind="json", default=[], choices=("list",)),
        Field("phases", kind="json", default=[], choices=("list",)),
    )

    def _current(self) -> list[Recipe]:
        """Each name's newest version that is not retired."""
        newest: dict[str, Recipe] = {}
        for recipe in (Recipe.objects.exclude(status=RecipeStatus.RETIRED).order_by("name", "-version")
                       .prefetch_related("machines", "recorded_tags", "parameters__target_tag", "phases")):
            newest.setdefault(recipe.name, recipe)
        return list(newest.values())

    @staticmethod
    def _definition(recipe: Recipe) -> dict:
        return {
            "name": recipe.name, "title": recipe.title, "description": recipe.description,
            "machines": sorted(m.machine_id for m in recipe.machines.all()),
            "recorded_tags": sorted(t.name for t in recipe.recorded_tags.all()),
            "requires_verification": recipe.requires_verification,
            "parameters": [_parameter(p) for p in sorted(recipe.parameters.all(), key=lambda p: (p.position, p.name))],
            "phases": [_phase(ph) for ph in sorted(recipe.phases.all(), key=lambda ph: ph.position)],
        }

    def build(self, item, ctx=None):
        # The recipe row alone: machines, tags, parameters and phases are other rows, written by _arrive.
        return Recipe(name=item["name"], title=item["title"], description=item["description"],
                      requires_verification=item["requires_verification"])

    def export(self) -> list[dict]:
        return sorted((self._definition(r) for r in self._current()), key=self.key)

    def id_map(self) -> dict[str, int]:
        return {r.name: r.pk for r in Recipe.objects.exclude(status=RecipeStatus.RETIRED).order_by("name", "version")}

    def normalize(self, item):
        item = super().normalize(item)
        # Parameters and phases in the order export writes them, so a re-import compares equal.
        if isinstance(item["phases"], list) and all(isinstance(ph, dict) for ph in item["phases"]):
            item["phases"] = sorted(item["phases"], key=lambda ph: ph["position"]
                                    if isinstance(ph.get("position"), int) else -1)
        for p in item["parameters"] if isinstance(item["parameters"], list) else []:
            if isinstance(p, dict):
                for k in ("min", "max"):
                    if isinstance(p.get(k), int) and not isinstance(p.get(k), bool):
                        p[k] = float(p[k])
        for ph in item["phases"] if isinstance(item["phases"], list) else []:
            if isinstance(ph, dict):
                for k in ("value_min", "value_max"):
                    if isinstance(ph.get(k), int) and not isinstance(ph.get(k), bool):
                        ph[k] = float(ph[k])
        return item

    # --- validation ---------------------------------------------------------------------------------------------
    def _rows(self, item: dict) -> tuple[list[RecipeParameter], list[RecipePhase], list[str]]:
        """Unsaved parameter and phase rows of an item, and what is wrong with their shape."""
        problems, params, phases = [], [], []
        for i, p in enumerate(item["parameters"]):
            if not isinstance(p, dict) or set(p) != set(PARAMETER_KEYS):
                problems.append(f"parameters[{i}]: an object with exactly {', '.join(PARAMETER_KEYS)}")
                continue
            params.append(RecipeParameter(position=i, name=p["name"], description=p["description"],
                                          datatype=p["datatype"], unit=p["unit"], min_value=p["min"],
                                          max_value=p["max"], default=p["default"]))
        for i, ph in enumerate(item["phases"]):
            if not isinstance(ph, dict) or set(ph) != set(PHASE_KEYS):
                problems.append(f"phases[{i}]: an object with exactly {', '.join(PHASE_KEYS)}")
                continue
            phases.append(RecipePhase(**{k: ph[k] for k in PHASE_KEYS}))
        return params, phases, problems

    def clean_instance(self, obj, item, bundle):
        obj.clean_fields(exclude=["created_by", "approval_signature"])
        params, phases, problems = self._rows(item)
        for label, rows, exclude in (("parameters", params, ["recipe", "target_tag"]),
                                     ("phases", phases, ["recipe"])):
            seen = set()
            for i, row in enumerate(rows):
                ident = row.name if label == "parameters" else row.position
                if ident in seen:
                    problems.append(f"{label}[{i}]: {ident} appears twice")
                seen.add(ident)
                try:
                    row.clean_fields(exclude=exclude)
                except ValidationError as exc:
                    problems.append(f"{label}[{i}]: " + "; ".join(f"{k}: {' '.join(v)}"
                                                                 for k, v in exc.message_dict.items()))
                lo, hi = ((row.min_value, row.max_value) if label == "parameters" else (row.value_min, row.value_max))
                if lo is not None and hi is not None and (lo >= hi if label == "parameters" else lo > hi):
                    problems.append(f"{label}[{i}]: the minimum must be below the maximum")
        if problems:
            raise ValidationError("; ".join(problems))

    def check(self, items, bundle, fresh=None):
        problems = super().check(items, bundle, fresh)
        tags = bundle.get("tags", {})
        for key, item in items.items():
            for p in item["parameters"] if isinstance(item["parameters"], list) else []:
                target = p.get("target_tag") if isinstance(p, dict) else None
                if target is not None and target not in tags:
                    problems.append((key, f"parameters: target_tag: no tags item '{str(target)[:128]}' in the "
                                          f"bundle"))
        return problems

    def dependents(self, items, fresh):
        found = super().dependents(items, fresh)
        changed_tags = fresh.get("tags") or set()
        for key, item in items.items():
            if any(isinstance(p, dict) and p.get("target_tag") in changed_tags for p in item["parameters"]):
                found.add(key)
        return found

    # --- apply ----------------------------------------------------------------------------------------------------
    def apply(self, *, added, changed, removed, ctx):
        for name in removed:
            Recipe.objects.filter(name=name, status=RecipeStatus.DRAFT).delete()
            Recipe.objects.filter(name=name, status=RecipeStatus.APPROVED).update(status=RecipeStatus.RETIRED,
                                                                                 retired_at=_now())
        for item in [*added, *(new for _old, new in changed)]:
            self._arrive(item, ctx)
        ctx.ids[self.name] = self.id_map()

    def _arrive(self, item: dict, ctx) -> None:
        name = item["name"]
        approved = (Recipe.objects.filter(name=name, status=RecipeStatus.APPROVED).order_by("-version")
                    .prefetch_related("machines", "recorded_tags", "parameters__target_tag", "phases").first())
        # Drafts newer than the approved version are superseded by what the bundle says (no batch runs a draft).
        Recipe.objects.filter(name=name, status=RecipeStatus.DRAFT,
                              version__gt=approved.version if approved else 0).delete()
        if approved is not None and self._definition(approved) == item:
            return  # what production approved: it stays approved, nothing to sign again
        version = (Recipe.objects.filter(name=name).aggregate(v=Max("version"))["v"] or 0) + 1
        author = ctx.user if getattr(ctx.user, "pk", None) else None
        recipe = Recipe.objects.create(name=name, version=version, title=item["title"],
                                       description=item["description"],
                                       requires_verification=item["requires_verification"], created_by=author)
        recipe.machines.set([ctx.ids["machines"][m] for m in item["machines"]])
        recipe.recorded_tags.set([ctx.ids["tags"][t] for t in item["recorded_tags"]])
        tags = ctx.ids["tags"]
        RecipeParameter.objects.bulk_create([
            RecipeParameter(recipe=recipe, position=i, name=p["name"], description=p["description"],
                            datatype=p["datatype"], unit=p["unit"], min_value=p["min"], max_value=p["max"],
                            default=p["default"], target_tag_id=tags[p["target_tag"]] if p["target_tag"] else None)
            for i, p in enumerate(item["parameters"])])
        RecipePhase.objects.bulk_create([RecipePhase(recipe=recipe, **{k: ph[k] for k in PHASE_KEYS})
                                         for ph in item["phases"]])


def _now():
    from django.utils import timezone

    return timezone.now()
