"""Alarms' runtime state in Redis: its keys, its encoding, and the compare-and-set that changes it.

The state evaluation needs of each alarm between batches (condition active, suppressed, pending on/off-delay
since, generation) lives in one Redis hash that every process shares (RT_KEY), with an epoch counter that moves
on every change (so a process knows when its mirror is stale) and a sorted set of delay timers. All changes go
through one Lua compare-and-set per batch, so evaluation in a driver worker and the timer task never overwrite
each other. alarms.evaluation owns the decisions; this module owns the shape of what is stored.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import NamedTuple

import orjson

from scada.redis import get_redis, version_token, version_token_move

__all__ = ["RuntimeTransition", "RuntimeState", "Work", "runtime_decode", "runtime_encode", "alarm_config_changed",
           "alarm_config_version", "transitions_keep", "transitions_kept_pop", "CAS_LUA", "RT_KEY", "EPOCH_KEY",
           "TIMERS_KEY", "CONFIG_VERSION_KEY", "UNAPPLIED_KEY", "TIMERS_RAN_KEY", "timers_ran", "timers_last_run"]

# One hash tag ({alarms}) so the Lua script's keys share a Redis Cluster slot.
RT_KEY = "kiln:{alarms}:rt"
EPOCH_KEY = "kiln:{alarms}:epoch"
TIMERS_KEY = "kiln:{alarms}:timers"
CONFIG_VERSION_KEY = "kiln:alarms:config_version"
UNAPPLIED_KEY = "kiln:alarms:unapplied"
# When the timer task last finished (epoch seconds): the alarms' liveness for `manage.py health`.
TIMERS_RAN_KEY = "kiln:alarms:timers_ran"

# Compare-and-set of runtime entries, with their timers, in one atomic step. ARGV[1] is a random starting epoch
# (used only if the epoch key is missing, e.g. after a Redis restart, so it never repeats a value a process may
# still hold), then groups of four: field, expected value ('' = absent), new value, timer ('' = leave,
# '-' = remove, else the due time). Returns the epoch as it was before this call and the fields whose expected
# value did not match.
CAS_LUA = """
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


def runtime_decode(raw: bytes | None) -> RuntimeState:
    """The runtime entry as stored (None or b"": never evaluated) as a RuntimeState."""
    if not raw:
        return _INITIAL
    _, gen, pending = raw.split(b":")
    return RuntimeState(raw[0] == 49, raw[1] == 49, int(gen), float(pending) if pending else None)


def runtime_encode(state: RuntimeState) -> bytes:
    """The runtime entry to store: b"AS:gen:pending" (A, S: 0 or 1; pending: repr of a float, or empty)."""
    active, suppressed, gen, pending = state
    return b"%d%d:%d:%s" % (active, suppressed, gen, repr(pending).encode() if pending is not None else b"")


def alarm_config_changed() -> None:
    """Tell every process that alarm definitions changed (their caches reload before the next batch).

    A restart-safe version token (scada.redis.version_token), like tags' and drivers': a counter would start
    again at 1 after a Redis restart and could match what a process cached before.
    """
    version_token_move(CONFIG_VERSION_KEY)


def alarm_config_version(client=None) -> bytes:
    """The current alarm configuration version (set afresh if Redis lost it)."""
    return version_token(CONFIG_VERSION_KEY, client)


def transitions_keep(transitions: list[RuntimeTransition]) -> None:
    """Keep transitions the database could not take (Redis already holds their runtime state) for a retry."""
    payload = [orjson.dumps([t.alarm_id, t.gen, t.active, t.suppressed, t.event, t.ts, t.value, t.quality],
                            default=str) for t in transitions]
    get_redis().rpush(UNAPPLIED_KEY, *payload)


def transitions_kept_pop(limit: int) -> list[RuntimeTransition]:
    """Take up to `limit` kept transitions, oldest first (each is taken once)."""
    raw = get_redis().lpop(UNAPPLIED_KEY, limit)
    return [RuntimeTransition(*orjson.loads(item)) for item in raw or ()]


def timers_ran(now: float) -> None:
    """Note that the timer task ran (beat and a default worker are alive); kept a day, read by alarms_health."""
    get_redis().set(TIMERS_RAN_KEY, repr(now), ex=86400)


def timers_last_run(client=None) -> float | None:
    raw = (client or get_redis()).get(TIMERS_RAN_KEY)
    return float(raw) if raw else None
