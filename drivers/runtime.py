"""What the drivers keep in Redis: leases, the configuration version, statistics, and the write hand-off.

- `kiln:drv:lease:<id>`: the owner token of the one poll loop allowed to poll connection <id>. Set with NX and
  a TTL, renewed by its owner every second; a loop that dies lets it lapse and beat starts another.
- `kiln:drv:armed:<id>`: a poll task was enqueued and has not started yet (so beat does not pile up more).
- `kiln:drv:config_version`: a fresh token on every Connection/TagBinding change; loops re-plan when it moves.
- `kiln:drv:stats:<id>`: a hash the loop rewrites every second (state, last poll, p50/p99, counters).
- `kiln:drv:wq:<id>`, `kiln:drv:wr:<request>`, channel `kiln:drv:wake:<id>`: writes to PLC tags are handed
  to the loop that owns the connection's socket and answered on a per-request list (see drivers.writes).
"""

from __future__ import annotations

import socket

import orjson

from scada import redis as redis_leases
from scada.redis import get_redis, version_token, version_token_move

__all__ = ["LEASE_TTL_MS", "lease_key", "armed_key", "stats_key", "write_queue_key", "write_reply_key",
           "wake_channel", "CONFIG_VERSION_KEY", "config_version", "drivers_config_changed", "lease_acquire",
           "lease_renew", "lease_release", "lease_holders", "shutdown_key", "RedisRuntime"]

LEASE_TTL_MS = 5000
CONFIG_VERSION_KEY = "kiln:drv:config_version"
STATS_TTL_S = 7 * 24 * 3600


def lease_key(cid: int) -> str:
    return f"kiln:drv:lease:{cid}"


def armed_key(cid: int) -> str:
    return f"kiln:drv:armed:{cid}"


def stats_key(cid: int) -> str:
    return f"kiln:drv:stats:{cid}"


def write_queue_key(cid: int) -> str:
    return f"kiln:drv:wq:{cid}"


def write_reply_key(request_id: str) -> str:
    return f"kiln:drv:wr:{request_id}"


def wake_channel(cid: int) -> str:
    return f"kiln:drv:wake:{cid}"


def shutdown_key(hostname: str) -> str:
    return f"kiln:drv:shutdown:{hostname}"




def config_version(client=None) -> bytes:
    """The current drivers configuration version (scada.redis.version_token)."""
    return version_token(CONFIG_VERSION_KEY, client)


def drivers_config_changed() -> None:
    """Tell every poll loop and write router that connections or bindings changed."""
    version_token_move(CONFIG_VERSION_KEY)


def lease_acquire(cid: int, token: str, client=None) -> bool:
    # A successor task handed the lease by its predecessor (same token) simply takes it over.
    return redis_leases.lease_acquire(lease_key(cid), token, LEASE_TTL_MS, client)


def lease_renew(cid: int, token: str, client=None) -> bool:
    return redis_leases.lease_renew(lease_key(cid), token, LEASE_TTL_MS, client)


def lease_release(cid: int, token: str, client=None) -> None:
    redis_leases.lease_release(lease_key(cid), token, client)


def lease_holders(cids: list[int], client=None) -> dict[int, bytes | None]:
    if not cids:
        return {}
    values = (client or get_redis()).mget([lease_key(c) for c in cids])
    return dict(zip(cids, values, strict=True))


class RedisRuntime:
    """The poll loop's side of Redis: lease, config version, stats, write requests and the wake channel."""

    def __init__(self, cid: int, token: str, *, hostname: str | None = None, client=None):
        self.cid = cid
        self.token = token
        self.hostname = hostname or socket.gethostname()
        self.r = client or get_redis()
        self._pubsub = None

    # --- lease and housekeeping (once a second) -----------------------------------------------------------
    def acquire(self) -> bool:
        return lease_acquire(self.cid, self.token, self.r)

    def release(self) -> None:
        lease_release(self.cid, self.token, self.r)

    def housekeeping(self, stats: dict) -> tuple[bool, bytes | None, bool]:
        """Renew the lease and publish stats in one round trip: (still ours, config version, worker stopping)."""
        pipe = self.r.pipeline(transaction=False)
        redis_leases.lease_renew_or_retake_queue(pipe, lease_key(self.cid), self.token, LEASE_TTL_MS)
        pipe.get(CONFIG_VERSION_KEY)  # None only after a Redis restart: that counts as a change (re-plan once)
        pipe.exists(shutdown_key(self.hostname))
        pipe.hset(stats_key(self.cid), mapping={"json": orjson.dumps(stats)})
        pipe.expire(stats_key(self.cid), STATS_TTL_S)
        renewed, version, stopping, _, _ = pipe.execute()
        return bool(renewed), version, bool(stopping)

    def config_version(self) -> bytes | None:
        return config_version(self.r)

    # --- writes ---------------------------------------------------------------------------------------------
    def pop_write(self) -> dict | None:
        raw = self.r.lpop(write_queue_key(self.cid))
        return orjson.loads(raw) if raw else None

    def reply(self, request_id: str, payload: dict) -> None:
        key = write_reply_key(request_id)
        pipe = self.r.pipeline(transaction=False)
        pipe.rpush(key, orjson.dumps(payload))
        pipe.expire(key, 60)
        pipe.execute()

    def wait(self, timeout: float) -> bool:
        """Sleep up to `timeout` seconds, waking early when a write arrives. True when woken by a write.

        A pub/sub socket waited on with select() keeps sub-millisecond precision (a BLPOP timeout in Redis can
        overshoot by up to 100 ms, which would ruin the scan schedule).
        """
        if timeout <= 0:
            return False
        if self._pubsub is None:
            self._pubsub = self.r.pubsub(ignore_subscribe_messages=True)
            self._pubsub.subscribe(wake_channel(self.cid))
        msg = self._pubsub.get_message(timeout=timeout)
        return msg is not None

    def close(self) -> None:
        if self._pubsub is not None:
            try:
                self._pubsub.close()
            finally:
                self._pubsub = None
