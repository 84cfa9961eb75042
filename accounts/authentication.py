"""DRF authentication: `Authorization: Bearer <JWT or API key>`, resolved without SQL."""

from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication, get_authorization_header

from accounts.tokens import (
    AuthDatabaseUnavailable,
    AuthUnavailable,
    TokenInvalid,
    principal_from_bearer,
    principal_from_bearer_without_redis,
)


class ServiceUnavailable(exceptions.APIException):
    status_code = 503
    default_detail = "Authentication is unavailable (Redis unreachable); try again shortly."


class KilnTokenAuthentication(BaseAuthentication):
    """Bearer JWT or API key. Revocation is read from Redis; when Redis is down the request gets a 503.

    A view that must still answer during an outage (the status page, which reports the outage) sets
    `auth_survives_redis_outage = True` and is authenticated from the database instead.
    """

    keyword = b"bearer"

    def authenticate(self, request):
        header = get_authorization_header(request).split()
        if not header:
            return None
        if header[0].lower() != self.keyword:
            raise exceptions.AuthenticationFailed("Authorization header must be 'Bearer <token>'.")
        if len(header) != 2:
            raise exceptions.AuthenticationFailed("Authorization header must be 'Bearer <token>'.")
        try:
            raw = header[1].decode()
        except UnicodeError:
            raise exceptions.AuthenticationFailed("Invalid token.")
        try:
            principal = principal_from_bearer(raw)
        except TokenInvalid as exc:
            raise exceptions.AuthenticationFailed(f"Invalid or expired token: {exc}")
        except AuthDatabaseUnavailable as exc:
            raise exc.error  # the database's outage: answered as such (503 "Database unavailable", scada.outage)
        except AuthUnavailable:
            principal = self._authenticate_without_redis(request, raw)
        return principal, principal

    def _authenticate_without_redis(self, request, raw: str):
        view = (getattr(request, "parser_context", None) or {}).get("view")
        if not getattr(view, "auth_survives_redis_outage", False):
            raise ServiceUnavailable()
        try:
            return principal_from_bearer_without_redis(raw)
        except TokenInvalid as exc:
            raise exceptions.AuthenticationFailed(f"Invalid or expired token: {exc}")

    def authenticate_header(self, request):
        return 'Bearer realm="api"'
