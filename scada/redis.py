"""One Redis client per process for the live value table, rate limits and token revocation."""

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
