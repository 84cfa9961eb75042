"""Running a batch: start (parameters written through the one tag write service), phases, comments, deviations,
abort. Every change of state is a conditional UPDATE plus an audit record in one transaction.

Start checks everything before acting on anything (recipe, machine, lot, every parameter, every target tag's
write rules), then creates the batch, then writes the target tags one by one through
tags.services.tag_write_apply (validation, audit, PLC read-back); a write that fails aborts the batch, audited.
"""

from __future__ import annotations

import math

from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts.audit import audit_record
from accounts.signatures import signature_check, signature_input_parse, signature_record
from batches.choices import BatchStatus, DeviationSeverity, PhaseRequirement, PhaseStatus, RecipeStatus
from batches.models import Batch, BatchComment, BatchDeviation, BatchParameter, BatchPhase, Recipe
from batches.push import batch_push_on_commit
from batches.services.recipes import parameter_value_check
from batches.services.refusals import refusal_audited
from scada.errors import BadRequest, Conflict, KilnError, NotFound, Unprocessable
from scada.roles import Role
from scada.text import has_nul
from tags.models import Machine, Tag
from tags.services import tag_write_apply, tag_write_check, tag_write_refused_record

__all__ = ["batch_start", "batch_phase_complete", "batch_comment_add", "batch_deviation_add", "batch_abort",
           "recipe_resolve", "PHASE_ACTIONS", "TEXT_MAX"]

TEXT_MAX = 5000
LOT_MAX = 64
# Route action → the requirements it completes (a "none" phase is advanced with a confirmation).
PHASE_ACTIONS = {"confirm": (PhaseRequirement.NONE, PhaseRequirement.CONFIRM), "enter": (PhaseRequirement.VALUE,),
                 "sign": (PhaseRequirement.SIGNATURE,)}
_ACTION_FOR = {PhaseRequirement.NONE: "confirm", PhaseRequirement.CONFIRM: "confirm",
               PhaseRequirement.VALUE: "enter", PhaseRequirement.SIGNATURE: "sign"}


def _name(user) -> str:
    full = user.get_full_name().strip() if hasattr(user, "get_full_name") else ""
    return full or getattr(user, "username", "") or ""


def _audit(action: str, user, batch: Batch, *, old=None, new=None, reason: str = "") -> None:
    # Every change of a batch is audited here, in its transaction; its open pages hear of it once committed.
    audit_record(action=f"batch.{action}", user=user, object_type="batch", object_id=batch.pk, old_value=old,
                 new_value=new, reason=reason)
    batch_push_on_commit(batch, action)


def _text(value, field: str, *, required: bool = True, limit: int = TEXT_MAX) -> str:
    if value is None or value == "":
        if required:
            raise BadRequest(f"{field} is required")
        return ""
    if not isinstance(value, str):
        raise BadRequest(f"{field} must be a string")
    if has_nul(value):
        raise BadRequest(f"{field} contains a NUL character (\\u0000)")
    if required and not value.strip():
        raise BadRequest(f"{field} is required")
    if len(value) > limit:
        raise BadRequest(f"{field} must be at most {limit} characters")
    return value.strip()


def recipe_resolve(recipe) -> Recipe:
    """A recipe by id (int) or by name (its newest approved version). 404 unknown; 409 when not approved."""
    if isinstance(recipe, bool) or not isinstance(recipe, int | str) or recipe == "":
        raise BadRequest("recipe is required: a recipe name or id")
    if isinstance(recipe, str) and has_nul(recipe):
        raise BadRequest("recipe contains a NUL character (\\u0000)")
    if isinstance(recipe, int) or recipe.isdigit():
        found = Recipe.objects.filter(pk=int(recipe)).first() if int(recipe) < 2**63 else None
        if found is None:
            raise NotFound(f"Recipe {recipe} not found")
        if found.status != RecipeStatus.APPROVED:
            raise Conflict(f"Recipe {found.name} v{found.version} is {found.status}; only an approved version runs")
        return found
    versions = Recipe.objects.filter(name=recipe[:200])
    found = versions.filter(status=RecipeStatus.APPROVED).order_by("-version").first()
    if found is None:
        if not versions.exists():
            raise NotFound(f"Recipe '{recipe:.200}' not found")
        raise Conflict(f"Recipe '{recipe}' has no approved version; only an approved version runs")
    return found


