"""One Redis client per process for the live value table, rate limits and token revocation."""

import uuid
from functools import lru_cache

import redis
from django.conf import settings


@lru_cache(maxsize=1)
def get_redis() -> redis.Redis:
    # socket_timeout bounds every call so a hung Redis turns into an error, never a frozen request.
    return redis.Redis.from_url(
        settings.REDIS_URL, socket_timeout=5, socket_connect_timeout=3, health_check_interval=30
    )


def reset_redis_client() -> None:
    """Forget the cached client (tests that switch REDIS_URL, forked workers)."""
    get_redis.cache_clear()


def version_token(key: str, client=None) -> bytes:
    """The configuration version stored at `key`: an opaque token that changes on every change.

    A random token rather than a counter: after a Redis restart (or a flushed test database) a counter would
    start again at 1 and could match a value a process cached before, hiding a change. When the key is missing
    the first reader sets one (NX, so every process converges on the same token).
    """
    r = client or get_redis()
    version = r.get(key)
    if version is None:
        r.set(key, uuid.uuid4().hex, nx=True)
        version = r.get(key)
    return version


def version_token_move(key: str) -> None:
    """Give the configuration version at `key` a fresh token: every process drops what it cached."""
    get_redis().set(key, uuid.uuid4().hex)


# --- leases: one owner at a time, by token, with a time-to-live -------------------------------------------------
# Compare-and-extend / compare-and-delete: only the holder of the token may renew or release a lease, so a
# process that stalled past the TTL cannot extend or drop a lease that another process has since taken.
_LEASE_RENEW_LUA = (
    "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('pexpire', KEYS[1], ARGV[2]) end return 0"
)
_LEASE_RELEASE_LUA = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end return 0"


def lease_acquire(key: str, token: str, ttl_ms: int, client=None) -> bool:
    """Take the lease at `key` for `ttl_ms`, or keep it if `token` already holds it (a hand-over to a successor)."""
    r = client or get_redis()
    if r.set(key, token, nx=True, px=ttl_ms):
        return True
    return lease_renew(key, token, ttl_ms, r)


def lease_renew(key: str, token: str, ttl_ms: int, client=None) -> bool:
    """Extend the lease if `token` still holds it. False: it lapsed or someone else holds it now.

    `client` may be a pipeline (the call is then queued and its reply comes with the pipeline's results).
    """
    return bool((client or get_redis()).eval(_LEASE_RENEW_LUA, 1, key, token, ttl_ms))


def lease_renew_queue(pipe, key: str, token: str, ttl_ms: int) -> None:
    """Queue a renewal on a pipeline; its reply (1 renewed, 0 lost) is in the pipeline's results."""
    pipe.eval(_LEASE_RENEW_LUA, 1, key, token, ttl_ms)


# Renew, or take back a lease that lapsed while nobody else took it: after a Redis outage (or a restart, which
# forgets it) the holder that kept working throughout goes on instead of stopping.
_LEASE_RENEW_OR_RETAKE_LUA = (
    "local v = redis.call('get', KEYS[1]) "
    "if v == ARGV[1] then return redis.call('pexpire', KEYS[1], ARGV[2]) end "
    "if not v then redis.call('set', KEYS[1], ARGV[1], 'PX', ARGV[2]) return 1 end return 0"
)


def lease_renew_or_retake_queue(pipe, key: str, token: str, ttl_ms: int) -> None:
    """Queue on a pipeline: renew the lease, or take it back if it lapsed and is free. Reply 1 = held, 0 = lost."""
    pipe.eval(_LEASE_RENEW_OR_RETAKE_LUA, 1, key, token, ttl_ms)


def lease_release(key: str, token: str, client=None) -> None:
    """Give the lease up if `token` holds it (never someone else's)."""
    (client or get_redis()).eval(_LEASE_RELEASE_LUA, 1, key, token)
