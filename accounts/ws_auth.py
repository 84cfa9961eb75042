"""WebSocket authentication: the token in /ws?token=..., the Origin check, and re-checking credentials later.

Used by the composition root (scada/asgi.py wraps the WebSocket router in `ws_auth_stack`) and by live's hub,
whose sweep asks `revoked_credentials` about the credential keys of its open connections every
KILN_WS_AUTH_CHECK_SECONDS; accounts knows nothing of the transport.

A browser always sends Origin, so a present Origin must name one of ALLOWED_HOSTS (cross-site WebSocket
hijacking); a missing Origin means a non-browser client (ERP, MES scripts), which could forge the header
anyway, so it is let through to the token check instead of forcing every integration to invent one.
The token is a JWT access token or an API key, resolved by accounts.tokens.principal_from_bearer (no SQL on
a warm cache). A connection without a valid one is refused at the handshake (HTTP 403), never accepted.
"""

from __future__ import annotations

import logging
from urllib.parse import parse_qs

import redis
from channels.db import database_sync_to_async
from channels.security.websocket import OriginValidator
from django.conf import settings

from accounts.tokens import (
    AuthUnavailable,
    Principal,
    TokenInvalid,
    principal_from_api_key,
    principal_from_bearer,
    session_is_revoked,
)
from scada.redis import get_redis

logger = logging.getLogger(__name__)

__all__ = ["KilnOriginValidator", "TokenAuthMiddleware", "ws_auth_stack", "credential_key", "revoked_credentials"]


class KilnOriginValidator(OriginValidator):
    """AllowedHostsOriginValidator, except that a missing Origin (a non-browser client) is not refused here."""

    def valid_origin(self, parsed_origin):
        if parsed_origin is None:
            return True
        return self.validate_origin(parsed_origin)


def _allowed_hosts() -> list[str]:
    hosts = list(settings.ALLOWED_HOSTS)
    if settings.DEBUG and not hosts:
        hosts = ["localhost", "127.0.0.1", "[::1]"]
    return hosts


def _token_from_scope(scope) -> str | None:
    query = parse_qs(scope.get("query_string", b"").decode("latin1"))
    token = (query.get("token") or [None])[0]
    if token:
        return token
    # Non-browser clients may prefer the header the REST API uses.
    for name, value in scope.get("headers", []):
        if name == b"authorization":
            parts = value.decode("latin1").split()
            if len(parts) == 2 and parts[0].lower() == "bearer":
                return parts[1]
    return None


@database_sync_to_async
def _authenticate(raw: str) -> Principal:
    return principal_from_bearer(raw)


class TokenAuthMiddleware:
    """Puts the caller in scope["user"] (a Principal) and the raw credential in scope["kiln_token"].

    On a bad or missing token scope["user"] is None and scope["auth_error"] says why; the consumer refuses the
    handshake. An unreachable Redis refuses too (we cannot tell whether the session was logged out).
    """

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        scope = dict(scope)
        scope["user"] = None
        raw = _token_from_scope(scope)
        if not raw:
            scope["auth_error"] = "missing token"
        else:
            try:
                scope["user"] = await _authenticate(raw)
                scope["kiln_token"] = raw
            except TokenInvalid as exc:
                scope["auth_error"] = f"invalid token: {exc}"
            except AuthUnavailable:
                scope["auth_error"] = "authentication unavailable"
        return await self.app(scope, receive, send)


def ws_auth_stack(app):
    """The WebSocket stack of scada/asgi.py: Origin check, then token authentication, then the router."""
    return KilnOriginValidator(TokenAuthMiddleware(app), _allowed_hosts())


# --- re-checking credentials of open connections -----------------------------------------------------------

def credential_key(principal: Principal, raw: str) -> tuple:
    """What identifies a credential for revocation: the session (JWT) or the key itself (API key)."""
    if principal.api_key_id is not None:
        return ("key", raw)
    issued_ms = principal.issued_ms if getattr(principal, "issued_ms", None) is not None else 0
    return ("jwt", principal.sid, principal.id, issued_ms)


def revoked_credentials(keys: list[tuple]) -> list[tuple]:
    """The credentials among `keys` that no longer count (logged out, revoked, user disabled or role changed).

    If Redis cannot be reached the sweep is skipped: a Redis blip must not log every operator out.
    """
    try:
        get_redis().ping()
    except redis.RedisError:
        logger.warning("WebSocket credential sweep skipped: Redis unreachable")
        return []
    revoked = []
    for key in keys:
        if key[0] == "jwt":
            _, sid, user_id, issued_ms = key
            if session_is_revoked(sid, user_id, issued_ms / 1000):
                revoked.append(key)
        else:
            try:
                principal_from_api_key(key[1])
            except TokenInvalid:
                revoked.append(key)
            except AuthUnavailable:
                pass
    return revoked

