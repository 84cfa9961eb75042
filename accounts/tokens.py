"""Login sessions as JWT pairs, API keys, and their revocation: in PostgreSQL, cached in Redis.

An access token carries everything a request needs (user id, username, role, session id), so authenticating
costs no SQL. Revocation is written to the database (RevokedSession rows, User.tokens_valid_after and
User.access_valid_after, ApiKey.revoked_at) in the transaction of the logout, disable, password change, role
change or key revocation, and copied to Redis, where requests read it: logging out revokes the session id (its
access and refresh tokens both carry it); disabling a user or changing their password revokes every token issued
before that moment; changing their role revokes only the access tokens, so a refresh hands out the new role.

Redis is only a cache, so losing it must never bring a revoked token back. Its copy is complete only while the
marker key `kiln:revocations:loaded` holds the run_id of the Redis server it was loaded into: a FLUSHDB or a
restart without persistence removes the marker, and a restart from an older snapshot (RDB/AOF) keeps a marker
with the previous server's run_id. Either way the next check reloads every live revocation from PostgreSQL
before answering (a few ms, once); with a warm cache a check is one MGET and no SQL.

Revocation compares millisecond issue times (the `iat_ms` claim): JWT's `iat` has one-second resolution, so a
token refreshed in the same second as a role change would otherwise be refused or, worse, let through.
"""

from __future__ import annotations

import hashlib
import secrets
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import lru_cache

import orjson
import redis
from django.conf import settings
from django.db import DatabaseError, transaction
from rest_framework_simplejwt.exceptions import TokenError
from rest_framework_simplejwt.tokens import AccessToken, RefreshToken

from scada.redis import get_redis
from scada.roles import Role

API_KEY_PREFIX = "kiln_"
_SID_KEY = "kiln:revoked:sid:{}"
_USER_KEY = "kiln:revoked:user:{}"
_USER_ACCESS_KEY = "kiln:revoked:user-access:{}"
_APIKEY_CACHE = "kiln:apikey:{}"
_APIKEY_CACHE_SECONDS = 300
_LOADED_KEY = "kiln:revocations:loaded"
# The marker expires now and then anyway, so a cache that lost single keys (eviction under memory pressure)
# is rebuilt within the hour; Kiln's Redis should run with maxmemory-policy noeviction (docs/configuration.md).
_LOADED_SECONDS = 3600
# How often a process re-reads the Redis server's run_id, which changes on every restart of Redis.
_RUN_ID_CHECK_SECONDS = 1.0
# Keeps the later of two "revoked before" times: a reload that read the database before a concurrent
# revocation committed must not overwrite the newer time that revocation wrote.
_SET_MAX = """
local cur = redis.call('GET', KEYS[1])
if (not cur) or tonumber(cur) < tonumber(ARGV[1]) then
  redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[2])
end
return 1
"""


class TokenInvalid(Exception):
    """The credential is missing, malformed, expired or revoked (a 401)."""


class AuthUnavailable(Exception):
    """Revocation state cannot be read (Redis down): refuse rather than let a revoked token in."""


class AuthDatabaseUnavailable(AuthUnavailable):
    """Revocations or API keys could not be read from PostgreSQL: the answer is the database's outage (503)."""

    def __init__(self, message: str, error: Exception):
        super().__init__(message)
        self.error = error


@dataclass(frozen=True)
class Principal:
    """The authenticated caller of an API request or WebSocket, built from token claims without SQL."""

    id: int
    username: str
    role: int
    sid: str | None = None
    api_key_id: int | None = None
    expires_at: float | None = None
    issued_ms: int | None = None
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


def _now_ms() -> int:
    return int(time.time() * 1000)


def issue_token_pair(user) -> dict:
    """A new login session: refresh + access tokens sharing one session id.

    Also makes sure Redis holds the revocations (a login reads the database anyway), so that the session's
    requests find a warm cache and cost no SQL.
    """
    revocations_warm()
    refresh = RefreshToken.for_user(user)
    refresh["sid"] = uuid.uuid4().hex
    refresh["username"] = user.username
    refresh["role"] = int(user.role)
    refresh["iat_ms"] = _now_ms()
    access = refresh.access_token
    # The session's end travels in the access token, so it can be renewed by itself (seed 000's refresh with
    # the Bearer token) without ever outliving the session.
    access["sexp"] = refresh["exp"]
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
    return _renewed_access(user, sid=refresh["sid"], session_exp=refresh["exp"])


