"""Alarm evaluation: every batch of value changes is judged against the alarm definitions, in memory.

The hot path (tags.values hands each batch to `alarms_on_values`) costs one Redis round trip per batch and no
SQL: definitions are compiled into a per-process cache indexed by tag id, dropped when either the alarms' or the
tags' configuration version counter in Redis moves; the runtime state that evaluation needs (condition active,
suppressed, pending on/off-delay since, generation) lives in one Redis hash that all processes share, mirrored
in each process and trusted while the shared epoch counter has not moved.

Only when something changes is there a write: runtime changes go to Redis in one Lua compare-and-set per batch
(so evaluation in a driver worker and the timer task never overwrite each other), and state changes — an alarm
activating, clearing, becoming suppressed — go to the database through alarms.services, which journals them.

Delays: a condition that must hold for `on_delay` seconds starts a timer (a sorted set of due times). Every
batch looks at the timers that are due, and the timer task (alarms.tasks, every second) does too, so a delay
ends within one scan; the transition is stamped with the exact moment the delay ran out.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from dataclasses import dataclass, field
from enum import IntEnum
from typing import NamedTuple

import orjson

from alarms.choices import AlarmEventType, AlarmKind
from scada.redis import get_redis, version_token, version_token_move
from tags.live import live_get_many
from tags.values import CONFIG_VERSION_KEY as TAGS_CONFIG_VERSION_KEY

logger = logging.getLogger(__name__)

__all__ = ["RuntimeTransition", "AlarmEngine", "engine", "alarms_on_values", "alarms_tick", "alarm_config_changed",
           "RuntimeState", "Op", "RT_KEY", "EPOCH_KEY", "TIMERS_KEY", "CONFIG_VERSION_KEY", "UNAPPLIED_KEY"]

# One hash tag ({alarms}) so the Lua script's keys share a Redis Cluster slot.
RT_KEY = "kiln:{alarms}:rt"
EPOCH_KEY = "kiln:{alarms}:epoch"
TIMERS_KEY = "kiln:{alarms}:timers"
CONFIG_VERSION_KEY = "kiln:alarms:config_version"
UNAPPLIED_KEY = "kiln:alarms:unapplied"


class Op(IntEnum):
    """How a compiled alarm judges a value (several alarm kinds share one comparison)."""

    HIGH = 1
    LOW = 2
    EQUAL = 3
    NOT_EQUAL = 4
    BAD_QUALITY = 5


_OPS = {AlarmKind.HI: Op.HIGH, AlarmKind.HIHI: Op.HIGH, AlarmKind.LO: Op.LOW, AlarmKind.LOLO: Op.LOW,
        AlarmKind.EQUAL: Op.EQUAL, AlarmKind.NOT_EQUAL: Op.NOT_EQUAL, AlarmKind.BAD_QUALITY: Op.BAD_QUALITY}
MAX_DUE_PER_BATCH = 2000
CAS_RETRIES = 5

# Compare-and-set of runtime entries, with their timers, in one atomic step. ARGV[1] is a random starting epoch
# (used only if the epoch key is missing, e.g. after a Redis restart, so it never repeats a value a process may
# still hold), then groups of four: field, expected value ('' = absent), new value, timer ('' = leave,
# '-' = remove, else the due time). Returns the epoch as it was before this call and the fields whose expected
# value did not match.
_CAS_LUA = """
local epoch = redis.call('GET', KEYS[2])
if not epoch then
  epoch = ARGV[1]
  redis.call('SET', KEYS[2], epoch)
