"""Recipe services: check a draft, approve it with an e-signature, retire it, start a new draft version.

An approved version is frozen: what its approval signature signed (`recipe_content`) must stay what runs. A
change is a new draft version (`recipe_new_version`), which needs its own approval; running batches keep the
version they started with.
"""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from accounts.audit import audit_record
from accounts.signatures import signature_check, signature_content_hash, signature_record
from batches.choices import ParameterType, PhaseRequirement, RecipeStatus
from batches.models import Recipe, RecipeParameter, RecipePhase
from batches.services.refusals import refusal_audited
from scada.errors import Conflict, Unprocessable
from scada.roles import Role

__all__ = ["recipe_content", "recipe_problems", "recipe_approve", "recipe_retire", "recipe_new_version",
           "recipe_assert_editable", "parameter_value_check", "APPROVER_ROLE"]

# Approval is a QA decision: an Engineer or Admin other than the recipe's author.
APPROVER_ROLE = Role.ENGINEER


def recipe_content(recipe: Recipe) -> dict:
    """The recipe's definition as its approval signs it (canonical JSON: see accounts.signatures)."""
    return {
        "recipe": recipe.name, "version": recipe.version, "title": recipe.title, "description": recipe.description,
        "machines": sorted(recipe.machines.values_list("machine_id", flat=True)),
        "recorded_tags": sorted(recipe.recorded_tags.values_list("name", flat=True)),
        "requires_verification": recipe.requires_verification,
        "parameters": [
            {"name": p.name, "datatype": p.datatype, "unit": p.unit, "min": p.min_value, "max": p.max_value,
             "default": p.default, "target_tag": p.target_tag.name if p.target_tag else None}
            for p in recipe.parameters.select_related("target_tag").order_by("position", "name")],
        "phases": [
            {"position": ph.position, "name": ph.name, "instructions": ph.instructions,
             "requirement": ph.requirement, "value_label": ph.value_label, "value_unit": ph.value_unit,
             "value_min": ph.value_min, "value_max": ph.value_max}
            for ph in recipe.phases.order_by("position")],
    }


def parameter_value_check(parameter: RecipeParameter, value):
    """`value` as the parameter's datatype within its limits; Unprocessable naming the parameter otherwise."""
    name, datatype = parameter.name, parameter.datatype
    if value is None:
        raise Unprocessable(f"Parameter '{name}' needs a value (the recipe has no default)")
    wrong = Unprocessable(f"Parameter '{name}': {value!r:.100} is not a valid {datatype}")
    if datatype == ParameterType.STRING:
        if not isinstance(value, str):
            raise wrong
        if "\x00" in value or len(value) > 4096:
            raise Unprocessable(f"Parameter '{name}': text must be at most 4096 characters, without NUL")
        return value
    if datatype == ParameterType.BOOL:
        if not isinstance(value, bool):
            raise wrong
        return value
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise wrong
    if datatype == ParameterType.INT:
        if isinstance(value, float) and not value.is_integer():
            raise wrong
        if not -(2**63) <= value < 2**63:
            raise wrong
        value = int(value)
    else:
        try:
            value = float(value)
        except OverflowError:
            raise wrong from None
        if value != value or value in (float("inf"), float("-inf")):
            raise wrong
    unit = f" {parameter.unit}" if parameter.unit else ""
    if parameter.min_value is not None and value < parameter.min_value:
        raise Unprocessable(f"Parameter '{name}': {value}{unit} is below its minimum {parameter.min_value}{unit}")
    if parameter.max_value is not None and value > parameter.max_value:
        raise Unprocessable(f"Parameter '{name}': {value}{unit} is above its maximum {parameter.max_value}{unit}")
    return value


def recipe_problems(recipe: Recipe) -> list[str]:
    """What keeps a draft from being approved (empty: nothing)."""
    problems = []
    machines = set(recipe.machines.values_list("pk", flat=True))
    if not machines:
        problems.append("the recipe names no machine to run on")
    phases = list(recipe.phases.all())
    if not phases:
        problems.append("the recipe has no phases")
    for ph in phases:
        if ph.requirement != PhaseRequirement.VALUE and (ph.value_min is not None or ph.value_max is not None):
            problems.append(f"phase {ph.position} '{ph.name}' has value limits but asks for no value")
    for p in recipe.parameters.select_related("target_tag"):
        if p.default is not None:
            try:
                parameter_value_check(p, p.default)
            except Unprocessable as exc:
                problems.append(f"default: {exc.detail}")
        if p.datatype in (ParameterType.BOOL, ParameterType.STRING) and (p.min_value is not None
                                                                          or p.max_value is not None):
            problems.append(f"parameter '{p.name}' is {p.datatype} and cannot have limits")
        tag = p.target_tag
        if tag is not None:
            if tag.datatype != p.datatype:
                problems.append(f"parameter '{p.name}' is {p.datatype} but its target tag '{tag.name}' is "
                                f"{tag.datatype}")
            if not tag.is_writable:
                problems.append(f"parameter '{p.name}' targets tag '{tag.name}', which is not writable")
            if machines and tag.machine_id not in machines:
                problems.append(f"parameter '{p.name}' targets tag '{tag.name}', which is on none of the "
                                f"recipe's machines")
    return problems