def refresh_from_access(raw_access: str, user_loader) -> dict:
    """A new access token for a live, unrevoked access token of a session (seed 000: POST /api/auth/refresh
    with the token as Bearer). Role and name are re-read; the new token still ends with its session."""
    claims = _access_claims(raw_access)
    _check_revoked(claims)
    session_exp = claims.get("sexp")
    if not isinstance(session_exp, (int, float)):
        raise TokenInvalid("This token cannot renew itself (issued before self-renewal); send its refresh token.")
    user = user_loader(claims["user_id"])
    if user is None or not user.is_active:
        raise TokenInvalid("User is disabled or no longer exists.")
    return _renewed_access(user, sid=claims["sid"], session_exp=session_exp)


def _renewed_access(user, *, sid: str, session_exp: float) -> dict:
    access = AccessToken.for_user(user)
    access["sid"] = sid
    access["username"] = user.username
    access["role"] = int(user.role)
    access["iat_ms"] = _now_ms()
    access["sexp"] = session_exp
    # An access token never outlives the session that issued it.
    access.set_exp(lifetime=settings.SIMPLE_JWT["ACCESS_TOKEN_LIFETIME"])
    if access["exp"] > session_exp:
        access["exp"] = session_exp
    return {"token": str(access), "expires_at": datetime.fromtimestamp(access["exp"], tz=UTC), "user": user}


def _issued_ms(token) -> int:
    # Tokens without iat_ms count as issued at the start of their iat second: when in doubt, revoked.
    try:
        return int(token.get("iat_ms") or int(token.get("iat", 0)) * 1000)
    except (TypeError, ValueError):
        raise TokenInvalid("Token lacks required claims.")


def _check_revoked(token) -> None:
    sid = token.get("sid")
    uid = token.get("user_id")
    if not sid or uid is None:
        raise TokenInvalid("Token lacks required claims.")
    revoked_sid, *markers = _revocation_markers(sid, uid, access=token.get("token_type") == "access")
    if revoked_sid is not None:
        raise TokenInvalid("Token has been revoked (logged out).")
    issued = _issued_ms(token)
    if any(marker is not None and issued <= int(marker) for marker in markers):
        raise TokenInvalid("Token has been revoked.")


def _revocation_markers(sid, user_id, *, access: bool) -> list:
    """[session revoked?, user's tokens revoked up to (ms), user's access tokens revoked up to (ms)] from the
    Redis copy, refilled from PostgreSQL first when that copy is not known complete. AuthUnavailable when
    neither can answer: an unknown revocation state never means "not revoked"."""
    keys = [_LOADED_KEY, _SID_KEY.format(sid), _USER_KEY.format(user_id)]
    if access:
        keys.append(_USER_ACCESS_KEY.format(user_id))
    r = get_redis()
    try:
        found = r.mget(*keys)
        if found[0] is None or found[0] != _redis_run_id(r):
            revocations_load(r)
            found = r.mget(*keys)
    except redis.RedisError as exc:
        raise AuthUnavailable(str(exc))
    except DatabaseError as exc:
        raise AuthDatabaseUnavailable(f"revocations cannot be read from the database: {exc}", exc)
    return found[1:]


_run_id: tuple[float, bytes | None] = (0.0, None)


def _redis_run_id(r) -> bytes:
    """The run_id of the Redis server (new on every restart), re-read at most once a second per process."""
    global _run_id
    checked, run_id = _run_id
    now = time.monotonic()
    if run_id is None or now - checked >= _RUN_ID_CHECK_SECONDS:
        run_id = str(r.info("server")["run_id"]).encode()
        _run_id = (now, run_id)
    return run_id


def revocations_load(r=None) -> int:
    """Copy every revocation that can still matter (younger than the refresh token lifetime) from PostgreSQL
    to Redis and mark the copy complete for this Redis server. Returns how many entries were copied.

    Called by the first check that finds the marker missing or from another Redis run, and by logins (which
    read the database anyway), so requests with a warm cache never pay for it.
    """
    from django.db.models import Q

    from accounts.models import RevokedSession, User

    r = r or get_redis()
    run_id = _redis_run_id(r)
    lifetime = refresh_lifetime_seconds() + 60
    now_ms = _now_ms()
    since = datetime.fromtimestamp((now_ms / 1000) - lifetime, tz=UTC)
    sessions = list(RevokedSession.objects.filter(revoked_at__gte=since).values_list("sid", "revoked_at"))
    users = list(User.objects.filter(Q(tokens_valid_after__gte=since) | Q(access_valid_after__gte=since))
                 .values_list("pk", "tokens_valid_after", "access_valid_after"))
    set_max = r.register_script(_SET_MAX)
    # One MULTI/EXEC: a FLUSHDB cannot fall between the entries and the marker that vouches for them.
    pipe = r.pipeline(transaction=True)
    for sid, revoked_at in sessions:
        pipe.set(_SID_KEY.format(sid), 1, ex=_ttl(revoked_at, lifetime, now_ms))
    for pk, all_after, access_after in users:
        for key, after in ((_USER_KEY, all_after), (_USER_ACCESS_KEY, access_after)):
            if after is not None and after >= since:
                set_max(keys=[key.format(pk)], args=[_ms(after), _ttl(after, lifetime, now_ms)], client=pipe)
    pipe.set(_LOADED_KEY, run_id, ex=_LOADED_SECONDS)
    pipe.execute()
    return len(sessions) + len(users)


