"""The Django admin's login goes through the same lockout, rate limit and audit as POST /api/auth/login.

Django's ModelBackend alone would let anyone guess passwords at /admin/login/ without limit and without a
trace. This backend raises PermissionDenied on every failure, so Django does not go on to try ModelBackend
(which stays listed only so that sessions opened by it keep resolving their user).
"""

import redis
from django.conf import settings
from django.contrib.auth.backends import ModelBackend
from django.core.exceptions import PermissionDenied
from django.db import transaction

from accounts import services
from accounts.audit import audit_record
from scada.api.ratelimit import rate_limit_hit
from scada.middleware import client_ip_from_meta


class LockoutModelBackend(ModelBackend):
    """Username + password for the Django admin login, with lockout, login rate limit and audit."""

    def authenticate(self, request, username=None, password=None, **kwargs):
        if username is None or password is None:
            return None
        if settings.KILN_RATE_LIMIT_ENABLED and request is not None:
            ip = getattr(request, "client_ip", None) or client_ip_from_meta(request.META)
            try:
                allowed, _, _ = rate_limit_hit("login", f"ip:{ip}", settings.KILN_RATE_LIMITS["login"])
            except redis.RedisError:
                allowed = False  # no counter, no unlimited guessing
            if not allowed:
                raise PermissionDenied("Too many login attempts; wait a minute.")
        try:
            user = services.auth_credentials_check(username=username, password=password, channel="Django admin")
        except services.AuthenticationError:
            raise PermissionDenied(services.INVALID_CREDENTIALS)
        with transaction.atomic():
            audit_record(action="auth.login", user=user, object_type="user", object_id=user.pk,
                         reason="Django admin")
        return user
