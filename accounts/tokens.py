"""Login sessions as JWT pairs, API keys, and their revocation in Redis.

An access token carries everything a request needs (user id, username, role, session id), so authenticating
costs no SQL. Revocation lives in Redis: logging out revokes the session id (its access and refresh tokens
both carry it); disabling a user or changing their role revokes every token issued before that moment.
"""

from __future__ import annotations

import hashlib
import secrets
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime

import orjson
import redis
from django.conf import settings
from rest_framework_simplejwt.exceptions import TokenError
from rest_framework_simplejwt.tokens import AccessToken, RefreshToken

from scada.redis import get_redis
from scada.roles import Role

API_KEY_PREFIX = "kiln_"
_SID_KEY = "kiln:revoked:sid:{}"
_USER_KEY = "kiln:revoked:user:{}"
_APIKEY_CACHE = "kiln:apikey:{}"
_APIKEY_CACHE_SECONDS = 300


class TokenInvalid(Exception):
    """The credential is missing, malformed, expired or revoked (a 401)."""


class AuthUnavailable(Exception):
    """Revocation state cannot be read (Redis down): refuse rather than let a revoked token in."""


@dataclass(frozen=True)
class Principal:
    """The authenticated caller of an API request or WebSocket, built from token claims without SQL."""

    id: int
    username: str
    role: int
    sid: str | None = None
    api_key_id: int | None = None
    expires_at: float | None = None
    is_authenticated: bool = field(default=True, repr=False)
    is_active: bool = field(default=True, repr=False)
    is_anonymous: bool = field(default=False, repr=False)

    @property
    def pk(self) -> int:
        return self.id

    @property
    def role_name(self) -> str:
        return Role(self.role).label

    def has_role(self, role: int) -> bool:
        return self.role >= role

    def get_user(self):
        """The User row, for the few services that need more than the claims."""
        from accounts.models import User

        return User.objects.get(pk=self.id)

    @property
    def rate_identity(self) -> str:
        return f"key:{self.api_key_id}" if self.api_key_id else f"sid:{self.sid}"


def refresh_lifetime_seconds() -> int:
    return int(settings.SIMPLE_JWT["REFRESH_TOKEN_LIFETIME"].total_seconds())


def issue_token_pair(user) -> dict:
    """A new login session: refresh + access tokens sharing one session id."""
    refresh = RefreshToken.for_user(user)
    refresh["sid"] = uuid.uuid4().hex
    refresh["username"] = user.username
    refresh["role"] = int(user.role)
    access = refresh.access_token
    return {
        "token": str(access),
        "refresh": str(refresh),
        "expires_at": datetime.fromtimestamp(access["exp"], tz=UTC),
        "sid": refresh["sid"],
    }


def refresh_access(raw_refresh: str, user_loader) -> dict:
    """A new access token for a live refresh token; role and name are re-read from the database."""
    try:
        refresh = RefreshToken(raw_refresh)
    except TokenError as exc:
        raise TokenInvalid(str(exc))
    _check_revoked(refresh)
    user = user_loader(refresh["user_id"])
    if user is None or not user.is_active:
        raise TokenInvalid("User is disabled or no longer exists.")
    access = AccessToken.for_user(user)
    for claim in ("sid",):
        access[claim] = refresh[claim]
    access["username"] = user.username
    access["role"] = int(user.role)
    # An access token never outlives the session that issued it.
    access.set_exp(lifetime=settings.SIMPLE_JWT["ACCESS_TOKEN_LIFETIME"])
    if access["exp"] > refresh["exp"]:
        access["exp"] = refresh["exp"]
    return {"token": str(access), "expires_at": datetime.fromtimestamp(access["exp"], tz=UTC), "user": user}