def _machine(machine_id) -> Machine:
    if not isinstance(machine_id, str) or not machine_id:
        raise BadRequest("machine_id is required (a string)")
    if has_nul(machine_id):
        raise BadRequest("machine_id contains a NUL character (\\u0000)")
    machine = Machine.objects.filter(machine_id=machine_id[:200]).first()
    if machine is None:
        raise NotFound(f"Machine '{machine_id:.200}' not found")
    return machine


def _target_tag(parameter, machine: Machine) -> Tag | None:
    # A recipe for several machines names its target on one of them; on another machine the tag of the same
    # device member (`<machine_id>.<member>`) is meant.
    tag = parameter.target_tag
    if tag is None or tag.machine_id == machine.pk:
        return tag
    same = Tag.objects.filter(machine=machine, member=tag.member).first() if tag.member else None
    if same is None:
        raise Conflict(f"Parameter '{parameter.name}' writes tag '{tag.name}', which is not on machine "
                       f"'{machine.machine_id}'")
    return same


@refusal_audited("start")
def batch_start(*, recipe, machine_id, lot, parameters, user) -> Batch:
    """Start an approved recipe on a machine for a lot, with parameters (defaults filled in, ranges enforced).

    400 malformed input; 404 unknown recipe or machine; 409 recipe not approved, not for this machine, or the
    machine already running a batch; 422 a parameter unknown, missing, of the wrong type or out of range (named),
    or refused by its target tag's own rules; 403 the target tag's write role. Nothing is written unless every
    check passes. Then the batch and its `batch.start` record commit, and each target tag is written through
    the tag write service (source `batch:<id>`); a failed write aborts the batch (audited) and raises its error.
    Must run outside a transaction (tag writes commit their attempt record before touching a PLC).
    """
    lot = _text(lot, "lot", limit=LOT_MAX)
    if parameters is None:
        parameters = {}
    if not isinstance(parameters, dict):
        raise BadRequest("parameters must be an object of name: value")
    for key, value in parameters.items():
        if has_nul(key) or has_nul(value):
            raise BadRequest("parameters contain a NUL character (\\u0000)")
    recipe = recipe_resolve(recipe)
    machine = _machine(machine_id)
    if not recipe.machines.filter(pk=machine.pk).exists():
        raise Conflict(f"Recipe {recipe.name} v{recipe.version} does not run on machine '{machine.machine_id}'")
    running = Batch.objects.filter(machine=machine, status=BatchStatus.RUNNING).first()
    if running is not None:
        raise Conflict(f"Machine '{machine.machine_id}' is already running batch {running.pk} (lot {running.lot})")
    definitions = list(recipe.parameters.select_related("target_tag", "target_tag__machine"))
    known = {p.name for p in definitions}
    unknown = sorted(str(k) for k in parameters if k not in known)
    if unknown:
        raise Unprocessable(f"Unknown parameter '{unknown[0]:.100}' for recipe {recipe.name} v{recipe.version}")
    values, plans = {}, []
    for p in definitions:
        values[p.name] = parameter_value_check(p, parameters.get(p.name, p.default))
    for p in definitions:
        tag = _target_tag(p, machine)
        if tag is None:
            continue
        try:
            plans.append((p.name, tag_write_check(tag=tag, value=values[p.name], user=user,
                                                  reason=f"batch start: {recipe.name} lot {lot}", source="batch")))
        except KilnError as exc:
            tag_write_refused_record(tag=tag, user=user, value=values[p.name], error=exc, source="batch")
            raise type(exc)(f"Parameter '{p.name}': {exc.detail}") from exc
    now = timezone.now()
    try:
        with transaction.atomic():
            batch = Batch.objects.create(recipe=recipe, machine=machine, lot=lot, started_by_id=user.pk,
                                         started_at=now)
            phases = list(recipe.phases.order_by("position"))
            BatchPhase.objects.bulk_create([
                BatchPhase(batch=batch, phase=ph, position=ph.position,
                           status=PhaseStatus.ACTIVE if i == 0 else PhaseStatus.PENDING,
                           started_at=now if i == 0 else None) for i, ph in enumerate(phases)])
            batch.current_phase = phases[0].position if phases else None
            if not phases:
                batch.status, batch.completed_at = BatchStatus.COMPLETE, now
            batch.save(update_fields=["current_phase", "status", "completed_at"])
            BatchParameter.objects.bulk_create([
                BatchParameter(batch=batch, parameter=p, name=p.name, planned=p.default, value=values[p.name],
                               tag_name=next((plan.tag.name for n, plan in plans if n == p.name), ""))
                for p in definitions])
            _audit("start", user, batch, new={"recipe": recipe.name, "version": recipe.version,
                                              "machine": machine.machine_id, "lot": lot, "parameters": values})
    except IntegrityError:
        # Two starts on one machine at once: the partial unique constraint lets one win.
        raise Conflict(f"Machine '{machine.machine_id}' is already running a batch") from None
    for name, plan in plans:
        plan.source = f"batch:{batch.pk}"
        try:
            result = tag_write_apply(plan=plan, user=user)
        except KilnError as exc:
            batch_abort(batch=batch, user=user, reason=f"Writing parameter '{name}' to tag '{plan.tag.name}' "
                                                       f"failed: {exc.detail}")
            failed = type(exc)(f"Batch {batch.pk} was aborted: writing parameter '{name}' to tag "
                               f"'{plan.tag.name}' failed: {exc.detail}")
            failed.audited = True  # the write's own records and batch.abort tell it; not a refused start
            raise failed from exc
        BatchParameter.objects.filter(batch=batch, name=name).update(
            write_audit_id=result.audit_id, confirmed=result.confirmed, written_at=result.timestamp)
    batch.refresh_from_db()
    return batch


