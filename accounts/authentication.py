"""DRF authentication: `Authorization: Bearer <JWT or API key>`, resolved without SQL."""

from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication, get_authorization_header

from accounts.tokens import AuthUnavailable, TokenInvalid, principal_from_bearer


class ServiceUnavailable(exceptions.APIException):
    status_code = 503
    default_detail = "Authentication is unavailable (Redis unreachable); try again shortly."


class KilnTokenAuthentication(BaseAuthentication):
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
        except AuthUnavailable:
            raise ServiceUnavailable()
        return principal, principal

    def authenticate_header(self, request):
        return 'Bearer realm="api"'