def _check_revoked(token) -> None:
    sid = token.get("sid")
    uid = token.get("user_id")
    if not sid or uid is None:
        raise TokenInvalid("Token lacks required claims.")
    try:
        revoked_sid, revoked_before = get_redis().mget(_SID_KEY.format(sid), _USER_KEY.format(uid))
    except redis.RedisError as exc:
        raise AuthUnavailable(str(exc))
    if revoked_sid is not None:
        raise TokenInvalid("Token has been revoked (logged out).")
    if revoked_before is not None and float(token.get("iat", 0)) <= float(revoked_before):
        raise TokenInvalid("Token has been revoked.")


def principal_from_access_token(raw: str) -> Principal:
    """Validate an access token (signature, algorithm, expiry, type) and its revocation; no SQL."""
    try:
        token = AccessToken(raw)
    except TokenError as exc:
        raise TokenInvalid(str(exc))
    _check_revoked(token)
    try:
        return Principal(
            id=int(token["user_id"]),
            username=str(token["username"]),
            role=int(token["role"]),
            sid=str(token["sid"]),
            expires_at=float(token["exp"]),
        )
    except (KeyError, ValueError, TypeError):
        raise TokenInvalid("Token lacks required claims.")


def revoke_session(sid: str) -> None:
    get_redis().set(_SID_KEY.format(sid), 1, ex=refresh_lifetime_seconds() + 60)


def revoke_user_tokens(user_id: int) -> None:
    """Every token of this user issued up to now stops working (disable, role change, password change)."""
    # iat has one-second resolution, so mark the whole current second as revoked.
    get_redis().set(_USER_KEY.format(user_id), int(time.time()), ex=refresh_lifetime_seconds() + 60)


def session_is_revoked(sid: str | None, user_id: int, iat: float) -> bool:
    try:
        revoked_sid, revoked_before = get_redis().mget(_SID_KEY.format(sid), _USER_KEY.format(user_id))
    except redis.RedisError:
        return True
    return revoked_sid is not None or (revoked_before is not None and iat <= float(revoked_before))


# --- API keys -------------------------------------------------------------------------------------------

def new_api_key() -> tuple[str, str, str]:
    """(key shown once, its prefix, its SHA-256 hex)."""
    key = API_KEY_PREFIX + secrets.token_urlsafe(32)
    return key, key[: len(API_KEY_PREFIX) + 8], hash_api_key(key)


def hash_api_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def principal_from_api_key(raw: str) -> Principal:
    """Look the key up in Redis (no SQL on a warm cache); on a miss, in the database, then cache it."""
    digest = hash_api_key(raw)
    r = get_redis()
    try:
        cached = r.get(_APIKEY_CACHE.format(digest))
    except redis.RedisError as exc:
        raise AuthUnavailable(str(exc))
    if cached == b"-":
        raise TokenInvalid("Invalid API key.")
    if cached:
        data = orjson.loads(cached)
        return Principal(id=data["id"], username=data["username"], role=data["role"], api_key_id=data["key"])
    from accounts.models import ApiKey

    key = ApiKey.objects.select_related("user").filter(key_hash=digest).first()
    if key is None or key.revoked_at is not None or not key.user.is_active:
        r.set(_APIKEY_CACHE.format(digest), "-", ex=60)
        raise TokenInvalid("Invalid API key.")
    data = {"id": key.user_id, "username": key.user.username, "role": int(key.user.role), "key": key.pk}
    r.set(_APIKEY_CACHE.format(digest), orjson.dumps(data), ex=_APIKEY_CACHE_SECONDS)
    return Principal(id=key.user_id, username=key.user.username, role=int(key.user.role), api_key_id=key.pk)


def forget_api_keys(key_hashes: list[str]) -> None:
    """Drop cached keys so a revocation or a user change takes effect at once."""
    if key_hashes:
        get_redis().delete(*[_APIKEY_CACHE.format(h) for h in key_hashes])


def principal_from_bearer(raw: str) -> Principal:
    if raw.startswith(API_KEY_PREFIX):
        return principal_from_api_key(raw)
    return principal_from_access_token(raw)
