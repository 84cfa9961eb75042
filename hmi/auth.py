"""Session login for the HMI pages, and the short-lived API token the pages' JavaScript uses.

The pages are served with a Django session; their JavaScript talks to the REST API and /ws with a JWT like
any other client, so the server enforces the same rules for both. One login = one token session (sid):
the refresh token stays server-side in the Django session, the browser only ever holds access tokens from
POST /hmi/token. Logging out (or the page locking after SESSION_COOKIE_AGE without activity) revokes
that sid, so every access token the page held stops working at once.
"""

from __future__ import annotations

from django import forms
from django.conf import settings
from django.contrib.auth import login as auth_login_session
from django.contrib.auth import logout as auth_logout_session
from django.db import transaction
from django.http import HttpRequest

from accounts import services, tokens
from accounts.audit import audit_record
from accounts.models import User
from scada.api.ratelimit import rate_limit_hit

__all__ = ["HmiLoginForm", "hmi_session_open", "hmi_session_close", "hmi_access_token", "HmiTokenError",
           "HmiTokenUnavailable"]

SESSION_REFRESH = "kiln_hmi_refresh"
SESSION_SID = "kiln_hmi_sid"


class HmiTokenError(Exception):
    """No live token session behind this page (logged out, revoked, user disabled)."""


class HmiTokenUnavailable(HmiTokenError):
    """The token cannot be issued now (Redis unreachable): a 503 to retry, not a reason to end the session."""


class HmiLoginForm(forms.Form):
    """Username + password, checked by accounts.services.auth_login: the same lockout, audit and rate limit
    as POST /api/auth/login, so the HMI is not a side door around them."""

    username = forms.CharField(max_length=150, widget=forms.TextInput(attrs={"autofocus": True,
                                                                            "autocomplete": "username"}))
    password = forms.CharField(strip=False, widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}))

    def __init__(self, request: HttpRequest, *args, **kwargs):
        self.request = request
        self.result: dict | None = None
        super().__init__(*args, **kwargs)

    def clean(self):
        data = super().clean()
        if self.errors:
            return data
        ip = getattr(self.request, "client_ip", None) or self.request.META.get("REMOTE_ADDR") or "-"
        if settings.KILN_RATE_LIMIT_ENABLED:
            allowed, _, reset_in = rate_limit_hit("login", f"ip:{ip}", settings.KILN_RATE_LIMITS["login"])
            if not allowed:
                raise forms.ValidationError(f"Too many login attempts; wait {reset_in} s and try again.")
        try:
            self.result = services.auth_login(username=data["username"], password=data["password"])
        except services.AuthenticationError as exc:
            raise forms.ValidationError(exc.detail)
        return data

    def get_user(self) -> User:
        return self.result["user"]


def hmi_session_open(request: HttpRequest, result: dict) -> None:
    """Log the user into a Django session and park the token session's refresh token in it."""
    user = result["user"]
    user.backend = "django.contrib.auth.backends.ModelBackend"
    auth_login_session(request, user)
    request.session[SESSION_REFRESH] = result["refresh"]
    request.session[SESSION_SID] = result["sid"]


def hmi_session_close(request: HttpRequest, *, reason: str = "") -> None:
    """Revoke the page's token session (audited as a logout) and end the Django session."""
    sid = request.session.get(SESSION_SID)
    user = request.user if request.user.is_authenticated else None
    if user is not None:
        principal = tokens.Principal(id=user.pk, username=user.username, role=int(user.role), sid=sid)
        if sid:
            with transaction.atomic():
                tokens.revoke_session(sid=sid, user_id=user.pk, reason=reason or "logout")
                audit_record(action="auth.logout", user=principal, object_type="user", object_id=user.pk,
                             old_value={"session": sid}, reason=reason)
        else:
            services.auth_logout(principal=principal)
    auth_logout_session(request)


def hmi_access_token(request: HttpRequest) -> dict:
    """A fresh access token of this session's token session (role re-read from the database)."""
    raw = request.session.get(SESSION_REFRESH)
    if not raw:
        raise HmiTokenError("This session has no API token; sign in again.")
    try:
        result = tokens.refresh_access(raw, lambda uid: User.objects.filter(pk=uid).first())
    except tokens.TokenInvalid as exc:
        raise HmiTokenError(f"The session's token is no longer valid ({exc}); sign in again.")
    except tokens.AuthUnavailable:
        raise HmiTokenUnavailable("Authentication is unavailable (Redis unreachable); try again shortly.")
    return result
