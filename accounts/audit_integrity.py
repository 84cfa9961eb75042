"""Proving the audit trail intact: signed checkpoints of the chain head, and audit_verify, which walks the chain.

A checkpoint {seq, hash, ts, sig} is stored in the database and, when KILN_AUDIT_CHECKPOINT_DIR is set, kept as
a file outside it, so deleting the newest records is caught. audit_verify reports every broken link and never
raises on the trail's content (manage.py audit_verify; docs/audit.md).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace

from django.conf import settings
from django.db.models import TextField
from django.db.models.functions import Cast
from django.utils import timezone

from accounts.audit import LEGACY_SEAL_ACTION
from accounts.audit_hashing import (
    GENESIS_HASH,
    KEYED,
    SCHEME_RANK,
    UNKEYED,
    audit_key_bytes,
    canonical_bytes,
    canonical_ts,
    compute_hash,
)
from accounts.models import AuditCheckpoint, AuditRecord

__all__ = ["Checkpoint", "AuditBreak", "AuditReport", "audit_checkpoint_create", "audit_checkpoints_load",
           "audit_verify"]


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
    message = canonical_bytes({"kiln": "audit-checkpoint-v1", "seq": seq, "hash": head_hash, "ts": ts})
    return hmac.new(audit_key_bytes(), message, hashlib.sha256).hexdigest()


def _checkpoint_from_row(row: AuditCheckpoint) -> Checkpoint:
    return Checkpoint(seq=row.seq, hash=row.head_hash, ts=canonical_ts(row.created), sig=row.signature,
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
        ts = canonical_ts(now)
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
        scheme = SCHEME_RANK.get(row.hash_alg)
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