def _phase_value(phase, value):
    label = phase.value_label or "value"
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise Unprocessable(f"Phase {phase.position} '{phase.name}': {label} must be a number")
    try:
        value = float(value)
    except OverflowError:
        raise Unprocessable(f"Phase {phase.position} '{phase.name}': {label} must be a finite number") from None
    if not math.isfinite(value):
        raise Unprocessable(f"Phase {phase.position} '{phase.name}': {label} must be a finite number")
    unit = f" {phase.value_unit}" if phase.value_unit else ""
    if phase.value_min is not None and value < phase.value_min:
        raise Unprocessable(f"Phase {phase.position} '{phase.name}': {label} {value}{unit} is below the minimum "
                            f"{phase.value_min}{unit}")
    if phase.value_max is not None and value > phase.value_max:
        raise Unprocessable(f"Phase {phase.position} '{phase.name}': {label} {value}{unit} is above the maximum "
                            f"{phase.value_max}{unit}")
    return value


@refusal_audited("phase")
def batch_phase_complete(*, batch: Batch, position, user, action: str, value=None, signature=None) -> Batch:
    """Complete the active phase the way it asks: `confirm`, `enter` (a value within limits) or `sign`.

    404 no such phase; 409 batch not running, phase not the active one, or the wrong action for it (the detail
    names the right one); 422 a value of the wrong type or outside its limits; a signature's 400/403. The phase
    (who, when, value, signature), the next phase's start (or the batch's completion) and `batch.phase_complete`
    commit together.
    """
    if action not in PHASE_ACTIONS:
        raise NotFound(f"Unknown phase action '{action}'")
    if isinstance(position, bool) or not isinstance(position, int) or not 0 <= position < 2**15:
        raise NotFound(f"Batch {batch.pk} has no phase {position}")
    run = batch.phases.select_related("phase").filter(position=position).first()
    if run is None:
        raise NotFound(f"Batch {batch.pk} has no phase {position}")
    if batch.status != BatchStatus.RUNNING:
        raise Conflict(f"Batch {batch.pk} is {batch.status}; its phases can no longer change")
    phase = run.phase
    if run.status != PhaseStatus.ACTIVE:
        raise Conflict(f"Phase {position} '{phase.name}' is {run.status}, not the active phase "
                       f"(active: {batch.current_phase})")
    if phase.requirement not in PHASE_ACTIONS[action]:
        right = _ACTION_FOR[phase.requirement]
        raise Conflict(f"Phase {position} '{phase.name}' needs {phase.get_requirement_display().lower()}: "
                       f"POST /api/batches/{batch.pk}/phases/{position}/{right}")
    entered = _phase_value(phase, value) if action == "enter" else None
    grant = None
    if action == "sign":
        fields = signature_input_parse(signature)
        grant = signature_check(signer=user, **fields, object_type="batch", object_id=batch.pk,
                                content={"batch": batch.pk, "lot": batch.lot, "phase": position, "name": phase.name,
                                         "instructions": phase.instructions},
                                min_role=Role.OPERATOR, purpose=f"e-signature on batch {batch.pk} phase {position}")
    now = timezone.now()
    with transaction.atomic():
        signed = signature_record(grant=grant) if grant is not None else None
        done = BatchPhase.objects.filter(pk=run.pk, status=PhaseStatus.ACTIVE).update(
            status=PhaseStatus.DONE, completed_at=now, completed_by_id=user.pk, completed_by_name=_name(user),
            value=entered, signature=signed)
        if done != 1:
            raise Conflict(f"Phase {position} '{phase.name}' was completed meanwhile")
        following = batch.phases.filter(position__gt=position).order_by("position").first()
        if following is not None:
            BatchPhase.objects.filter(pk=following.pk).update(status=PhaseStatus.ACTIVE, started_at=now)
            Batch.objects.filter(pk=batch.pk).update(current_phase=following.position, last_updated=now)
        else:
            Batch.objects.filter(pk=batch.pk, status=BatchStatus.RUNNING).update(
                status=BatchStatus.COMPLETE, completed_at=now, current_phase=None, last_updated=now)
        _audit("phase_complete", user, batch, new={"phase": position, "name": phase.name, "action": action,
                                                   "value": entered, "signature_id": signed.pk if signed else None,
                                                   "batch_complete": following is None})
    batch.refresh_from_db()
    return batch


