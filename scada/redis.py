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
