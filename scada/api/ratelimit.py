"""Rate limits (seed 000 RATE LIMITS) as fixed one-minute windows counted in Redis.

INCR is atomic in Redis, so parallel requests in many processes can never let the 11th login through.
A view picks its bucket with `rate_scope` ("default", "history", "tag_write", "login"); the login bucket is
per client IP, every other one per token (login session or API key).
"""

import logging
import time

import redis
from django.conf import settings
from rest_framework.exceptions import APIException
from rest_framework.throttling import BaseThrottle

from scada.redis import get_redis

logger = logging.getLogger(__name__)

WINDOW_SECONDS = 60


class ServiceUnavailable(APIException):
    status_code = 503
    default_detail = "Service temporarily unavailable."


def rate_limit_hit(scope: str, identity: str, limit: int) -> tuple[bool, int, int]:
    """Count one request. Returns (allowed, remaining, seconds until the window resets)."""
    now = time.time()
    window = int(now // WINDOW_SECONDS)
    key = f"kiln:rl:{scope}:{identity}:{window}"
    pipe = get_redis().pipeline(transaction=False)
    pipe.incr(key)
    pipe.expire(key, WINDOW_SECONDS + 1)
    count = pipe.execute()[0]
    reset_in = int((window + 1) * WINDOW_SECONDS - now) + 1
    return count <= limit, max(0, limit - count), reset_in


class RedisRateThrottle(BaseThrottle):
    def __init__(self):
        self._wait = None

    def allow_request(self, request, view):
        if not settings.KILN_RATE_LIMIT_ENABLED:
            return True
        scope = getattr(view, "rate_scope", "default")
        limit = settings.KILN_RATE_LIMITS[scope]
        user = request.user
        if scope == "login" or user is None or not getattr(user, "is_authenticated", False):
            identity = f"ip:{getattr(request._request, 'client_ip', None) or self.get_ident(request)}"
        else:
            identity = getattr(user, "rate_identity", None) or f"user:{user.id}"
        try:
            allowed, remaining, reset_in = rate_limit_hit(scope, identity, limit)
        except redis.RedisError:
            if scope == "login":
                # Without a counter a password could be guessed without limit: refuse logins until Redis is back.
                raise ServiceUnavailable("Login is unavailable (rate-limit store unreachable); try again shortly.")
            # Token requests are already authenticated (which needs Redis); don't fail them on the counter alone.
            logger.warning("Rate limit counter unavailable; request allowed without counting")
            return True
        request._request.kiln_ratelimit = {"limit": limit, "remaining": remaining}
        if not allowed:
            self._wait = reset_in
        return allowed

    def wait(self):
        return self._wait