def _phase_ref(batch: Batch, phase) -> int | None:
    if phase is None:
        return None
    if isinstance(phase, bool) or not isinstance(phase, int) or not batch.phases.filter(position=phase).exists():
        raise Unprocessable(f"Batch {batch.pk} has no phase {phase!r:.50}")
    return phase


def _assert_open(batch: Batch) -> None:
    if batch.status == BatchStatus.CLOSED:
        raise Conflict(f"Batch {batch.pk} is closed: its record is signed and takes no more entries")


@refusal_audited("comment")
@transaction.atomic
def batch_comment_add(*, batch: Batch, user, text, phase=None) -> BatchComment:
    """A comment in the batch record (Operator+; any status but closed). 400 empty text; 409 closed."""
    text = _text(text, "text")
    _assert_open(batch)
    comment = BatchComment.objects.create(batch=batch, author_id=user.pk, author_name=_name(user),
                                          phase_position=_phase_ref(batch, phase), text=text)
    _audit("comment", user, batch, new={"comment_id": comment.pk, "text": text, "phase": comment.phase_position})
    return comment


@refusal_audited("deviation")
@transaction.atomic
def batch_deviation_add(*, batch: Batch, user, description, severity=DeviationSeverity.MINOR,
                        phase=None) -> BatchDeviation:
    """A deviation in the batch record (Operator+; any status but closed). 400 empty text or unknown severity."""
    description = _text(description, "description")
    if severity not in DeviationSeverity.values:
        raise BadRequest(f"severity must be one of {', '.join(DeviationSeverity.values)}")
    _assert_open(batch)
    deviation = BatchDeviation.objects.create(batch=batch, reported_by_id=user.pk, reported_by_name=_name(user),
                                              phase_position=_phase_ref(batch, phase), severity=severity,
                                              description=description)
    _audit("deviation", user, batch, new={"deviation_id": deviation.pk, "severity": severity,
                                          "description": description, "phase": deviation.phase_position})
    return deviation


@refusal_audited("abort")
@transaction.atomic
def batch_abort(*, batch: Batch, user, reason) -> Batch:
    """Abort a running batch with a reason (Supervisor+): phases not done are marked not reached. 409 unless
    running; 400 without a reason."""
    reason = _text(reason, "reason", limit=1000)
    now = timezone.now()
    if not Batch.objects.filter(pk=batch.pk, status=BatchStatus.RUNNING).update(
            status=BatchStatus.ABORTED, aborted_at=now, aborted_by_id=user.pk, abort_reason=reason,
            current_phase=None, last_updated=now):
        batch.refresh_from_db()
        raise Conflict(f"Batch {batch.pk} is {batch.status}; only a running batch can be aborted")
    batch.phases.filter(status__in=[PhaseStatus.ACTIVE, PhaseStatus.PENDING]).update(status=PhaseStatus.SKIPPED)
    _audit("abort", user, batch, old={"status": BatchStatus.RUNNING}, new={"status": BatchStatus.ABORTED},
           reason=reason)
    batch.refresh_from_db()
    return batch
