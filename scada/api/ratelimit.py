"""Rate limits (seed 000 RATE LIMITS) as fixed one-minute windows counted in Redis.

INCR is atomic in Redis, so parallel requests in many processes can never let the 11th login through.
A view picks its bucket with `rate_scope` ("default", "history", "tag_write", "login"); the login bucket is
per client IP, every other one per token (login session or API key). A request without a valid token (401) is
counted per client IP in its view's bucket, so guessing tokens is limited like guessing passwords; a 401 or 403
answer carries the X-RateLimit-* headers like any other (see `count_refused_request`).

A view may cost more than one unit: `rate_cost(request)` (the batch write counts each of its writes toward the
500 writes a minute). A request that does not fit in what is left is refused whole and uses nothing, so the
429 can say how much is left.
"""

import logging
import time

import redis
from django.conf import settings
from rest_framework.exceptions import APIException, ParseError
from rest_framework.throttling import BaseThrottle

from scada.redis import get_redis

logger = logging.getLogger(__name__)

WINDOW_SECONDS = 60


class ServiceUnavailable(APIException):
    status_code = 503
    default_detail = "Service temporarily unavailable."


# Take `cost` units if they fit under the limit, atomically (parallel requests in many processes).
_TAKE = """
local used = tonumber(redis.call('GET', KEYS[1]) or '0')
local cost, limit = tonumber(ARGV[1]), tonumber(ARGV[2])
if used + cost > limit then return {0, used} end
used = redis.call('INCRBY', KEYS[1], cost)
redis.call('EXPIRE', KEYS[1], tonumber(ARGV[3]))
return {1, used}
"""


def rate_limit_hit(scope: str, identity: str, limit: int, cost: int = 1) -> tuple[bool, int, int]:
    """Count one request of `cost` units (1 unless a batch). Returns (allowed, remaining, seconds until the
    window resets); a refused request uses nothing."""
    now = time.time()
    window = int(now // WINDOW_SECONDS)
    key = f"kiln:rl:{scope}:{identity}:{window}"
    allowed, used = get_redis().eval(_TAKE, 1, key, max(1, int(cost)), limit, WINDOW_SECONDS + 1)
    reset_in = int((window + 1) * WINDOW_SECONDS - now) + 1
    return bool(allowed), max(0, limit - int(used)), reset_in


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
        cost, body_error = _cost(request, view)
        try:
            allowed, remaining, reset_in = rate_limit_hit(scope, identity, limit, cost)
        except redis.RedisError:
            if scope == "login":
                # Without a counter a password could be guessed without limit: refuse logins until Redis is back.
                raise ServiceUnavailable("Login is unavailable (rate-limit store unreachable); try again shortly.")
            # Token requests are already authenticated (which needs Redis); don't fail them on the counter alone.
            logger.warning("Rate limit counter unavailable; request allowed without counting")
            return True
        request._request.kiln_ratelimit = {"limit": limit, "remaining": remaining, "cost": cost}
        if not allowed:
            self._wait = reset_in
        elif body_error is not None:
            # Counted as one request, then answered with the parse error itself: DRF hands an empty body to
            # whoever reads request.data after a failed parse, so swallowing it here would turn a NUL or a
            # malformed body into a misleading "field is required".
            raise body_error
        return allowed

    def wait(self):
        return self._wait


def _cost(request, view) -> tuple[int, Exception | None]:
    """(units this request costs, the body's parse error if reading it failed: it then costs one)."""
    rate_cost = getattr(view, "rate_cost", None)
    if rate_cost is None:
        return 1, None
    try:
        return max(1, int(rate_cost(request))), None
    except ParseError as exc:
        return 1, exc
    except Exception:  # noqa: BLE001 - a body the view's serializer will refuse: one request, its 400 follows
        return 1, None


def count_refused_request(request, view) -> bool:
    """A request refused before the throttles ran (401 bad/missing token, 403 role): count it now, per client IP
    when unauthenticated, and set the X-RateLimit-* headers. Returns False when it is over the limit (answer
    429 instead). DRF authenticates and checks permissions before throttling, hence this second entry."""
    if view is None or hasattr(request._request, "kiln_ratelimit"):
        return True
    for throttle in view.get_throttles():
        if isinstance(throttle, RedisRateThrottle) and not throttle.allow_request(request, view):
            request._request.kiln_wait = throttle.wait()
            return False
    return True
