"""The WebSocket subscription limit per client (seed 000: "10 concurrent subscriptions per client").

A client is a token: a login session or an API key (`Principal.rate_identity`, the REST rate limits' identity),
however many sockets it opens and whichever daphne process serves them. The count lives in Redis, one hash per
client, `kiln:ws:subs:<client>`, with one field per connection: "<subscriptions>:<deadline ms>". A reservation
is a Lua script (atomic across processes) that drops fields past their deadline, sums the rest and takes a slot
only if the sum stays within the limit.

Cleanup: a connection deletes its field on disconnect. A process that dies without disconnecting (crash,
SIGKILL) leaves fields behind, but each has a deadline that only its own process renews (the LiveHub's watchdog
rewrites every local connection's count every TTL/3 seconds), so a dead process's slots free themselves within
KILN_WS_SUBSCRIPTION_TTL_SECONDS; the hash itself expires with its newest field. The renewal writes the
connection's own count, so a Redis restart or flush heals within one renewal too.
"""

from __future__ import annotations

import time

from django.conf import settings

from scada.redis import get_redis

__all__ = ["client_key", "subscription_reserve", "subscription_release", "subscriptions_drop",
           "subscriptions_renew"]

_KEY = "kiln:ws:subs:{}"

# KEYS[1] hash; ARGV conn, now_ms, ttl_ms, limit, the connection's count with the new slot
# → {1, client total} or {0, client total without it}. The connection's own field is replaced by its own count
# (the consumer's, which is authoritative), so a lost or stale field never skews it.
_RESERVE = """
local now, ttl, limit, wanted = tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5])
local fields = redis.call('HGETALL', KEYS[1])
local others = 0
for i = 1, #fields, 2 do
  local v = fields[i + 1]
  local sep = string.find(v, ':', 1, true)
  local n, deadline = tonumber(string.sub(v, 1, sep - 1)), tonumber(string.sub(v, sep + 1))
  if deadline < now then
    redis.call('HDEL', KEYS[1], fields[i])
  elseif fields[i] ~= ARGV[1] then
    others = others + n
  end
end
if others + wanted > limit then return {0, others + wanted - 1} end
redis.call('HSET', KEYS[1], ARGV[1], wanted .. ':' .. (now + ttl))
if redis.call('PTTL', KEYS[1]) < ttl then redis.call('PEXPIRE', KEYS[1], ttl) end
return {1, others + wanted}
"""

# KEYS[1] hash; ARGV conn, count, now_ms, ttl_ms: set this connection's count (0 deletes it), renew its deadline.
_SET = """
local n, now, ttl = tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
if n <= 0 then redis.call('HDEL', KEYS[1], ARGV[1]) return 0 end
redis.call('HSET', KEYS[1], ARGV[1], n .. ':' .. (now + ttl))
if redis.call('PTTL', KEYS[1]) < ttl then redis.call('PEXPIRE', KEYS[1], ttl) end
return n
"""


def client_key(principal) -> str:
    """What counts as one client: its login session (JWT sid) or its API key."""
    return principal.rate_identity


def _ttl_ms() -> int:
    return int(settings.KILN_WS_SUBSCRIPTION_TTL_SECONDS * 1000)


def subscription_reserve(*, client: str, conn: str, held: int, limit: int) -> tuple[bool, int]:
    """Take one more subscription slot for `conn` (which holds `held`) if the client's total over all its live
    connections stays within `limit`. Returns (taken, the client's total now). Raises redis.RedisError when
    Redis is unreachable."""
    taken, used = get_redis().eval(_RESERVE, 1, _KEY.format(client), conn, int(time.time() * 1000), _ttl_ms(),
                                   limit, held + 1)
    return bool(taken), int(used)


def subscription_release(*, client: str, conn: str, count: int) -> None:
    """Record that `conn` now holds `count` subscriptions (after an unsubscribe; 0 removes it)."""
    get_redis().eval(_SET, 1, _KEY.format(client), conn, count, int(time.time() * 1000), _ttl_ms())


def subscriptions_drop(*, client: str, conn: str) -> None:
    """The connection closed: its slots are free at once."""
    get_redis().hdel(_KEY.format(client), conn)


def subscriptions_renew(entries: list[tuple[str, str, int]]) -> None:
    """Renew the deadline of every (client, conn, count) of this process, in one round trip (the watchdog)."""
    if not entries:
        return
    now, ttl = int(time.time() * 1000), _ttl_ms()
    pipe = get_redis().pipeline(transaction=False)
    for client, conn, count in entries:
        pipe.eval(_SET, 1, _KEY.format(client), conn, count, now, ttl)
    pipe.execute()