def revocations_warm() -> None:
    """Load the revocations into Redis unless they are there already; a failure is left to the next check."""
    r = get_redis()
    try:
        if r.get(_LOADED_KEY) != _redis_run_id(r):
            revocations_load(r)
    except (redis.RedisError, DatabaseError):
        pass


def _ms(when: datetime) -> int:
    return int(when.timestamp() * 1000)


def _ttl(revoked_at: datetime, lifetime: int, now_ms: int) -> int:
    return max(1, lifetime - (now_ms - _ms(revoked_at)) // 1000)


@lru_cache(maxsize=4096)
def _verified_claims(signing_key: str, raw: str) -> dict:
    """Claims of an access token after its signature, algorithm and type were checked, remembered per process,
    so a client that sends the same token on every request pays for the HMAC and decoding (~0.3 ms) once.

    Keyed by the signing key and the exact token text: only a byte-identical token signed with the current key
    is found. A refused token raises and is not remembered. Callers still check expiry and revocation.
    """
    try:
        return dict(AccessToken(raw).payload)
    except TokenError as exc:
        raise TokenInvalid(str(exc))


def _access_claims(raw: str) -> dict:
    claims = _verified_claims(settings.SIMPLE_JWT["SIGNING_KEY"], raw)
    exp = claims.get("exp")
    if not isinstance(exp, (int, float)) or exp <= time.time():
        # The same words as simplejwt's expiry check (leeway 0), for a token verified earlier that expired since.
        raise TokenInvalid("Token is expired")
    return claims


def principal_from_access_token(raw: str) -> Principal:
    """Validate an access token (signature, algorithm, expiry, type) and its revocation; no SQL."""
    token = _access_claims(raw)
    _check_revoked(token)
    try:
        return Principal(
            id=int(token["user_id"]),
            username=str(token["username"]),
            role=int(token["role"]),
            sid=str(token["sid"]),
            expires_at=float(token["exp"]),
            issued_ms=_issued_ms(token),
        )
    except (KeyError, ValueError, TypeError):
        raise TokenInvalid("Token lacks required claims.")


def revoke_session(*, sid: str, user_id: int, reason: str = "logout") -> None:
    """End one login session: its access and refresh tokens stop working.

    Writes the RevokedSession row (call inside the transaction of the change, so it commits with its audit
    record), then the Redis copy at once and again after commit, so no request can see the old state.
    """
    from accounts.models import RevokedSession

    now = datetime.fromtimestamp(_now_ms() / 1000, tz=UTC)
    RevokedSession.objects.update_or_create(sid=sid, defaults={"user_id": user_id, "revoked_at": now,
                                                               "reason": reason[:64]})
    # Rows whose tokens have all expired are of no use any more; pruning here keeps the table (and a reload) small.
    RevokedSession.objects.filter(revoked_at__lt=now - settings.SIMPLE_JWT["REFRESH_TOKEN_LIFETIME"]
                                  - timedelta(hours=1)).delete()

    def cache() -> None:
        get_redis().set(_SID_KEY.format(sid), 1, ex=refresh_lifetime_seconds() + 60)

    cache()
    transaction.on_commit(cache)


def revoke_user_tokens(user_id: int) -> None:
    """Every token of this user issued up to now stops working (disable, password change)."""
    _revoke_user_before(user_id, field="tokens_valid_after", key=_USER_KEY)


def revoke_user_access_tokens(user_id: int) -> None:
    """Every access token of this user issued up to now stops working; refresh tokens stay (role change).

    The next refresh re-reads the role from the database, so the session goes on with the new rights.
    """
    _revoke_user_before(user_id, field="access_valid_after", key=_USER_ACCESS_KEY)


def _revoke_user_before(user_id: int, *, field: str, key: str) -> None:
    from accounts.models import User

    now_ms = _now_ms()
    User.objects.filter(pk=user_id).update(**{field: datetime.fromtimestamp(now_ms / 1000, tz=UTC)})

    def cache() -> None:
        r = get_redis()
        r.register_script(_SET_MAX)(keys=[key.format(user_id)], args=[now_ms, refresh_lifetime_seconds() + 60])

    cache()
    transaction.on_commit(cache)


def session_is_revoked(sid: str | None, user_id: int, iat: float) -> bool:
    """For long-lived connections (WebSocket) that re-check their token: True when it no longer counts.

    `iat` is the token's issue time in seconds (iat_ms / 1000 when the caller has it). A revocation state that
    cannot be read (Redis and, for a cold cache, PostgreSQL) counts as revoked.
    """
    try:
        revoked_sid, revoked_before, revoked_access_before = _revocation_markers(sid, user_id, access=True)
    except AuthUnavailable:
        return True
    issued = int(iat * 1000)
    return revoked_sid is not None or any(
        marker is not None and issued <= int(marker) for marker in (revoked_before, revoked_access_before)
    )


# --- API keys -------------------------------------------------------------------------------------------

def new_api_key() -> tuple[str, str, str]:
    """(key shown once, its prefix, its SHA-256 hex)."""
    key = API_KEY_PREFIX + secrets.token_urlsafe(32)
    return key, key[: len(API_KEY_PREFIX) + 8], hash_api_key(key)


def hash_api_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def principal_from_api_key(raw: str) -> Principal:
    """Look the key up in Redis (no SQL on a warm cache); on a miss, in the database, then cache it.

    A cached entry counts only if it was written during this run of the Redis server: one restored from an older
    snapshot may predate the key's revocation, so it is read from the database again.
    """
    digest = hash_api_key(raw)
    r = get_redis()
    try:
        cached = r.get(_APIKEY_CACHE.format(digest))
        run_id = _redis_run_id(r).decode()
    except redis.RedisError as exc:
        raise AuthUnavailable(str(exc))
    if cached == f"-{run_id}".encode():
        raise TokenInvalid("Invalid API key.")
    if cached and cached[:1] == b"{":
        data = orjson.loads(cached)
        if data.get("run") == run_id:
            return Principal(id=data["id"], username=data["username"], role=data["role"], api_key_id=data["key"])
    from accounts.models import ApiKey

    try:
        key = ApiKey.objects.select_related("user").filter(key_hash=digest).first()
    except DatabaseError as exc:
        raise AuthDatabaseUnavailable(f"API keys cannot be read from the database: {exc}", exc)
    if key is None or key.revoked_at is not None or not key.user.is_active:
        r.set(_APIKEY_CACHE.format(digest), f"-{run_id}", ex=60)
        raise TokenInvalid("Invalid API key.")
    data = {"id": key.user_id, "username": key.user.username, "role": int(key.user.role), "key": key.pk,
            "run": run_id}
    r.set(_APIKEY_CACHE.format(digest), orjson.dumps(data), ex=_APIKEY_CACHE_SECONDS)
    return Principal(id=key.user_id, username=key.user.username, role=int(key.user.role), api_key_id=key.pk)


def forget_api_keys(key_hashes: list[str]) -> None:
    """Drop cached keys so a revocation or a user change takes effect at once (now, and again after commit so
    no request can re-cache the old state in between; the database row is what decides on a miss)."""
    if not key_hashes:
        return

    def forget() -> None:
        get_redis().delete(*[_APIKEY_CACHE.format(h) for h in key_hashes])

    forget()
    transaction.on_commit(forget)


def principal_from_bearer(raw: str) -> Principal:
    if raw.startswith(API_KEY_PREFIX):
        return principal_from_api_key(raw)
    return principal_from_access_token(raw)


def principal_from_bearer_without_redis(raw: str) -> Principal:
    """Authenticate from the database alone, for the few read-only views that must answer during a Redis outage.

    Signature, expiry and token type are checked as usual, and the account must be active with the role read
    from its row, and revocations are read from the database; still, only views with nothing to protect beyond
    the role may use this (GET /api/system/status). Costs two queries.
    """
    from accounts.models import ApiKey, RevokedSession, User

    if raw.startswith(API_KEY_PREFIX):
        key = ApiKey.objects.select_related("user").filter(key_hash=hash_api_key(raw)).first()
        if key is None or key.revoked_at is not None or not key.user.is_active:
            raise TokenInvalid("Invalid API key.")
        return Principal(id=key.user_id, username=key.user.username, role=int(key.user.role), api_key_id=key.pk)
    try:
        token = AccessToken(raw)
    except TokenError as exc:
        raise TokenInvalid(str(exc))
    user = User.objects.filter(pk=token.get("user_id"), is_active=True).first()
    if user is None or not token.get("sid"):
        raise TokenInvalid("User is disabled or no longer exists.")
    # The database holds every revocation, so a logout is refused here too.
    issued = _issued_ms(token)
    if RevokedSession.objects.filter(sid=str(token["sid"])).exists():
        raise TokenInvalid("Token has been revoked (logged out).")
    if any(after is not None and issued <= _ms(after) for after in (user.tokens_valid_after, user.access_valid_after)):
        raise TokenInvalid("Token has been revoked.")
    return Principal(id=user.pk, username=user.username, role=int(user.role), sid=str(token["sid"]),
                     expires_at=float(token["exp"]), issued_ms=_issued_ms(token))
