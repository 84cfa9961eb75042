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

What is stored in Redis, and how, is alarms.runtime; the compiled definitions are alarms.definitions.
"""

from __future__ import annotations

import logging
import random
import threading
import time

from alarms.choices import AlarmEventType
from alarms.definitions import CompiledAlarm, Op, definitions_compile
from alarms.runtime import (
    CAS_LUA,
    CONFIG_VERSION_KEY,
    EPOCH_KEY,
    RT_KEY,
    TIMERS_KEY,
    RuntimeState,
    RuntimeTransition,
    Work,
    alarm_config_version,
    runtime_decode,
    runtime_encode,
    transitions_keep,
    transitions_kept_pop,
)
from scada.redis import get_redis
from tags.live import live_get_many
from tags.selectors import tag_config_version, tag_config_version_pipelined

logger = logging.getLogger(__name__)

__all__ = ["AlarmEngine", "engine", "alarms_on_values", "alarms_tick", "unapplied_drain"]

MAX_DUE_PER_BATCH = 2000
CAS_RETRIES = 5
# The Op members as plain ints, for the hot loop: on Python 3.11 `op == Op.HIGH` (an enum attribute lookup and an
# IntEnum comparison) costs ~10x `op == _HIGH` on ints, which was a third of a quiet change's whole cost.
_HIGH, _LOW, _EQUAL, _BAD_QUALITY = int(Op.HIGH), int(Op.LOW), int(Op.EQUAL), int(Op.BAD_QUALITY)


class AlarmEngine:
    """The per-process evaluator. Thread-safe: one batch at a time holds the lock (evaluation is short)."""

    def __init__(self):
        self.lock = threading.Lock()
        self.versions: tuple | None = None
        self.by_tag: dict[int, tuple[CompiledAlarm, ...]] = {}
        self.by_ref: dict[int, tuple[CompiledAlarm, ...]] = {}
        self.by_id: dict[int, CompiledAlarm] = {}
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
        compiled = definitions_compile()
        self.by_tag, self.by_ref, self.by_id = compiled.by_tag, compiled.by_ref, compiled.by_id
        self.suppress_dirty = compiled.has_suppress

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
                pipe.hsetnx(RT_KEY, aid, runtime_encode((active, suppressed, gen, None)))
            # HSETNX only fills gaps nobody has mirrored (a mirror is only ever filled after this step), so it
            # need not move the epoch.
            pipe.execute()
            raws = r.hmget(RT_KEY, ids)
        for aid, raw in zip(ids, raws, strict=True):
            self.mirror[aid] = (raw or b"", runtime_decode(raw))

    def _cas_script(self):
        if self._cas is None:
            self._cas = get_redis().register_script(CAS_LUA)
        return self._cas

    # --- evaluation ---------------------------------------------------------------------------------

    def process(self, changes, *, now: float | None = None) -> list[RuntimeTransition]:
        """Evaluate one batch (possibly empty: a timer tick). Returns the transitions that were claimed."""
        now = time.time() if now is None else now
        r = get_redis()
        pipe = r.pipeline(transaction=False)
        pipe.get(CONFIG_VERSION_KEY)
        tag_config_version_pipelined(pipe)
        pipe.get(EPOCH_KEY)
        pipe.zrangebyscore(TIMERS_KEY, "-inf", now, start=0, num=MAX_DUE_PER_BATCH)
        cfg, tcfg, epoch, due_raw = pipe.execute()
        if cfg is None or tcfg is None:  # Redis lost the tokens (restart): set them, and reload once
            cfg, tcfg = alarm_config_version(r), tag_config_version(r)
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
                if op == _BAD_QUALITY:
                    cond = q == "BAD"
                elif q == "BAD" or v is None:
                    continue  # a BAD value cannot be judged: limit and digital alarms hold their state
                else:
                    try:
                        if op == _HIGH:
                            cond = v > (c.setpoint - c.deadband if active else c.setpoint)
                        elif op == _LOW:
                            cond = v < (c.setpoint + c.deadband if active else c.setpoint)
                        elif op == _EQUAL:
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
            orig = runtime_decode(orig_raw)
            new_raw = runtime_encode(state)
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
        transitions_keep(transitions)


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
    transitions = transitions_kept_pop(limit)
    if transitions:
        _apply(transitions)
    return len(transitions)
