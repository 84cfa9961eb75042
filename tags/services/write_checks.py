"""The check phase of the tag write path: everything verified before anything is acted on (tag_write_check).

NUL characters, the caller's role against the tag's write role, type and limits (the seed's texts), stated
quality and time (the back-fill window, the future skew), and the e-signature (accounts.signatures). What passes
is a WritePlan, which tags.services.writes.tag_write_apply acts on.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from django.conf import settings
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from accounts.signatures import SignatureGrant, signature_check, signature_input_parse
from scada.errors import BadRequest, PermissionDenied, Unprocessable
from scada.roles import Role
from scada.text import has_nul
from tags.choices import DataType, Quality
from tags.models import Tag
from tags.services.parsing import quality_parse
from tags.values import coerce_value
from tags.writers import get_write_router

__all__ = ["WritePlan", "tag_write_check"]


def _fmt_number(value) -> str:
    # The seed prints limits as floats ("maximum limit of 150.0"); keep that form for values and limits alike.
    return repr(float(value))


def _validate_value(tag: Tag, value):
    """The value as the tag's datatype, within its limits; 422 with the seed's texts otherwise."""
    if value is None:
        raise Unprocessable(f"A value is required to write tag '{tag.name}'")
    if tag.datatype == DataType.STRING and not isinstance(value, str):
        # coerce_value would stringify anything; a write of 42 to a text tag is almost surely a mistake.
        raise Unprocessable(f"Value {value!r} is not a valid STRING for tag '{tag.name}'")
    if tag.datatype != DataType.STRING and isinstance(value, str):
        raise Unprocessable(f"Value {value!r} is not a valid {tag.datatype} for tag '{tag.name}'")
    if tag.datatype in (DataType.INT, DataType.REAL) and isinstance(value, bool):
        # JSON true/false is no number (coerce_value would make an INT of it, as a PLC coil read needs).
        raise Unprocessable(f"Value {value!r} is not a valid {tag.datatype} for tag '{tag.name}'")
    try:
        coerced = coerce_value(tag.datatype, value)
    except (TypeError, ValueError):
        raise Unprocessable(f"Value {value!r} is not a valid {tag.datatype} for tag '{tag.name}'")
    if tag.datatype in (DataType.REAL, DataType.INT):
        if tag.max_value is not None and coerced > tag.max_value:
            raise Unprocessable(f"Value {_fmt_number(coerced)} exceeds maximum limit of {_fmt_number(tag.max_value)} "
                                f"for tag '{tag.name}'")
        if tag.min_value is not None and coerced < tag.min_value:
            raise Unprocessable(f"Value {_fmt_number(coerced)} is below minimum limit of {_fmt_number(tag.min_value)} "
                                f"for tag '{tag.name}'")
        if tag.datatype == DataType.INT and not -(2**63) <= coerced < 2**63:
            raise Unprocessable(f"Value {coerced} is out of the INT range for tag '{tag.name}'")
    elif tag.datatype == DataType.STRING and len(coerced) > 4096:
        raise Unprocessable(f"Value for tag '{tag.name}' is longer than 4096 characters")
    return coerced


def _check_may_write(tag: Tag, user) -> None:
    if not tag.is_writable:
        raise PermissionDenied(f"Tag '{tag.name}' is not writable")
    role = getattr(user, "role", None)
    if role is None or not getattr(user, "is_active", True) or role < tag.write_role:
        raise PermissionDenied(f"Writing tag '{tag.name}' requires the {Role(tag.write_role).label} role or higher")
    if not tag.is_active:
        raise Unprocessable(f"Tag '{tag.name}' is not active; activate it before writing")


def _check_signature_shape(tag: Tag, signature) -> dict | None:
    # Whether a write needs a signature is the tag's rule; the signature's own shape is accounts' (one set of texts).
    if not tag.requires_signature:
        return None
    if not signature:
        raise PermissionDenied(
            f"Tag '{tag.name}' requires an electronic signature: send \"signature\": "
            "{\"password\": ..., \"meaning\": ..., \"reason\": ...} with the write"
        )
    return signature_input_parse(signature)


def _sign(user, tag: Tag, signature: dict, *, value, quality, timestamp) -> SignatureGrant:
    # What the signer signs: this value (with its stated quality and time) for this tag; its hash links the two.
    content = {"tag": tag.name, "value": value, "quality": quality,
               "timestamp": timestamp.isoformat() if timestamp else None}
    # Outside any atomic block of ours: a wrong password must stay counted toward lockout. The tag's write role
    # was checked already (_check_may_write); min_role checks it again on the account row, which signs.
    return signature_check(signer=user, password=signature["password"], meaning=signature["meaning"],
                           reason=signature["reason"], object_type="tag", object_id=tag.name, content=content,
                           min_role=tag.write_role, purpose=f"e-signature on write of tag {tag.name}")


def _normalize_timestamp(timestamp) -> datetime | None:
    """A stated time as an aware UTC datetime, within the back-fill window and the future skew; 400/422 else.

    The window (KILN_WRITE_BACKFILL_DAYS) bounds how far back a writer may reach: older samples would be
    dropped by the historian's retention after a 200, and each day reached costs the historian partitions.
    """
    if timestamp is None:
        return None
    if isinstance(timestamp, str):
        try:
            timestamp = parse_datetime(timestamp)
        except ValueError:
            timestamp = None
    if not isinstance(timestamp, datetime):
        raise BadRequest("timestamp must be an ISO 8601 date-time, e.g. 2026-04-01T00:00:00Z")
    if timestamp.tzinfo is None:
        timestamp = timestamp.replace(tzinfo=UTC)  # the API speaks UTC; a zone-less time means UTC
    timestamp = timestamp.astimezone(UTC)
    now = timezone.now()
    skew = settings.KILN_WRITE_FUTURE_SKEW_SECONDS
    if timestamp > now + timedelta(seconds=skew):
        raise Unprocessable(f"timestamp is in the future (more than {skew} s ahead of the server clock)")
    days = settings.KILN_WRITE_BACKFILL_DAYS
    if timestamp < now - timedelta(days=days):
        raise Unprocessable(f"timestamp {timestamp.strftime('%Y-%m-%dT%H:%M:%SZ')} is older than the back-fill "
                            f"window of {days} days (KILN_WRITE_BACKFILL_DAYS); nothing was written")
    return timestamp


def _refuse_nul(tag: Tag, *, value, quality, signature, reason) -> None:
    # PostgreSQL text cannot hold NUL: a value or signature field carrying one could reach the PLC and then
    # fail its audit record. Refused up-front, before anything else happens.
    if has_nul(value):
        raise BadRequest(f"Value for tag '{tag.name}' contains a NUL character (\\u0000), which no tag can hold")
    if has_nul(quality):
        raise BadRequest("quality contains a NUL character (\\u0000)")
    if has_nul(reason):
        raise BadRequest("reason contains a NUL character (\\u0000)")
    if isinstance(signature, dict):
        for key in sorted(k for k in signature if isinstance(k, str) and has_nul(signature[k])):
            raise BadRequest(f"signature: {key} contains a NUL character (\\u0000)")
    if has_nul(signature):
        raise BadRequest("signature contains a NUL character (\\u0000)")


@dataclass(slots=True)
class WritePlan:
    """A write that passed every check (tag_write_check), ready for tag_write_apply.

    `stated`: the writer sent quality/timestamp for a PLC-fed tag; they are accepted but not applied (the PLC
    read-back sets the live value, its quality and its time) and the answer says so.
    """

    tag: Tag
    value: Any
    quality: str | None
    timestamp: datetime | None
    signature: SignatureGrant | None
    plc: bool
    router: Any
    reason: str
    source: str
    stated: bool = False


def tag_write_check(*, tag: Tag, value, user, quality: str | None = None, timestamp=None,
                    signature: dict | None = None, reason: str = "", source: str = "api") -> WritePlan:
    """Every check of a write, in order, before anything is acted on. Raises KilnError; audits nothing.

    NUL characters anywhere (value, quality, signature, reason) → 400; writability and role → 403; type and
    limits → 422; quality/timestamp shape → 400, outside the back-fill window or the future skew → 422;
    e-signature shape → 400/403, then accounts.signatures.signature_check: account, role and password (a wrong
    one counts toward the signer's lockout) → 403. The granted signature is stored by tag_write_apply, with the
    write's first record (see _signed).
    A PLC-fed tag takes a stated quality of GOOD and a timestamp but does not apply them; any other quality is
    a 422 (a PLC register has no quality to write).
    """
    _refuse_nul(tag, value=value, quality=quality, signature=signature, reason=reason)
    if reason is not None and not isinstance(reason, str):
        raise BadRequest("reason must be a string")
    _check_may_write(tag, user)
    coerced = _validate_value(tag, value)
    if quality is not None:
        quality = quality_parse(quality)
    ts = _normalize_timestamp(timestamp)
    sig = _check_signature_shape(tag, signature)
    router = get_write_router()
    plc = router is not None and router.handles(tag.pk)
    if plc and quality not in (None, Quality.GOOD):
        raise Unprocessable(f"Tag '{tag.name}' is fed by a PLC: a write sends the value only, so quality {quality} "
                            "cannot be written (the PLC read-back sets the quality)")
    grant = _sign(user, tag, sig, value=coerced, quality=quality, timestamp=ts) if sig is not None else None
    reason = (reason or (grant.reason if grant else ""))[:1000]
    return WritePlan(tag=tag, value=coerced, quality=quality, timestamp=ts, signature=grant, plc=plc, router=router,
                     reason=reason, source=source, stated=plc and (quality is not None or ts is not None))
