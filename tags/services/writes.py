"""The one write path for tag values: check everything (tag_write_check), then act (tag_write_apply).
Writes (`tag_write`, `tag_write_batch`) validate, check the caller's role against the tag's own write role,
verify an e-signature when the tag asks for one, and then either hand the value to the PLC through the driver
write contract (tags.writers) or record it through tags.values.tag_values_record — never any other way.
The checks are tags.services.write_checks; this module acts on the WritePlan that passed them.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import redis
from django.db import DatabaseError, transaction
from django.db.models import F
from django.utils import timezone

from accounts.audit import AuditEntry, audit_record, audit_record_many
from accounts.models import AuditRecord
from accounts.signatures import SignatureGrant, signature_record
from scada.errors import BadRequest, Conflict, KilnError, NotFound
from scada.redis import get_redis
from scada.text import has_nul, printable
from tags.choices import Quality
from tags.live import live_get_many
from tags.models import Tag
from tags.services.write_checks import WritePlan, tag_write_check
from tags.values import Sample, tag_values_record
from tags.writers import DriverWriteError

logger = logging.getLogger(__name__)

__all__ = [
    "WriteResult",
    "BatchItemResult",
    "DriverWriteFailed",
    "WriteUnavailable",
    "WritePlan",
    "tag_write",
    "tag_write_check",  # tags.services.write_checks, re-exported: the write path's two phases are named together
    "tag_write_apply",
    "tag_write_refused_record",
    "has_nul",
    "tag_write_batch",
    "BATCH_WRITE_MAX",
]

BATCH_WRITE_MAX = 1000
# How long one write may hold a tag's lock (a PLC write with read-back), and how long a second writer waits.
WRITE_LOCK_SECONDS = 30
WRITE_LOCK_WAIT_SECONDS = 15
_LOCK_KEY = "kiln:lock:tagwrite:{}"


class DriverWriteFailed(KilnError):
    """The PLC refused or did not confirm the write (a 502: the fault is upstream of Kiln)."""

    status_code = 502
    default_detail = "The PLC write failed."


class WriteUnavailable(KilnError):
    """The write cannot be serialized right now (the lock store is unreachable)."""

    status_code = 503
    default_detail = "Tag writes are unavailable (Redis unreachable); try again shortly."


@dataclass(slots=True)
class WriteResult:
    """What a write did: the value written, the one it replaced, when, with what quality, and its audit id.

    `confirmed` is the PLC read-back verdict for driver-fed tags and None for tags no PLC feeds. `live` is
    False for a write with a stated time older than the live value (history only); `message` says what was done.
    """

    tag: Tag
    value: Any
    previous_value: Any
    timestamp: datetime
    quality: str
    confirmed: bool | None
    audit_id: int
    live: bool = True
    message: str = "Tag value written successfully"


@dataclass(slots=True)
class BatchItemResult:
    """One item of a batch write: the written result, or the error (status code and detail) that stopped it."""

    machine_id: str
    name: str
    result: WriteResult | None = None
    status_code: int = 200
    error: str | None = None
    extra: dict = field(default_factory=dict)

    @property
    def success(self) -> bool:
        return self.result is not None


def _signed(grant: SignatureGrant, username: str) -> dict:
    # Stores the granted signature (call inside the transaction of the record that names it) and returns the
    # audit trail's view of it, as before plus the Signature's id.
    signature = signature_record(grant=grant)
    return {"signed_by": username, "meaning": grant.meaning, "reason": grant.reason,
            "signed_at": grant.signed_at.isoformat(), "password_verified": True, "signature_id": signature.pk}


def _acquire_lock(tag: Tag):
    # One writer per tag at a time, across every web and worker process, without holding a DB transaction
    # open over PLC I/O. The lock expires on its own if its holder dies mid-write.
    try:
        lock = get_redis().lock(_LOCK_KEY.format(tag.pk), timeout=WRITE_LOCK_SECONDS,
                                blocking_timeout=WRITE_LOCK_WAIT_SECONDS)
        acquired = lock.acquire()
    except redis.RedisError as exc:
        raise WriteUnavailable(f"Tag writes are unavailable (Redis: {exc}); try again shortly.")
    if not acquired:
        raise Conflict(f"Another write to tag '{tag.name}' is still in progress; try again")
    return lock


def _release_lock(lock) -> None:
    try:
        lock.release()
    except (redis.RedisError, redis.exceptions.LockError):
        logger.warning("Tag write lock %s expired before it was released", lock.name)


def tag_write_refused_record(*, tag: Tag, user, value, error: KilnError, source: str, reason="") -> None:
    """Audit a refused write attempt (`tag.write_refused`: status, error, the value as sent). Part 11 asks
    for attempts too. Committed on its own; if the trail is down the refusal still stands (nothing was acted
    on), so the failure is logged, not raised."""
    try:
        with transaction.atomic():
            audit_record(action="tag.write_refused", user=user, object_type="tag", object_id=tag.name,
                         new_value={"value": printable(value), "source": source, "status": error.status_code,
                                    "error": printable(error.detail)},
                         reason=printable(reason if isinstance(reason, str) else "") or "")
    except DatabaseError:
        logger.exception("Could not audit a refused write to tag %s", tag.name)


def _audit_attempt(plan: WritePlan, user, old, username: str) -> tuple[AuditRecord, dict | None]:
    # The rule: no PLC is touched before its attempt is on record. Committed now, in its own transaction (the
    # write service runs outside any outer one), so a crash between here and the outcome still leaves a trace.
    # The signature (if any) is stored in the same transaction: never an attempt without it, nor it without one.
    try:
        with transaction.atomic():
            signed = _signed(plan.signature, username) if plan.signature is not None else None
            return audit_record(
                action="tag.write_attempt", user=user, object_type="tag", object_id=plan.tag.name, old_value=old,
                new_value={"value": plan.value, "source": plan.source, "signature": signed,
                           "stated_quality": plan.quality,
                           "stated_timestamp": plan.timestamp.isoformat() if plan.timestamp else None},
                reason=plan.reason), signed
    except DatabaseError as exc:
        logger.exception("Audit trail unavailable: write to tag %s refused before reaching the PLC", plan.tag.name)
        raise WriteUnavailable(f"Tag '{plan.tag.name}' was not written: its audit record could not be stored "
                               f"({type(exc).__name__}); try again shortly") from exc


def tag_write_apply(*, plan: WritePlan, user) -> WriteResult:
    """Carry out a checked write: lock the tag, record the attempt, write, track and audit the outcome.

    PLC-fed tags: a `tag.write_attempt` record is committed before the driver is called (503, PLC untouched,
    if it cannot be); then `tag.write` (with the read-back verdict) or `tag.write_failed` (502). Other tags: the
    write count, the `tag.write` record and the value are stored in one transaction (503, nothing stored, if
    the audit cannot be written). Must run outside any outer transaction.
    """
    tag, coerced, plc = plan.tag, plan.value, plan.plc
    username = getattr(user, "username", "") or ""
    backfill = False
    lock = _acquire_lock(tag)
    try:
        previous = live_get_many([tag.pk]).get(tag.pk)
        old = {"value": previous.value, "quality": previous.quality} if previous else None
        signed = None
        confirmed = None
        attempt = None
        if plc:
            attempt, signed = _audit_attempt(plan, user, old, username)
            try:
                # PLC I/O outside any DB transaction: a slow PLC must not hold row locks or connections.
                outcome = plan.router.write(tag=tag, value=coerced)
            except DriverWriteError as exc:
                try:
                    with transaction.atomic():
                        audit_record(action="tag.write_failed", user=user, object_type="tag", object_id=tag.name,
                                     old_value=old,
                                     new_value={"value": coerced, "source": plan.source, "error": exc.detail,
                                                "unknown_outcome": exc.unknown_outcome, "signature": signed,
                                                "attempt_id": attempt.pk},
                                     reason=plan.reason)
                except DatabaseError:
                    logger.exception("Could not audit the failed write to tag %s (attempt #%s)", tag.name,
                                     attempt.pk)
                hint = " (the PLC may have applied it: check before retrying)" if exc.unknown_outcome else ""
                raise DriverWriteFailed(f"Write to tag '{tag.name}' failed: {exc.detail}{hint}")
            confirmed = bool(outcome.confirmed)
            sample_ts = datetime.now(tz=UTC)
        else:
            sample_ts = plan.timestamp or datetime.now(tz=UTC)
        now = timezone.now()
        written_quality = plan.quality or Quality.GOOD
        try:
            with transaction.atomic():
                # Conditional UPDATE (healthchecks' habit): F() keeps parallel increments, and the filter makes a
                # tag switched off meanwhile fail the write instead of counting it. A PLC write has already
                # happened by now, so it is tracked and audited whatever changed meanwhile.
                writable = Tag.objects.filter(pk=tag.pk) if plc else Tag.objects.filter(pk=tag.pk, is_writable=True,
                                                                                          is_active=True)
                updated = writable.update(last_write_by=username, last_write_at=now,
                                          write_count=F("write_count") + 1)
                if updated != 1 and not plc:
                    raise Conflict(f"Tag '{tag.name}' was changed or removed while writing; nothing was written")
                if not plc and plan.signature is not None:
                    # The signature commits (or rolls back) with the write and its record, which names it.
                    signed = _signed(plan.signature, username)
                new_value = {"value": coerced, "quality": written_quality if not plc else None,
                             "timestamp": sample_ts.isoformat(), "source": plan.source,
                             "confirmed": confirmed, "signature": signed}
                if attempt is not None:
                    new_value["attempt_id"] = attempt.pk
                if plan.stated:
                    new_value["stated_not_applied"] = {
                        "quality": plan.quality,
                        "timestamp": plan.timestamp.isoformat() if plan.timestamp else None}
                record = audit_record(action="tag.write", user=user, object_type="tag", object_id=tag.name,
                                      old_value=old, new_value=new_value, reason=plan.reason)
                if not plc:
                    # Last step of the transaction: if recording fails, the count and the audit roll back with it.
                    changes = tag_values_record(
                        samples=[Sample(tag_id=tag.pk, value=coerced, quality=written_quality,
                                        ts=sample_ts.timestamp(), stated_time=plan.timestamp is not None)],
                        force=True)
                    if not changes:
                        raise Conflict(f"Tag '{tag.name}' is no longer active; nothing was written")
                    backfill = changes[0].backfill
        except DatabaseError as exc:
            logger.exception("Audit trail unavailable while writing tag %s", tag.name)
            if plc:
                # The PLC holds the value; only its outcome record is missing. Say so: a blind retry is a second
                # write, and the attempt record (committed) already names it.
                raise WriteUnavailable(f"Tag '{tag.name}' was written to the PLC, but the outcome could not be "
                                       f"recorded (attempt audit #{attempt.pk} stands); check the tag before "
                                       f"writing again") from exc
            raise WriteUnavailable(f"Tag '{tag.name}' was not written: its audit record could not be stored "
                                   f"({type(exc).__name__}); try again shortly") from exc
        if plc:
            current = live_get_many([tag.pk]).get(tag.pk)
            written_quality = current.quality if current else Quality.GOOD
    finally:
        _release_lock(lock)
    if updated == 1:
        tag.refresh_from_db(fields=["last_write_by", "last_write_at", "write_count"])
    if backfill:
        message = ("Tag value written to history only: its timestamp is older than the live value, which is "
                   "unchanged")
    elif plan.stated:
        message = ("Tag value written to the PLC; the stated quality/timestamp were accepted but not applied: the "
                   "PLC read-back sets the live value, its quality and its time")
    else:
        message = "Tag value written successfully"
    return WriteResult(tag=tag, value=coerced, previous_value=previous.value if previous else None,
                       timestamp=sample_ts, quality=written_quality, confirmed=confirmed, audit_id=record.pk,
                       live=not backfill, message=message)


def tag_write(*, tag: Tag, value, user, quality: str | None = None, timestamp: datetime | None = None,
              signature: dict | None = None, reason: str = "", source: str = "api") -> WriteResult:
    """Write a value to a tag: check everything (tag_write_check), then act (tag_write_apply). Raises KilnError.

    - 400 for NUL characters or malformed quality/timestamp/signature; 403 when the tag is not writable, the
      caller's role is below the tag's `write_role`, or the e-signature is missing or wrong; 422 for a wrong
      type, a value outside [min_value, max_value], a time outside the back-fill window. Each refusal is
      audited as `tag.write_refused`.
    - 503 (WriteUnavailable) when the audit trail or the lock store is down: the PLC is never touched then.
    - 502 (DriverWriteFailed) when the PLC refuses the write; the failure is audited.
    A tag fed by a PLC is written through the registered WriteRouter; any other tag is recorded through
    tag_values_record with the given quality and timestamp (older than the live value: history only).
    Must not be called inside an outer transaction (the attempt record must commit before the PLC is touched,
    and a wrong signature password must stay counted).
    """
    try:
        plan = tag_write_check(tag=tag, value=value, user=user, quality=quality, timestamp=timestamp,
                               signature=signature, reason=reason, source=source)
    except KilnError as exc:
        tag_write_refused_record(tag=tag, user=user, value=value, error=exc, source=source, reason=reason)
        raise
    return tag_write_apply(plan=plan, user=user)


def _batch_key_problem(machine_id, name) -> str | None:
    if machine_id is not None and not isinstance(machine_id, str):
        return "machine_id must be a string"
    if not isinstance(name, str) or not name:
        return "name: this field is required (a string)"
    if "\x00" in name or (machine_id and "\x00" in machine_id):
        return "name and machine_id must not contain NUL characters (\\u0000)"
    return None


def tag_write_batch(*, writes: list[dict], user, source: str = "api.batch") -> list[BatchItemResult]:
    """Write many values in request order, partial success, one result per item whatever happens.

    Every item is checked in full first (tag_write_check: lookup, NUL, role, type, limits, time, signature);
    only then are the valid ones written, each on its own (tag_write_apply). So an invalid item in the middle
    stops none of the others and never leaves the batch half-answered. Refused items are audited (one
    `tag.write_refused` record each, in one INSERT); a failure while writing one item (PLC, audit trail down,
    anything unexpected) becomes that item's status and error. Items are
    {"machine_id"?, "name", "value", "quality"?, "timestamp"?, "signature"?, "reason"?}; tags are looked up in
    one query, by name on that machine (full or member name), or by their plant-unique name.
    """
    from tags.selectors import tag_find_many

    if len(writes) > BATCH_WRITE_MAX:
        raise BadRequest(f"At most {BATCH_WRITE_MAX} writes per batch")
    items = [w if isinstance(w, dict) else {} for w in writes]
    keys = [(w.get("machine_id"), w.get("name")) for w in items]
    found = tag_find_many(keys=[k for k in keys if _batch_key_problem(*k) is None])
    planned: list[tuple[BatchItemResult, WritePlan | None]] = []
    refused: list[AuditEntry] = []
    for item, (machine_id, name) in zip(items, keys, strict=True):
        out = BatchItemResult(machine_id=machine_id if isinstance(machine_id, str) else "",
                              name=name if isinstance(name, str) else "")
        out.machine_id, out.name = out.machine_id.replace("\x00", ""), out.name.replace("\x00", "")
        plan = None
        problem = _batch_key_problem(machine_id, name)
        tag = found.get((machine_id, name)) if problem is None else None
        try:
            if problem is not None:
                raise BadRequest(problem)
            if tag is None:
                if machine_id:
                    raise NotFound(f"Tag '{name}' not found on machine '{machine_id}'")
                raise NotFound(f"Tag '{name}' not found")
            out.machine_id = tag.machine.machine_id
            plan = tag_write_check(tag=tag, value=item.get("value"), user=user, quality=item.get("quality"),
                                   timestamp=item.get("timestamp"), signature=item.get("signature"),
                                   reason=item.get("reason") or "", source=source)
        except KilnError as exc:
            out.status_code, out.error, out.extra = exc.status_code, exc.detail, exc.extra
            if tag is not None:
                reason = item.get("reason")
                refused.append(AuditEntry(
                    action="tag.write_refused", user=user, object_type="tag", object_id=tag.name,
                    new_value={"value": printable(item.get("value")), "source": source,
                               "status": exc.status_code, "error": printable(exc.detail)},
                    reason=printable(reason if isinstance(reason, str) else "") or ""))
        planned.append((out, plan))
    if refused:
        try:
            with transaction.atomic():
                audit_record_many(entries=refused)
        except DatabaseError:
            logger.exception("Could not audit %d refused items of a batch write", len(refused))
    for out, plan in planned:
        if plan is None:
            continue
        try:
            out.result = tag_write_apply(plan=plan, user=user)
        except KilnError as exc:
            out.status_code, out.error, out.extra = exc.status_code, exc.detail, exc.extra
        except Exception:
            # One item's unexpected fault must not cost the caller the results of the items already written.
            logger.exception("Batch write of tag %s failed unexpectedly", out.name)
            out.status_code, out.error = 500, f"Write to tag '{out.name}' failed unexpectedly; check it before retrying"
    return [out for out, _ in planned]