def recipe_assert_editable(recipe: Recipe) -> None:
    """409 unless the recipe is a draft: an approved or retired version is frozen."""
    if recipe.is_frozen:
        raise Conflict(f"Recipe {recipe.name} v{recipe.version} is {recipe.status} and cannot be changed; "
                       "create a new version")


@refusal_audited("approve")
def recipe_approve(*, recipe: Recipe, user, password, meaning, reason) -> Recipe:
    """Approve a draft with the approver's e-signature (§11.50 meaning, §11.70 bound to the definition's hash).

    409 if it is not a draft; 422 listing what is wrong with it; the signature service's 400/403 (wrong
    password counted toward lockout; role below Engineer; the author approving their own recipe). The
    signature, the status change and the `recipe.approve` audit record commit together. Call outside a
    transaction (a wrong password's count must stay).
    """
    recipe_assert_editable(recipe)
    problems = recipe_problems(recipe)
    if problems:
        raise Unprocessable(f"Recipe {recipe.name} v{recipe.version} cannot be approved: " + "; ".join(problems))
    grant = signature_check(signer=user, password=password, meaning=meaning, reason=reason, object_type="recipe",
                            object_id=recipe.pk, content=recipe_content(recipe), min_role=APPROVER_ROLE,
                            require_different_from=recipe.created_by,
                            purpose=f"approval of recipe {recipe.name} v{recipe.version}")
    with transaction.atomic():
        # What was signed must still be what is approved: a concurrent edit between check and here is refused.
        locked = Recipe.objects.select_for_update().get(pk=recipe.pk)
        if (locked.status != RecipeStatus.DRAFT
                or signature_content_hash(recipe_content(locked)) != grant.content_hash):
            raise Conflict(f"Recipe {recipe.name} v{recipe.version} changed while being approved; nothing was "
                           "signed")
        signature = signature_record(grant=grant)
        now = timezone.now()
        Recipe.objects.filter(pk=recipe.pk).update(status=RecipeStatus.APPROVED, approval_signature=signature,
                                                   approved_at=now, last_updated=now)
        audit_record(action="recipe.approve", user=grant.signer, object_type="recipe",
                     object_id=f"{recipe.name}@{recipe.version}", old_value={"status": RecipeStatus.DRAFT},
                     new_value={"status": RecipeStatus.APPROVED, "signature_id": signature.pk,
                                "content_hash": grant.content_hash}, reason=grant.reason)
    recipe.refresh_from_db()
    return recipe


@refusal_audited("retire")
@transaction.atomic
def recipe_retire(*, recipe: Recipe, user, reason: str = "") -> Recipe:
    """Retire an approved version: no new batch may start it; batches already running keep it. 409 otherwise."""
    if not Recipe.objects.filter(pk=recipe.pk, status=RecipeStatus.APPROVED).update(
            status=RecipeStatus.RETIRED, retired_at=timezone.now()):
        raise Conflict(f"Recipe {recipe.name} v{recipe.version} is not approved; only an approved version retires")
    audit_record(action="recipe.retire", user=user, object_type="recipe", object_id=f"{recipe.name}@{recipe.version}",
                 old_value={"status": RecipeStatus.APPROVED}, new_value={"status": RecipeStatus.RETIRED},
                 reason=reason or "")
    recipe.refresh_from_db()
    return recipe


@transaction.atomic
def recipe_new_version(*, recipe: Recipe, user) -> Recipe:
    """A new draft copied from `recipe` (any status) as the next version of its name, authored by `user`."""
    version = (Recipe.objects.filter(name=recipe.name).order_by("-version").values_list("version", flat=True)
               .first() or 0) + 1
    draft = Recipe.objects.create(name=recipe.name, version=version, title=recipe.title,
                                  description=recipe.description, requires_verification=recipe.requires_verification,
                                  created_by=user if getattr(user, "pk", None) else None)
    draft.machines.set(recipe.machines.all())
    draft.recorded_tags.set(recipe.recorded_tags.all())
    RecipeParameter.objects.bulk_create([
        RecipeParameter(recipe=draft, position=p.position, name=p.name, description=p.description,
                        datatype=p.datatype, unit=p.unit, min_value=p.min_value, max_value=p.max_value,
                        default=p.default, target_tag_id=p.target_tag_id) for p in recipe.parameters.all()])
    RecipePhase.objects.bulk_create([
        RecipePhase(recipe=draft, position=ph.position, name=ph.name, instructions=ph.instructions,
                    requirement=ph.requirement, value_label=ph.value_label, value_unit=ph.value_unit,
                    value_min=ph.value_min, value_max=ph.value_max) for ph in recipe.phases.all()])
    audit_record(action="recipe.create", user=user, object_type="recipe", object_id=f"{draft.name}@{draft.version}",
                 new_value={"copied_from": f"{recipe.name}@{recipe.version}", **recipe_content(draft)},
                 reason="new version")
    return draft