end
epoch = tonumber(epoch)
local conflicts = {}
local changed = 0
for i = 2, #ARGV, 4 do
  local f = ARGV[i]
  local cur = redis.call('HGET', KEYS[1], f)
  if cur == false then cur = '' end
  if cur == ARGV[i + 1] then
    if ARGV[i + 2] ~= cur then
      redis.call('HSET', KEYS[1], f, ARGV[i + 2])
      changed = 1
    end
    local t = ARGV[i + 3]
    if t == '-' then
      redis.call('ZREM', KEYS[3], f)
    elseif t ~= '' then
      redis.call('ZADD', KEYS[3], t, f)
    end
  else
    conflicts[#conflicts + 1] = f
  end
end
if changed == 1 then redis.call('INCR', KEYS[2]) end
return {epoch, conflicts}
"""


@dataclass(slots=True)
class RuntimeTransition:
    """A change of an alarm's condition or suppression, decided by evaluation, to be applied and journaled."""

    alarm_id: int
    gen: int
    active: bool
    suppressed: bool
    event: str
    ts: float
    value: object
    quality: str


@dataclass(slots=True)
class CompiledAlarm:
    """One enabled alarm definition on one tag, ready for evaluation without touching the database."""

    alarm_id: int
    tag_id: int
    op: Op
    setpoint: float
    deadband: float
    on_delay: float
    off_delay: float
    suppress: object  # tags.expressions.Expression or None
    refs: dict  # name in the expression -> tag id (None: no such tag)


class RuntimeState(NamedTuple):
    """What evaluation needs of one alarm between batches. Stored in Redis as b"AS:gen:pending".

    A NamedTuple rather than a dataclass: the hot loop builds one per state change and tuples are the cheapest.
    """

    active: bool
    suppressed: bool
    gen: int
    pending_since: float | None  # when an on/off delay started, or None


_INITIAL = RuntimeState(False, False, 0, None)


@dataclass(slots=True)
class Work:
    """An alarm this batch changes: its runtime entry as read (for the compare-and-set) and as it will be."""

    orig_raw: bytes
    state: RuntimeState
    transitions: list[RuntimeTransition] = field(default_factory=list)
    timer: str | None = None  # None: derive the timer from the state; "-": remove it


def _decode(raw: bytes | None) -> RuntimeState:
    if not raw:
        return _INITIAL
    _, gen, pending = raw.split(b":")
    return RuntimeState(raw[0] == 49, raw[1] == 49, int(gen), float(pending) if pending else None)


def _encode(state: RuntimeState) -> bytes:
    active, suppressed, gen, pending = state
    return b"%d%d:%d:%s" % (active, suppressed, gen, repr(pending).encode() if pending is not None else b"")


def alarm_config_changed() -> None:
    """Tell every process that alarm definitions changed (their caches reload before the next batch).

    A restart-safe version token (scada.redis.version_token), like tags' and drivers': a counter would start
    again at 1 after a Redis restart and could match what a process cached before.
    """
    version_token_move(CONFIG_VERSION_KEY)


class AlarmEngine:
    """The per-process evaluator. Thread-safe: one batch at a time holds the lock (evaluation is short)."""

    def __init__(self):
        self.lock = threading.Lock()
        self.versions: tuple | None = None
        self.by_tag: dict[int, tuple[CompiledAlarm, ...]] = {}
        self.by_ref: dict[int, tuple[CompiledAlarm, ...]] = {}
        self.by_id: dict[int, CompiledAlarm] = {}
        self.tag_of: dict[int, int] = {}
        self.epoch: int | None = None
        self.mirror: dict[int, tuple[bytes, RuntimeState]] = {}
        self.suppress_dirty = False
        self._cas = None

    # --- configuration ------------------------------------------------------------------------------

    def reset(self) -> None:
        """Forget everything cached (tests; a process that switches Redis)."""
        with self.lock:
            self.versions = None
            self.epoch = None
            self.mirror = {}
            self._cas = None

    def _load(self) -> None:
        from alarms.models import Alarm
        from alarms.services import alarm_instances_sync
        from tags.expressions import ExpressionError
        from tags.expressions import compile as compile_expression
        from tags.models import Tag

        alarm_instances_sync()
        rows = list(
            Alarm.objects.filter(definition__enabled=True).values_list(
                "id", "tag_id", "tag__machine__machine_id", "definition__kind", "definition__setpoint",
                "definition__deadband", "definition__on_delay", "definition__off_delay",
                "definition__suppress_condition", "definition__device_type_tag_id",
            )
        )
        compiled: list[tuple[CompiledAlarm, list[str]]] = []
        wanted_names: set[str] = set()
        for aid, tag_id, machine_id, kind, sp, db, on_d, off_d, cond, dtt_id in rows:
            expr, names = None, []
            if cond and cond.strip():
                try:
                    expr = compile_expression(cond, namespaces={"tags"})
                except ExpressionError as exc:
                    logger.error("Alarm %s: suppress condition %r does not compile (%s); ignored", aid, cond, exc)
                if expr is not None:
                    # On a device type member, {tags.X} is member X of the same instance.
                    names = [(n, f"{machine_id}.{n}" if dtt_id else n) for n in expr.names("tags")]
                    wanted_names.update(full for _, full in names)
            c = CompiledAlarm(aid, tag_id, _OPS[kind], float(sp) if sp is not None else 0.0, float(db or 0),
                              float(on_d or 0), float(off_d or 0), expr, {})
            compiled.append((c, names))
        ids_by_name = dict(Tag.objects.filter(name__in=wanted_names).values_list("name", "id")) if wanted_names else {}
        by_tag: dict[int, list] = {}
        by_ref: dict[int, list] = {}
        for c, names in compiled:
            by_tag.setdefault(c.tag_id, []).append(c)
            if c.suppress is not None:
                c.refs = {short: ids_by_name.get(full) for short, full in names}
                for tid in {c.tag_id, *(t for t in c.refs.values() if t is not None)}:
                    by_ref.setdefault(tid, []).append(c)
        self.by_tag = {k: tuple(v) for k, v in by_tag.items()}
        self.by_ref = {k: tuple(v) for k, v in by_ref.items()}
        self.by_id = {c.alarm_id: c for c, _ in compiled}
        self.tag_of = {c.alarm_id: c.tag_id for c, _ in compiled}
        self.suppress_dirty = any(c.suppress is not None for c, _ in compiled)
        self._forget_deleted(set(Alarm.objects.values_list("id", flat=True)))

    def _forget_deleted(self, existing: set[int]) -> None:
        r = get_redis()
        stale = [f for f in r.hkeys(RT_KEY) if int(f) not in existing]
        if stale:
            pipe = r.pipeline(transaction=False)
            pipe.hdel(RT_KEY, *stale)
            pipe.zrem(TIMERS_KEY, *stale)
            pipe.execute()

    def _sync(self, cfg, tcfg, epoch) -> None:
        if self.versions != (cfg, tcfg) or self.versions is None:
            self._load()
            self.versions = (cfg, tcfg)
            self.mirror = {}  # the mirror only ever holds alarms that are evaluated (a subset of by_id)
        ep = int(epoch or 0)
        if ep != self.epoch:
            # Another process changed runtime state since we last looked: trust nothing we mirrored.
            self.mirror = {}
            self.epoch = ep

    # --- runtime state ------------------------------------------------------------------------------

    def _fetch(self, alarm_ids) -> None:
        """Mirror these alarms' runtime entries; an entry missing from Redis is seeded from the database."""
        ids = list(alarm_ids)
        if not ids:
            return
        r = get_redis()
        raws = r.hmget(RT_KEY, ids)
        missing = [aid for aid, raw in zip(ids, raws, strict=True) if raw is None]
        if missing:
            from alarms.models import Alarm

            # Redis lost the entry (new alarm, or a Redis restart): the database holds the last applied state.
            pipe = r.pipeline(transaction=False)
            for aid, active, suppressed, gen in Alarm.objects.filter(pk__in=missing).values_list(
                "id", "active", "suppressed", "gen"
            ):
                pipe.hsetnx(RT_KEY, aid, _encode((active, suppressed, gen, None)))
            # HSETNX only fills gaps nobody has mirrored (a mirror is only ever filled after this step), so it
            # need not move the epoch.
            pipe.execute()
            raws = r.hmget(RT_KEY, ids)
        for aid, raw in zip(ids, raws, strict=True):
            self.mirror[aid] = (raw or b"", _decode(raw))

    def _cas_script(self):
        if self._cas is None:
            self._cas = get_redis().register_script(_CAS_LUA)
        return self._cas

    # --- evaluation ---------------------------------------------------------------------------------

    def process(self, changes, *, now: float | None = None) -> list[RuntimeTransition]:
        """Evaluate one batch (possibly empty: a timer tick). Returns the transitions that were claimed."""
        now = time.time() if now is None else now
        r = get_redis()
        pipe = r.pipeline(transaction=False)
        pipe.get(CONFIG_VERSION_KEY)
        pipe.get(TAGS_CONFIG_VERSION_KEY)
        pipe.get(EPOCH_KEY)
        pipe.zrangebyscore(TIMERS_KEY, "-inf", now, start=0, num=MAX_DUE_PER_BATCH)
        cfg, tcfg, epoch, due_raw = pipe.execute()
        if cfg is None or tcfg is None:  # Redis lost the tokens (restart): set them, and reload once
            cfg, tcfg = version_token(CONFIG_VERSION_KEY, r), version_token(TAGS_CONFIG_VERSION_KEY, r)
        with self.lock:
            self._sync(cfg, tcfg, epoch)
            by_tag, by_ref = self.by_tag, self.by_ref
            due = [int(x) for x in due_raw]
            supp = set()
            if by_ref:
                for ch in changes:
                    refs = by_ref.get(ch.tag_id)
                    if refs:
                        supp.update(c.alarm_id for c in refs)
                if self.suppress_dirty:
                    supp.update(c.alarm_id for c in self.by_id.values() if c.suppress is not None)
                    self.suppress_dirty = False
            only = None
            claimed: list[RuntimeTransition] = []
            for _attempt in range(CAS_RETRIES):
                work = self._evaluate(changes, due, supp, now, only, by_tag)
                if work is None:
                    return claimed
                conflicts = self._commit(work, claimed)
                if not conflicts:
                    return claimed
                only = conflicts
                due = [a for a in due if a in conflicts]
                supp = {a for a in supp if a in conflicts}
            logger.error("Alarm evaluation gave up on %d alarms after %d compare-and-set conflicts",
                         len(only), CAS_RETRIES)
            return claimed

    def _evaluate(self, changes, due, supp, now, only, by_tag):
        """One pass over the batch. Returns {alarm_id: Work} or None if nothing to do."""
        mirror = self.mirror
        # Mirror whatever this batch touches that we do not hold yet (one HMGET; none in the steady state).
        need = set()
        if len(mirror) < len(self.by_id) or only is not None:
            for ch in changes:
                for c in by_tag.get(ch.tag_id, ()):
                    if c.alarm_id not in mirror and (only is None or c.alarm_id in only):
                        need.add(c.alarm_id)
        by_id = self.by_id
        need.update(a for a in due if a not in mirror and a in by_id)
        need.update(a for a in supp if a not in mirror and a in by_id)
        if need:
            self._fetch(need)

        work: dict[int, Work] = {}
        for ch in changes:
            defs = by_tag.get(ch.tag_id)
            if defs is None:
                continue
            q = ch.quality
            v = ch.value
            for c in defs:
                aid = c.alarm_id
                if only is not None and aid not in only:
                    continue
                w = work.get(aid)
                state = w.state if w is not None else mirror[aid][1]
                pending = state.pending_since
                if pending is not None:
                    flip_at = pending + (c.off_delay if state.active else c.on_delay)
                    if ch.ts >= flip_at:
                        # The delay ran out before this change arrived: the condition held that long, so the
                        # alarm flipped at that moment, with the value that held; then judge this change.
                        prev = ch.previous
                        state = RuntimeState(not state.active, state.suppressed, state.gen + 1, None)
                        flip = RuntimeTransition(aid, state.gen, state.active, state.suppressed,
                                                 AlarmEventType.ACTIVATED if state.active else AlarmEventType.CLEARED,
                                                 flip_at, prev.value if prev else v, prev.quality if prev else q)
                        if w is None:
                            w = work[aid] = Work(mirror[aid][0], state, [flip])
                        else:
                            w.state = state
                            w.transitions.append(flip)
                        pending = None
                active = state.active
                op = c.op
                if op == Op.BAD_QUALITY:
                    cond = q == "BAD"
                elif q == "BAD" or v is None:
                    continue  # a BAD value cannot be judged: limit and digital alarms hold their state
                else:
                    try:
                        if op == Op.HIGH:
                            cond = v > (c.setpoint - c.deadband if active else c.setpoint)
                        elif op == Op.LOW:
                            cond = v < (c.setpoint + c.deadband if active else c.setpoint)
                        elif op == Op.EQUAL:
                            cond = v == c.setpoint
                        else:
                            cond = v != c.setpoint
                    except TypeError:
                        continue
                if cond == active:
                    if pending is None:
                        continue  # the steady state: nothing changes, nothing is written
                    # the condition went back before the delay ran out
                    new = RuntimeState(active, state.suppressed, state.gen, None)
                    trans = None
                else:
                    delay = c.on_delay if cond else c.off_delay
                    if delay <= 0:
                        new = RuntimeState(cond, state.suppressed, state.gen + 1, None)
                        trans = RuntimeTransition(aid, new.gen, cond, new.suppressed,
                                                  AlarmEventType.ACTIVATED if cond else AlarmEventType.CLEARED,
                                                  ch.ts, v, q)
                    elif pending is None:
                        new = RuntimeState(active, state.suppressed, state.gen, ch.ts)  # start the delay
                        trans = None
                    else:
                        continue  # the delay is running and has not run out yet
                if w is None:
                    w = work[aid] = Work(mirror[aid][0], new)
                else:
                    w.state = new
                if trans is not None:
                    w.transitions.append(trans)

        if due:
            self._due(due, now, work, only)
        if supp:
            self._suppression(supp, now, work)
        return work or None

    def _due(self, due, now, work, only) -> None:
        """Delays that ran out: flip at the exact moment they ended, with the tag's current value."""
        flips = []
        stale = []
        for aid in due:
            if only is not None and aid not in only:
                continue
            c = self.by_id.get(aid)
            if c is None:
                stale.append(aid)  # disabled or deleted since the timer was set
                continue
            w = work.get(aid)
            state = w.state if w is not None else self.mirror[aid][1]
            if state.pending_since is None:
                if w is None:  # the condition went back already: drop the timer (only if the entry is unchanged)
                    work[aid] = Work(self.mirror[aid][0], state, timer="-")
                continue
            at = state.pending_since + (c.off_delay if state.active else c.on_delay)
            if at <= now:
                flips.append((aid, c, state, at))
        if stale:
            get_redis().zrem(TIMERS_KEY, *stale)
        if not flips:
            return
        live = live_get_many([c.tag_id for _, c, _, _ in flips])
        for aid, c, state, at in flips:
            lv = live[c.tag_id]
            new = RuntimeState(not state.active, state.suppressed, state.gen + 1, None)
            trans = RuntimeTransition(aid, new.gen, new.active, new.suppressed,
                                      AlarmEventType.ACTIVATED if new.active else AlarmEventType.CLEARED, at,
                                      lv.value if lv else None, lv.quality if lv else "")
            w = work.get(aid)
            if w is None:
                work[aid] = Work(self.mirror[aid][0], new, [trans])
            else:
                w.state = new
                w.transitions.append(trans)

    def _suppression(self, supp, now, work) -> None:
        """Re-evaluate suppress-by-design conditions touched by this batch. Unsure means not suppressed."""
        from tags.expressions import ExpressionError

        alarms = [self.by_id[a] for a in supp if a in self.by_id and self.by_id[a].suppress is not None]
        tag_ids = sorted({t for c in alarms for t in c.refs.values() if t is not None})
        values = {tid: (lv.value if lv is not None else None) for tid, lv in live_get_many(tag_ids).items()}
        for c in alarms:
            context = {"tags": {name: values.get(tid) for name, tid in c.refs.items() if tid is not None}}
            try:
                suppressed = c.suppress.evaluate_condition(context)
            except ExpressionError:
                suppressed = False
            w = work.get(c.alarm_id)
            state = w.state if w is not None else self.mirror[c.alarm_id][1]
            if state.suppressed == suppressed:
                continue
            new = RuntimeState(state.active, suppressed, state.gen + 1, state.pending_since)
            trans = RuntimeTransition(c.alarm_id, new.gen, new.active, suppressed,
                                      AlarmEventType.SUPPRESSED if suppressed else AlarmEventType.UNSUPPRESSED,
                                      now, None, "")
            if w is None:
                work[c.alarm_id] = Work(self.mirror[c.alarm_id][0], new, [trans])
            else:
                w.state = new
                w.transitions.append(trans)

    def _commit(self, work, claimed: list) -> set[int]:
        """One compare-and-set for the batch. Applied entries join `claimed`; returns conflicting alarm ids."""
        args = []
        staged = {}
        for aid, w in work.items():
            orig_raw, state = w.orig_raw, w.state
            orig = _decode(orig_raw)
            new_raw = _encode(state)
            if w.timer is not None:
                timer = w.timer
            elif state.pending_since is not None:
                if state.pending_since == orig.pending_since and state.active == orig.active:
                    timer = ""
                else:
                    c = self.by_id[aid]
                    timer = repr(state.pending_since + (c.off_delay if state.active else c.on_delay))
            else:
                timer = "-" if orig.pending_since is not None else ""
            if new_raw == orig_raw and timer == "":
                continue
            args += [aid, orig_raw, new_raw, timer]
            staged[aid] = (new_raw, state, w.transitions)
        if not args:
            return set()
        before, conflicts = self._cas_script()(keys=[RT_KEY, EPOCH_KEY, TIMERS_KEY],
                                               args=[random.getrandbits(48) + 1, *args])
        conflicts = {int(x) for x in conflicts}
        changed = any(staged[a][0] != work[a].orig_raw for a in staged if a not in conflicts)
        # If nobody else moved the epoch since we last synced, our mirror plus what we just wrote is exact.
        keep = self.epoch is not None and int(before) == self.epoch
        self.epoch = int(before) + (1 if changed else 0) if keep else None
        if not keep:
            self.mirror = {}
        for aid, (new_raw, state, transitions) in staged.items():
            if aid in conflicts:
                self.mirror.pop(aid, None)
                continue
            if keep:
                self.mirror[aid] = (new_raw, state)
            claimed.extend(transitions)
        return conflicts


engine = AlarmEngine()


def _apply(transitions: list[RuntimeTransition]) -> None:
    from alarms.services import alarm_runtime_transitions_apply

    try:
        alarm_runtime_transitions_apply(transitions=transitions)
    except Exception:
        # Redis already holds the new runtime state; keep the transitions so the timer task can journal them
        # once the database is back, rather than lose them.
        logger.exception("Could not apply %d alarm transitions; kept for retry", len(transitions))
        payload = [orjson.dumps([t.alarm_id, t.gen, t.active, t.suppressed, t.event, t.ts, t.value, t.quality],
                                default=str) for t in transitions]
        get_redis().rpush(UNAPPLIED_KEY, *payload)


def alarms_on_values(changes) -> None:
    """The value consumer registered with tags.values: evaluate one batch of changes."""
    transitions = engine.process(changes)
    if transitions:
        _apply(transitions)


def alarms_tick(*, now: float | None = None) -> int:
    """Run due delay timers and pending suppress evaluations (the timer task; also usable from tests)."""
    transitions = engine.process((), now=now)
    if transitions:
        _apply(transitions)
    return len(transitions)


def unapplied_drain(limit: int = 1000) -> int:
    """Apply transitions kept after a database failure (oldest first). Returns how many were applied."""
    r = get_redis()
    raw = r.lpop(UNAPPLIED_KEY, limit)
    if not raw:
        return 0
    transitions = [RuntimeTransition(*orjson.loads(item)) for item in raw]
    _apply(transitions)
    return len(transitions)
