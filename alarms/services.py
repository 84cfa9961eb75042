"""Alarm services: the ISA-18.2 transitions, each a conditional UPDATE plus one journal row.

Two kinds of callers change an alarm:
- evaluation (alarms.evaluation) hands over RuntimeTransitions it has claimed in Redis: the condition became
  active or cleared, suppression by design began or ended (`alarm_runtime_transitions_apply`);
- people act through the API or admin: acknowledge, shelve, unshelve, remove from / return to service. Those
  are audited (accounts.audit) in the same transaction.

Every change reads the row, decides, and writes with `Alarm.objects.filter(pk=pk, seq=seq).update(...)`:
if another process changed the alarm in between, zero rows match and the change is decided again on fresh
data, so an acknowledgement and an activation arriving together can never overwrite each other.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from django.db import transaction
from django.utils import timezone

from accounts.audit import audit_record
from alarms.choices import AlarmEventType, AlarmKind
from alarms.lifecycle import display_state, render_message
from alarms.models import Alarm, AlarmDefinition, AlarmEvent
from alarms.push import alarms_broadcast_on_commit
from alarms.selectors import alarm_summary
from scada.bulk import bulk_insert_ignoring_conflicts
from scada.errors import BadRequest, Conflict, PermissionDenied
from scada.roles import Role

logger = logging.getLogger(__name__)

__all__ = [
    "alarm_instances_sync",
    "alarm_runtime_transitions_apply",
    "alarm_acknowledge",
    "alarm_shelve",
    "alarm_unshelve",
    "alarm_shelves_expire",
    "alarm_remove_from_service",
    "alarm_return_to_service",
    "DEFAULT_MESSAGES",
]

RETRIES = 10
DEFAULT_MESSAGES = {
    AlarmKind.HIHI: "{name}: {value} {unit} above {setpoint} {unit}",
    AlarmKind.HI: "{name}: {value} {unit} above {setpoint} {unit}",
    AlarmKind.LO: "{name}: {value} {unit} below {setpoint} {unit}",
    AlarmKind.LOLO: "{name}: {value} {unit} below {setpoint} {unit}",
    AlarmKind.EQUAL: "{name}: {tag} = {value}",
    AlarmKind.NOT_EQUAL: "{name}: {tag} = {value}",
    AlarmKind.BAD_QUALITY: "{name}: {tag} quality BAD",
}
_SELECT = ("definition", "tag__machine")


def _qs():
    return Alarm.objects.select_related(*_SELECT)


def _dt(ts: float) -> datetime:
    return datetime.fromtimestamp(ts, tz=UTC)


def _message(alarm: Alarm, value) -> str:
    d = alarm.definition
    template = d.message or DEFAULT_MESSAGES.get(d.kind, "{name}")
    return render_message(template, {
        "name": d.name, "key": d.key, "tag": alarm.tag.name, "machine": alarm.tag.machine.machine_id,
        "value": value, "unit": alarm.tag.unit, "setpoint": d.setpoint, "priority": d.priority,
        "category": d.category,
    }, decimals=alarm.tag.decimals)


def _state_of(alarm: Alarm) -> str:
    return display_state(active=alarm.active, acked=alarm.acked, suppressed=alarm.suppressed,
                         shelved=alarm.shelved_until is not None, out_of_service=alarm.out_of_service)


def _event(alarm: Alarm, *, event: str, before: str, ts: datetime, user=None, reason: str = "",
           value=None, quality: str = "") -> AlarmEvent:
    d = alarm.definition
    return AlarmEvent(
        alarm_id=alarm.pk, ts=ts, event=event, state_before=before, state_after=alarm.state, active=alarm.active,
        acked=alarm.acked, key=d.key, name=d.name[:200], tag_name=alarm.tag.name,
        machine_id=alarm.tag.machine.machine_id,
        priority=d.priority, category=d.category, value=value, quality=quality or "", message=alarm.message,
        user_id=getattr(user, "id", None) if user is not None else None,
        username=getattr(user, "username", "") if user is not None else "", reason=(reason or "")[:500],
    )


def _conditional_update(alarm: Alarm, fields: dict) -> bool:
    """Write `fields` (plus the derived state) if nobody changed the alarm since it was read."""
    for name, value in fields.items():
        setattr(alarm, name, value)
    alarm.state = _state_of(alarm)
    now = timezone.now()
    updated = Alarm.objects.filter(pk=alarm.pk, seq=alarm.seq).update(
        **fields, state=alarm.state, seq=alarm.seq + 1, last_updated=now)
    if updated:
        alarm.seq += 1
        alarm.last_updated = now
    return bool(updated)


def _person_change(alarm_pk: int, decide: Callable[[Alarm], dict]) -> tuple[Alarm, str]:
    """Decide on fresh data and write conditionally; retried when another transition got there first.

    `decide(alarm)` returns the fields to change, or raises (Conflict, BadRequest) to refuse.
    """
    for _ in range(RETRIES):
        alarm = _qs().get(pk=alarm_pk)
        before = alarm.state
        fields = decide(alarm)
        if _conditional_update(alarm, fields):
            return alarm, before
    raise Conflict("The alarm kept changing while this was being applied; try again.")


def _principal_name(user) -> str:
    return getattr(user, "username", "") or ""


# --- instances --------------------------------------------------------------------------------------------


def alarm_instances_sync() -> int:
    """Make one Alarm per (definition, tag): the definition's tag, or every instance tag of its device type member.

    Idempotent and safe to run in several processes at once (unique constraint + ignore_conflicts). Alarms
    whose definition no longer targets their tag are deleted; their journal rows stay. Returns rows created.
    """
    from tags.models import Tag

    desired: set[tuple[int, int]] = set()
    by_member: dict[tuple[int, str], list[int]] = {}
    for tag_id, dt_id, member in Tag.objects.filter(machine__device_type__isnull=False).exclude(member="").values_list(
        "id", "machine__device_type_id", "member"
    ):
        by_member.setdefault((dt_id, member), []).append(tag_id)
    for def_id, tag_id, dt_id, member in AlarmDefinition.objects.values_list(
        "id", "tag_id", "device_type_tag__device_type_id", "device_type_tag__member"
    ):
        if tag_id is not None:
            desired.add((def_id, tag_id))
        else:
            desired.update((def_id, t) for t in by_member.get((dt_id, member), ()))
    existing = {(d, t): pk for pk, d, t in Alarm.objects.values_list("id", "definition_id", "tag_id")}
    missing = desired - set(existing)
    if missing:
        pairs = sorted(missing)
        bulk_insert_ignoring_conflicts(Alarm(), {"definition_id": [d for d, _ in pairs],
                                                 "tag_id": [t for _, t in pairs]})
    stale = [pk for key, pk in existing.items() if key not in desired]
    if stale:
        Alarm.objects.filter(pk__in=stale).delete()
    return len(missing)


# --- evaluation results -----------------------------------------------------------------------------------


def _fold_runtime(alarm: Alarm, transitions) -> tuple[dict, list[AlarmEvent]]:
    """Apply runtime transitions (ordered by generation) to the alarm in memory; the fields and journal rows.

    A transition older than the row's generation (two processes' writes crossed) is journaled and still
    demands an acknowledgement if it was an activation, but it never rolls `active` back.
    """
    fields: dict = {}
    events = []
    for t in transitions:
        before = alarm.state
        fresh = t.gen > alarm.gen
        if fresh:
            fields.update(active=t.active, suppressed=t.suppressed, gen=t.gen)
            alarm.active, alarm.suppressed, alarm.gen = t.active, t.suppressed, t.gen
        at = _dt(t.ts)
        if t.event == AlarmEventType.ACTIVATED:
            # Every activation asks for an acknowledgement, even one whose clearing was applied first.
            fields.update(acked=False, acked_at=None, acked_by="", ack_reason="")
            alarm.acked, alarm.acked_at, alarm.acked_by, alarm.ack_reason = False, None, "", ""
            if fresh:
                fields["activated_at"] = alarm.activated_at = at
        elif t.event == AlarmEventType.CLEARED and fresh:
            fields["cleared_at"] = alarm.cleared_at = at
        if t.event in (AlarmEventType.ACTIVATED, AlarmEventType.CLEARED) and fresh:
            fields.update(value=t.value, quality=t.quality or "")
            alarm.value, alarm.quality = t.value, t.quality or ""
            fields["message"] = alarm.message = _message(alarm, t.value)
        fields["last_transition_at"] = alarm.last_transition_at = max(filter(None, (alarm.last_transition_at, at)))
        alarm.state = _state_of(alarm)
        events.append(_event(alarm, event=t.event, before=before, ts=at, value=t.value, quality=t.quality))
    return fields, events


@transaction.atomic
def alarm_runtime_transitions_apply(*, transitions) -> list[AlarmEvent]:
    """Apply and journal transitions claimed by evaluation (one batch); one broadcast for the batch on commit."""
    grouped: dict[int, list] = {}
    for t in transitions:
        grouped.setdefault(t.alarm_id, []).append(t)
    rows = {a.pk: a for a in _qs().filter(pk__in=grouped)}
    journal: list[AlarmEvent] = []
    changed: list[Alarm] = []
    for aid, items in grouped.items():
        items.sort(key=lambda t: t.gen)
        alarm = rows.get(aid)
        for _ in range(RETRIES):
            if alarm is None:
                break  # deleted since it was evaluated: nothing to journal against
            fields, events = _fold_runtime(alarm, items)
            if _conditional_update(alarm, fields):
                journal.extend(events)
                changed.append(alarm)
                break
            alarm = _qs().filter(pk=aid).first()
        else:
            logger.error("Alarm %s: runtime transitions not applied after %d conflicting updates", aid, RETRIES)
    if journal:
        AlarmEvent.objects.bulk_create(journal, batch_size=1000)
        alarms_broadcast_on_commit([alarm_summary(a) for a in changed])
    return journal


# --- people acting ----------------------------------------------------------------------------------------


@transaction.atomic
def alarm_acknowledge(*, alarm: Alarm, user, reason_code: str = "", comment: str = "") -> Alarm:
    """Acknowledge an alarm (Operator+). Never changes whether it is active; only what is outstanding.

    400 when the definition needs a reason code and none or an unknown one is given; 409 when there is
    nothing to acknowledge.
    """
    d = alarm.definition
    reason_code = (reason_code or "").strip()
    comment = (comment or "").strip()
    if d.ack_requires_reason and not reason_code:
        allowed = f" (one of: {', '.join(d.reason_codes)})" if d.reason_codes else ""
        raise BadRequest(f"A reason code is required to acknowledge this alarm{allowed}.")
    if reason_code and d.reason_codes and reason_code not in d.reason_codes:
        raise BadRequest(f"Unknown reason code '{reason_code}'; allowed: {', '.join(d.reason_codes)}.")
    reason = ": ".join(p for p in (reason_code, comment) if p)
    now = timezone.now()

    def decide(a: Alarm) -> dict:
        if a.acked:
            raise Conflict("Nothing to acknowledge: the alarm is not waiting for an acknowledgement.")
        return {"acked": True, "acked_at": now, "acked_by": _principal_name(user), "ack_reason": reason[:500]}

    alarm, before = _person_change(alarm.pk, decide)
    AlarmEvent.objects.bulk_create([_event(alarm, event=AlarmEventType.ACKNOWLEDGED, before=before, ts=now,
                                           user=user, reason=reason, value=alarm.value, quality=alarm.quality)])
    audit_record(action="alarm.acknowledge", user=user, object_type="alarm", object_id=alarm.pk,
                 old_value={"state": before, "key": d.key, "tag": alarm.tag.name},
                 new_value={"state": alarm.state, "reason_code": reason_code}, reason=reason)
    alarms_broadcast_on_commit([alarm_summary(alarm)])
    return alarm


def _require_supervisor(user, what: str) -> None:
    # The route's matrix entry already demands Supervisor; services called from elsewhere check again.
    if not user.has_role(Role.SUPERVISOR):
        raise PermissionDenied(f"Only a Supervisor or higher may {what} alarms.")


@transaction.atomic
def alarm_shelve(*, alarm: Alarm, user, duration_seconds: int, reason: str = "") -> Alarm:
    """Shelve an alarm for `duration_seconds` (Supervisor+; a reason where the definition's
    `shelve_requires_reason` asks for one, as for acknowledging). It keeps being evaluated and journaled, is not
    annunciated, and returns to its true state on its own when the time is up."""
    _require_supervisor(user, "shelve")
    d = alarm.definition
    if isinstance(duration_seconds, bool) or not isinstance(duration_seconds, int) or duration_seconds <= 0:
        raise BadRequest("duration is required: a positive number of seconds.")
    if duration_seconds > d.max_shelve_seconds:
        raise BadRequest(f"duration must be at most {d.max_shelve_seconds} seconds for this alarm.")
    reason = (reason or "").strip()
    if d.shelve_requires_reason and not reason:
        raise BadRequest("A reason is required to shelve this alarm.")
    now = timezone.now()
    until = now + timedelta(seconds=duration_seconds)

    def decide(a: Alarm) -> dict:
        if a.out_of_service:
            raise Conflict("The alarm is out of service; return it to service before shelving it.")
        if a.shelved_until is not None:
            raise Conflict("The alarm is already shelved; unshelve it first.")
        return {"shelved_until": until, "shelved_at": now, "shelved_by": _principal_name(user),
                "shelve_reason": reason[:500]}

    alarm, before = _person_change(alarm.pk, decide)
    AlarmEvent.objects.bulk_create([_event(alarm, event=AlarmEventType.SHELVED, before=before, ts=now, user=user,
                                           reason=reason, value=alarm.value, quality=alarm.quality)])
    audit_record(action="alarm.shelve", user=user, object_type="alarm", object_id=alarm.pk,
                 old_value={"state": before, "key": d.key, "tag": alarm.tag.name},
                 new_value={"state": alarm.state, "shelved_until": until.isoformat(),
                            "duration_seconds": duration_seconds}, reason=reason)
    alarms_broadcast_on_commit([alarm_summary(alarm)])
    return alarm


def _unshelve_fields() -> dict:
    return {"shelved_until": None, "shelved_at": None, "shelved_by": "", "shelve_reason": ""}


@transaction.atomic
def alarm_unshelve(*, alarm: Alarm, user, reason: str = "") -> Alarm:
    """End shelving early (Supervisor+); the alarm shows its true state at once. 409 if it is not shelved."""
    _require_supervisor(user, "unshelve")

    def decide(a: Alarm) -> dict:
        if a.shelved_until is None:
            raise Conflict("The alarm is not shelved.")
        return _unshelve_fields()

    now = timezone.now()
    alarm, before = _person_change(alarm.pk, decide)
    AlarmEvent.objects.bulk_create([_event(alarm, event=AlarmEventType.UNSHELVED, before=before, ts=now, user=user,
                                           reason=reason, value=alarm.value, quality=alarm.quality)])
    audit_record(action="alarm.unshelve", user=user, object_type="alarm", object_id=alarm.pk,
                 old_value={"state": before, "key": alarm.definition.key, "tag": alarm.tag.name},
                 new_value={"state": alarm.state}, reason=reason or "")
    alarms_broadcast_on_commit([alarm_summary(alarm)])
    return alarm


def alarm_shelves_expire(*, now: datetime | None = None) -> int:
    """End every shelving whose time is up (the timer task). Journaled at the exact expiry time; no audit,
    as no person acted. Each alarm in its own transaction; safe to run in several workers at once."""
    now = now or timezone.now()
    expired = 0
    for pk in Alarm.objects.filter(shelved_until__lte=now).values_list("pk", flat=True):
        with transaction.atomic():
            alarm = _qs().filter(pk=pk).first()
            for _ in range(RETRIES):
                if alarm is None or alarm.shelved_until is None or alarm.shelved_until > now:
                    break
                before, until = alarm.state, alarm.shelved_until
                if _conditional_update(alarm, _unshelve_fields()):
                    AlarmEvent.objects.bulk_create([_event(alarm, event=AlarmEventType.SHELVE_EXPIRED,
                                                           before=before, ts=until, value=alarm.value,
                                                           quality=alarm.quality)])
                    alarms_broadcast_on_commit([alarm_summary(alarm)])
                    expired += 1
                    break
                alarm = _qs().filter(pk=pk).first()
    return expired


@transaction.atomic
def alarm_remove_from_service(*, alarm: Alarm, user, reason: str) -> Alarm:
    """Take an alarm out of service (Engineer+, with a reason): still evaluated and journaled, never annunciated,
    and shelving no longer applies."""
    if not user.has_role(Role.ENGINEER):
        raise PermissionDenied("Only an Engineer or higher may take alarms out of service.")
    reason = (reason or "").strip()
    if not reason:
        raise BadRequest("A reason is required to take an alarm out of service.")

    def decide(a: Alarm) -> dict:
        if a.out_of_service:
            raise Conflict("The alarm is already out of service.")
        return {"out_of_service": True, "oos_by": _principal_name(user), "oos_reason": reason[:500],
                **_unshelve_fields()}

    now = timezone.now()
    alarm, before = _person_change(alarm.pk, decide)
    AlarmEvent.objects.bulk_create([_event(alarm, event=AlarmEventType.REMOVED_FROM_SERVICE, before=before, ts=now,
                                           user=user, reason=reason, value=alarm.value, quality=alarm.quality)])
    audit_record(action="alarm.remove_from_service", user=user, object_type="alarm", object_id=alarm.pk,
                 old_value={"state": before, "key": alarm.definition.key, "tag": alarm.tag.name},
                 new_value={"state": alarm.state}, reason=reason)
    alarms_broadcast_on_commit([alarm_summary(alarm)])
    return alarm


@transaction.atomic
def alarm_return_to_service(*, alarm: Alarm, user, reason: str = "") -> Alarm:
    """Return an out-of-service alarm to service (Engineer+); it shows its true state at once."""
    if not user.has_role(Role.ENGINEER):
        raise PermissionDenied("Only an Engineer or higher may return alarms to service.")

    def decide(a: Alarm) -> dict:
        if not a.out_of_service:
            raise Conflict("The alarm is in service.")
        return {"out_of_service": False, "oos_by": "", "oos_reason": ""}

    now = timezone.now()
    alarm, before = _person_change(alarm.pk, decide)
    AlarmEvent.objects.bulk_create([_event(alarm, event=AlarmEventType.RETURNED_TO_SERVICE, before=before, ts=now,
                                           user=user, reason=reason, value=alarm.value, quality=alarm.quality)])
    audit_record(action="alarm.return_to_service", user=user, object_type="alarm", object_id=alarm.pk,
                 old_value={"state": before, "key": alarm.definition.key, "tag": alarm.tag.name},
                 new_value={"state": alarm.state}, reason=reason or "")
    alarms_broadcast_on_commit([alarm_summary(alarm)])
    return alarm
