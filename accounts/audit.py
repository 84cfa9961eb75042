"""The audit trail service: the one way any app records who did what (accounts.audit.audit_record).

Records are hash-chained in sequence order. Inserts are serialized with a transaction-scoped advisory lock
on PostgreSQL (SQLite serializes writers itself), so each record gets the next gapless `seq` and the hash of
the one before it; call these inside the same transaction as the change they describe, so the record commits
(or rolls back) with it. docs/audit.md describes the design: what is hashed, the keys, and checkpoints.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import math
import os
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import orjson
from django.conf import settings
from django.db import connection, transaction
from django.db.models import TextField
from django.db.models.functions import Cast
from django.utils import timezone

from accounts.models import AuditCheckpoint, AuditRecord
from scada import context

__all__ = [
    "AuditBreak", "AuditEntry", "AuditReport", "Checkpoint", "GENESIS_HASH", "audit_canonical",
    "audit_checkpoint_create", "audit_checkpoints_load", "audit_legacy_seal", "audit_record", "audit_record_many",
    "audit_verify",
]

GENESIS_HASH = "0" * 64
KEYED = "hmac-sha256-v2"  # every record written now: canonical JSON, seq included, keyed with KILN_AUDIT_KEY
KEYED_V1 = "hmac-sha256"  # written from accounts 0003 until 0004: keyed, but orjson-serialized and without seq
UNKEYED = "sha256"  # written before accounts 0003: anyone can recompute these
_SCHEME_RANK = {UNKEYED: 0, KEYED_V1: 1, KEYED: 2}  # a chain never goes back to an older scheme
LEGACY_SEAL_ACTION = "audit.legacy_sealed"
_AUDIT_LOCK_KEY = 0x4B494C4E  # "KILN": one advisory lock id for the audit chain
_MAX_DEPTH = 64  # deeper nesting is elided: PostgreSQL and json both stop at some depth, a record must not
_MAX_INT_BITS = 13_000  # ~3,900 digits: below Python's 4,300-digit int/str limit, so json.loads reads it back
# Columns with a length limit (varchar), in characters.
_BOUNDED = {"username": 150, "action": 64, "object_type": 64, "object_id": 255, "client_ip": 45, "request_id": 64}


@dataclass
class AuditEntry:
    """One record to append; user may be a User, a token principal, or None for the system."""

    action: str
    user: Any = None
    object_type: str = ""
    object_id: str = ""
    old_value: Any = None
    new_value: Any = None
    reason: str = ""
    username: str | None = None  # when there is no user object (e.g. a failed login's attempted name)


# --- canonical form ------------------------------------------------------------------------------------------
# What is stored is what is hashed, and it must come back from PostgreSQL unchanged: text and jsonb refuse NUL,
# jsonb refuses NaN/Infinity and lone surrogates, and jsonb keeps numbers as `numeric`, which prints 1e20 as
# 100000000000000000000 (an int once decoded) and -0.0 as 0.0. So the canonical form is already what jsonb gives.

def _text(value: str) -> str:
    value = str.__str__(value)  # a str subclass (TextChoices, StrEnum) as its plain text
    if "\x00" in value:
        value = value.replace("\x00", "\\u0000")  # visible escape: PostgreSQL text and jsonb refuse NUL
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:  # lone surrogates cannot be stored as UTF-8: keep them as visible \udXXX escapes
        value = value.encode("utf-8", "backslashreplace").decode("utf-8")
    return value


def _int(value: int) -> int | str:
    value = int(value)
    if value.bit_length() > _MAX_INT_BITS:  # too long for json/str round-trips: exact, as hexadecimal text
        return ("-" if value < 0 else "") + hex(abs(value))
    return value


def _float(value: float) -> float | int | str:
    value = float(value)
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    # What jsonb's numeric prints for json.dumps' shortest repr: plain notation, no negative zero.
    text = format(Decimal(repr(value)), "f")
    if value == 0:
        text = text.lstrip("-")
    return json.loads(text)


def _key(key: Any) -> str:
    if isinstance(key, str):
        return _text(key)
    if key is None or isinstance(key, bool):
        return json.dumps(key)
    if isinstance(key, int):
        return str(_int(key))
    if isinstance(key, float):
        number = _float(key)
        return number if isinstance(number, str) else json.dumps(number)
    return _text(str(key))


def _canon(value: Any, depth: int) -> Any:
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, str):
        return _text(value)
    if isinstance(value, int):
        return _int(value)
    if isinstance(value, float):
        return _float(value)
    if isinstance(value, dict | list | tuple) and depth >= _MAX_DEPTH:
        return f"…[nested deeper than {_MAX_DEPTH} levels, elided]"
    if isinstance(value, dict):
        return {_key(k): _canon(v, depth + 1) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_canon(v, depth + 1) for v in value]
    try:  # datetimes, UUIDs, enums, dataclasses as orjson writes them; anything else as its str()
        plain = orjson.loads(orjson.dumps(value, default=str, option=orjson.OPT_NON_STR_KEYS))
    except (TypeError, ValueError):
        plain = str(value)
    return _canon(plain, depth + 1)


def audit_canonical(value: Any) -> Any:
    """The form of `value` the trail stores and hashes: JSON that PostgreSQL's jsonb returns unchanged.

    Never fails: NUL becomes the text \\u0000, NaN/±Infinity become strings, -0.0 becomes 0.0, floats that
    numeric prints without a fraction (1e20) become ints, ints too long to read back become hex strings.
    """
    return _canon(value, 0)


def _fit(value: str, limit: int) -> str:
    value = _text(value)
    if len(value) <= limit:
        return value
    # Over-long text is shortened visibly, with the digest of the full text, rather than refused or cut silently.
    digest = hashlib.sha256(value.encode()).hexdigest()[:16]
    suffix = f"…[{len(value)} chars, sha256 {digest}]"
    return value[: max(0, limit - len(suffix))] + suffix


def _canonical_ts(ts: datetime) -> str:
    return ts.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _dumps(payload: dict) -> bytes:
    # Sorted keys, no spaces, ASCII only: one byte string per value, whatever the key order or Python build.
    return json.dumps(payload, sort_keys=True, ensure_ascii=True, separators=(",", ":"), allow_nan=False).encode()


def _key_bytes() -> bytes:
    return settings.KILN_AUDIT_KEY.encode()


def compute_hash(record: Any) -> str:
    """The hash `record` must carry under its own scheme (record.hash_alg); "" for an unknown scheme.

    May raise for a record that cannot be serialized (only old schemes can meet one); audit_verify reports it.
    """
    fields = {
        "prev": record.prev_hash,
        "ts": _canonical_ts(record.ts),
        "user_id": record.user_id,
        "username": record.username,
        "action": record.action,
        "object_type": record.object_type,
        "object_id": record.object_id,
        "old": record.old_value,
        "new": record.new_value,
        "reason": record.reason,
        "ip": record.client_ip,
        "rid": record.request_id,
    }
    if record.hash_alg == KEYED:
        # The scheme and seq are part of the message: a record cannot be renumbered or relabelled.
        message = _dumps({**fields, "alg": KEYED, "seq": record.seq})
        return hmac.new(_key_bytes(), message, hashlib.sha256).hexdigest()
    legacy = orjson.dumps(fields, option=orjson.OPT_SORT_KEYS)  # the older schemes' message, byte for byte
    if record.hash_alg == UNKEYED:
        return hashlib.sha256(legacy).hexdigest()
    if record.hash_alg == KEYED_V1:
        return hmac.new(_key_bytes(), legacy, hashlib.sha256).hexdigest()
    return ""


# --- writing -----------------------------------------------------------------------------------------------

def _lock_chain(model) -> tuple[int, str]:
    if connection.vendor == "postgresql":
        with connection.cursor() as cur:
            cur.execute("SELECT pg_advisory_xact_lock(%s)", [_AUDIT_LOCK_KEY])
    last = model.objects.order_by("-seq").values_list("seq", "hash").first()
    return last or (0, GENESIS_HASH)


def _append(model, entries: list[AuditEntry]) -> list:
    seq, prev = _lock_chain(model)
    now = timezone.now()
    rid = context.request_id.get() or ""
    ip = context.client_ip.get() or ""
    records = []
    for entry in entries:
        user = entry.user
        seq += 1
        username = entry.username if entry.username is not None else getattr(user, "username", "")
        record = model(
            seq=seq,
            ts=now,
            user_id=getattr(user, "id", None) if user is not None else None,
            username=_fit(str(username or ""), _BOUNDED["username"]),
            action=_fit(str(entry.action), _BOUNDED["action"]),
            object_type=_fit(str(entry.object_type or ""), _BOUNDED["object_type"]),
            object_id=_fit(str(entry.object_id or ""), _BOUNDED["object_id"]),
            old_value=audit_canonical(entry.old_value),
            new_value=audit_canonical(entry.new_value),
            reason=_text(str(entry.reason or "")),
            client_ip=_fit(str(ip), _BOUNDED["client_ip"]),
            request_id=_fit(str(rid), _BOUNDED["request_id"]),
            prev_hash=prev,
            hash_alg=KEYED,
        )
        record.hash = compute_hash(record)
        prev = record.hash
        records.append(record)
    model.objects.bulk_create(records)
    if records[0].pk is None:  # SQLite before RETURNING support: fetch ids back in order
        ids = list(model.objects.order_by("-seq").values_list("id", flat=True)[: len(records)])[::-1]
        for record, pk in zip(records, ids, strict=True):
            record.pk = pk
    return records


@transaction.atomic
def audit_record_many(*, entries: list[AuditEntry]) -> list[AuditRecord]:
    """Append several records in one lock and one INSERT (batch tag writes: one record per item).

    Never fails on content: values are stored (and hashed) in their canonical form, see audit_canonical.
    """
    if not entries:
        return []
    return _append(AuditRecord, entries)


def audit_record(
    *,
    action: str,
    user: Any = None,
    object_type: str = "",
    object_id: Any = "",
    old_value: Any = None,
    new_value: Any = None,
    reason: str = "",
    username: str | None = None,
) -> AuditRecord:
    """Append one record to the audit trail and return it (its id is the `auditId` the APIs hand out)."""
    entry = AuditEntry(
        action=action,
        user=user,
        object_type=object_type,
        object_id=str(object_id) if object_id is not None else "",
        old_value=old_value,
        new_value=new_value,
        reason=reason,
        username=username,
    )
    return audit_record_many(entries=[entry])[0]


@transaction.atomic
def audit_legacy_seal(*, model=None):
    """Vouch, with a keyed record, for the unkeyed records already at the start of the chain (their count and the
    hash of the last one); returns that record, or None when there are none. Run once, by migration accounts 0004.

    Without such a seal audit_verify refuses every unkeyed record, so rewriting the whole trail with plain
    SHA-256 (which needs no key) fails, and so does adding or rewriting unkeyed records after the seal.
    """
    model = model or AuditRecord
    _lock_chain(model)
    unkeyed = model.objects.filter(hash_alg=UNKEYED)
    count = unkeyed.count()
    if not count:
        return None
    last = unkeyed.order_by("-seq").values_list("seq", "hash").first()
    entry = AuditEntry(action=LEGACY_SEAL_ACTION, object_type="audit", reason="records from before keyed hashing",
                       new_value={"unkeyed_records": count, "last_unkeyed_seq": last[0], "last_unkeyed_hash": last[1]})
    return _append(model, [entry])[0]


# --- checkpoints -------------------------------------------------------------------------------------------

@dataclass
class Checkpoint:
    """A signed {seq, hash, ts} of the chain head, from the checkpoint table or a file kept outside the database."""

    seq: int | None
    hash: str
    ts: str
    sig: str
    source: str
    error: str = ""  # why it could not be read, when it could not

    def to_json(self) -> str:
        return json.dumps({"seq": self.seq, "hash": self.hash, "ts": self.ts, "sig": self.sig})


def _checkpoint_sig(seq: int, head_hash: str, ts: str) -> str:
    # Domain-separated from record hashes: a checkpoint signature can never pass for a record hash or back.
    message = _dumps({"kiln": "audit-checkpoint-v1", "seq": seq, "hash": head_hash, "ts": ts})
    return hmac.new(_key_bytes(), message, hashlib.sha256).hexdigest()


def _checkpoint_from_row(row: AuditCheckpoint) -> Checkpoint:
    return Checkpoint(seq=row.seq, hash=row.head_hash, ts=_canonical_ts(row.created), sig=row.signature,
                      source=f"stored checkpoint #{row.pk}")


def audit_checkpoint_create(*, export_dir: str | None = None) -> tuple[Checkpoint, Path | None]:
    """Sign the chain head (seq, hash, time), store it in the checkpoint table and, when export_dir (default
    KILN_AUDIT_CHECKPOINT_DIR) is set, write it there as audit-checkpoint-<seq>.json to be kept off the database.

    Returns the signed checkpoint and the file written. A head already checkpointed is not stored twice.
    """
    head = AuditRecord.objects.order_by("-seq").values_list("seq", "hash").first() or (0, GENESIS_HASH)
    checkpoint = AuditCheckpoint.objects.filter(seq=head[0], head_hash=head[1]).order_by("-id").first()
    if checkpoint is None:
        now = timezone.now()
        ts = _canonical_ts(now)
        checkpoint = AuditCheckpoint.objects.create(created=now, seq=head[0], head_hash=head[1],
                                                    signature=_checkpoint_sig(head[0], head[1], ts))
    signed = _checkpoint_from_row(checkpoint)
    export_dir = export_dir if export_dir is not None else settings.KILN_AUDIT_CHECKPOINT_DIR
    path = None
    if export_dir:
        path = Path(export_dir) / f"audit-checkpoint-{checkpoint.seq:012d}.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(signed.to_json() + "\n")
        os.replace(tmp, path)  # never a half-written checkpoint file
    return signed, path


def _parse_checkpoint(text: str, source: str) -> Checkpoint:
    try:
        data = json.loads(text)
        seq, head_hash, ts, sig = data["seq"], data["hash"], data["ts"], data["sig"]
        if not (isinstance(seq, int) and not isinstance(seq, bool) and seq >= 0):
            raise ValueError("seq is not a non-negative integer")
        if not all(isinstance(v, str) for v in (head_hash, ts, sig)):
            raise ValueError("hash, ts and sig must be strings")
    except (ValueError, KeyError, TypeError) as exc:
        return Checkpoint(seq=None, hash="", ts="", sig="", source=source, error=f"cannot be read ({exc})")
    return Checkpoint(seq=seq, hash=head_hash, ts=ts, sig=sig, source=source)


def audit_checkpoints_load(*, path: str) -> list[Checkpoint]:
    """Checkpoints from a file (one JSON object a line) or a directory of *.json files. Never raises: what cannot
    be read comes back as a Checkpoint with `error` set, which audit_verify reports as a break."""
    target = Path(path)
    try:
        files = sorted(target.glob("*.json")) if target.is_dir() else [target]
        found = []
        for file in files:
            lines = [line for line in file.read_text(errors="replace").splitlines() if line.strip()]
            if not lines:
                found.append(Checkpoint(seq=None, hash="", ts="", sig="", source=str(file), error="is empty"))
            found += [_parse_checkpoint(line, f"{file}:{n}") for n, line in enumerate(lines, 1)]
        return found
    except OSError as exc:
        return [Checkpoint(seq=None, hash="", ts="", sig="", source=str(target), error=f"cannot be read ({exc})")]


# --- verifying ---------------------------------------------------------------------------------------------

@dataclass
class AuditBreak:
    """One broken link: the record (None when records are missing at the head) and what is wrong."""

    record_id: int | None
    seq: int | None
    why: str


@dataclass
class AuditReport:
    """What audit_verify found: records walked, every break, the head, and what vouched for it."""

    checked: int = 0
    breaks: list[AuditBreak] = field(default_factory=list)
    head_seq: int = 0
    head_hash: str = GENESIS_HASH
    unkeyed: int = 0
    checkpoints: int = 0

    @property
    def ok(self) -> bool:
        return not self.breaks


_ROW_FIELDS = ["id", "seq", "ts", "user_id", "username", "action", "object_type", "object_id", "reason",
               "client_ip", "request_id", "prev_hash", "hash", "hash_alg"]


def _rows(queryset):
    # JSON columns are read as text and decoded here, so one undecodable row is a reported break, not a crash.
    queryset = queryset.annotate(old_raw=Cast("old_value", TextField()), new_raw=Cast("new_value", TextField()))
    for values in queryset.values_list(*_ROW_FIELDS, "old_raw", "new_raw").iterator(chunk_size=2000):
        row = SimpleNamespace(**dict(zip(_ROW_FIELDS, values[:-2], strict=True)))
        problems = []
        for name, raw in (("old_value", values[-2]), ("new_value", values[-1])):
            try:
                setattr(row, name, None if raw is None else json.loads(raw))
            except ValueError as exc:
                setattr(row, name, None)
                problems.append(f"its {name} cannot be decoded ({str(exc)[:80]})")
        yield row, problems


def _hash_matches(row) -> str:
    try:
        expected = compute_hash(row)
    except Exception as exc:  # noqa: BLE001 - a record no scheme can serialize is a break, never a crash
        return f"it cannot be re-hashed under {row.hash_alg} ({type(exc).__name__}: {str(exc)[:80]})"
    if expected != row.hash:
        return ("its content does not match its hash (the record was altered or forged, or KILN_AUDIT_KEY is not "
                "the key it was written with)")
    return ""


def _legacy_seal() -> dict | None:
    """The claims of the first keyed, intact legacy seal, or None."""
    candidates = AuditRecord.objects.filter(action=LEGACY_SEAL_ACTION, hash_alg=KEYED).order_by("seq")
    for row, problems in _rows(candidates):
        claim = row.new_value if isinstance(row.new_value, dict) else {}
        if not problems and not _hash_matches(row) and isinstance(claim.get("unkeyed_records"), int):
            return claim
    return None


def audit_verify(*, checkpoints: list[Checkpoint] | None = None) -> AuditReport:
    """Walk the whole chain in seq order and report every broken link; never raises on the trail's content.

    A link breaks when: its seq is not the next one (records deleted), its prev_hash is not the previous hash,
    its hash does not verify, its scheme is older than one before it (downgrade), it is unkeyed without a keyed
    legacy seal vouching for exactly that prefix, or a checkpoint (stored or given) says otherwise about its seq.
    A checkpoint beyond the head means the newest records were removed. Checkpoints with a bad signature break.
    """
    report = AuditReport()
    seal = _legacy_seal()
    by_seq: dict[int, list[Checkpoint]] = {}
    stored = [_checkpoint_from_row(row) for row in AuditCheckpoint.objects.order_by("seq", "id")]
    for cp in stored + list(checkpoints or []):
        if cp.error:
            report.breaks.append(AuditBreak(None, None, f"checkpoint {cp.source} {cp.error}"))
        elif not hmac.compare_digest(cp.sig, _checkpoint_sig(cp.seq, cp.hash, cp.ts)):
            report.breaks.append(AuditBreak(None, cp.seq, f"checkpoint {cp.source} has a bad signature (forged, "
                                                          "altered, or signed with another KILN_AUDIT_KEY)"))
        else:
            by_seq.setdefault(cp.seq, []).append(cp)
            report.checkpoints += 1
    for cp in by_seq.get(0, []):
        if cp.hash != GENESIS_HASH:
            report.breaks.append(AuditBreak(None, 0, f"checkpoint {cp.source} of {cp.ts} names a head at seq 0 "
                                                     "that is not the genesis hash"))

    prev, expected_seq, rank = GENESIS_HASH, 1, 0
    for row, why in _rows(AuditRecord.objects.order_by("seq", "id")):
        report.checked += 1
        if row.seq is None:
            why.append("it has no sequence number")
        elif row.seq > expected_seq:
            why.append(f"records seq {expected_seq}..{row.seq - 1} are missing (deleted)")
        elif row.seq < expected_seq:
            why.append(f"its seq {row.seq} repeats or goes back (expected {expected_seq})")
        if row.prev_hash != prev:
            why.append("its prev_hash does not match the record before it (a record was removed, inserted or "
                       "reordered)")
        scheme = _SCHEME_RANK.get(row.hash_alg)
        if scheme is None:
            why.append(f"its hash scheme {row.hash_alg!r} is unknown")
        elif scheme < rank:
            why.append(f"it carries an older hash scheme ({row.hash_alg}) after newer ones (a downgrade: "
                       + ("written without the audit key)" if scheme == 0 else "not how this Kiln writes)"))
        elif row.hash_alg == UNKEYED:
            report.unkeyed += 1
            if seal is None:
                why.append("it carries an unkeyed hash (plain SHA-256, anyone can recompute it) and no keyed "
                           "legacy seal vouches for it")
            elif report.unkeyed > seal["unkeyed_records"]:
                why.append(f"it is unkeyed beyond the {seal['unkeyed_records']} records the legacy seal vouches for")
            elif report.unkeyed == seal["unkeyed_records"] and row.hash != seal.get("last_unkeyed_hash"):
                why.append("the unkeyed records up to it are not the ones the legacy seal vouches for")
        if scheme is not None:
            rank = max(rank, scheme)
        if bad_hash := _hash_matches(row):
            why.append(bad_hash)
        for cp in by_seq.get(row.seq, []):
            if cp.hash != row.hash:
                why.append(f"checkpoint {cp.source} of {cp.ts} recorded another hash for seq {row.seq}")
        if why:
            report.breaks.append(AuditBreak(row.id, row.seq, "; ".join(why)))
        # Go on from this record whatever it is, so each later break is reported on its own.
        prev = row.hash
        expected_seq = (row.seq if row.seq is not None else expected_seq) + 1
        report.head_seq, report.head_hash = expected_seq - 1, row.hash

    if seal is not None and report.unkeyed < seal["unkeyed_records"]:
        report.breaks.append(AuditBreak(None, None, f"the legacy seal vouches for {seal['unkeyed_records']} unkeyed "
                                                    f"records but the chain has {report.unkeyed}"))
    for seq in sorted(s for s in by_seq if s > report.head_seq):
        for cp in by_seq[seq]:
            report.breaks.append(AuditBreak(None, seq, (
                f"the chain ends at seq {report.head_seq} but checkpoint {cp.source} of {cp.ts} saw seq {seq}: "
                f"the newest {seq - report.head_seq} records were removed")))
    return report
