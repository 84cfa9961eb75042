"""Account services: login, logout, token refresh, users and API keys. Every one of them is audited."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth import password_validation
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from accounts import tokens
from accounts.audit import audit_record
from accounts.models import ApiKey, LoginLockout, User
from scada import context
from scada.errors import BadRequest, Conflict, NotFound, PermissionDenied
from scada.roles import Role

__all__ = [
    "AuthenticationError",
    "auth_credentials_check",
    "auth_login",
    "auth_logout",
    "auth_refresh",
    "password_verify",
    "user_create",
    "user_update",
    "user_disable",
    "api_key_create",
    "api_key_revoke",
]

INVALID_CREDENTIALS = "Invalid username or password."


class AuthenticationError(Exception):
    """A 401: the same message for an unknown user, a wrong password and a locked account."""

    def __init__(self, detail: str = INVALID_CREDENTIALS):
        self.detail = detail
        super().__init__(detail)


def _client_address() -> str:
    # Set by scada.middleware from the peer address, or X-Forwarded-For of a trusted proxy only.
    return context.client_ip.get() or "unknown"


def _register_failure(user: User, *, action_reason: str, address: str) -> None:
    """Count a wrong password against (account, address); lock the account for that address on the limit.

    Call inside a transaction. KILN_LOGIN_MAX_FAILURES wrong passwords from one address lock the account for that
    address (Part 11 lockout, audited), so a guesser cannot lock the owner out from everywhere. The safeguard
    against guessing spread over many addresses: once KILN_LOGIN_MAX_LOCKED_ADDRESSES addresses are locked out
    of the account at the same time, it is locked for everyone (audited too).
    """
    now = timezone.now()
    # Conditional, atomic increments: parallel wrong passwords each count.
    LoginLockout.objects.get_or_create(user=user, address=address, defaults={"last_failure": now})
    LoginLockout.objects.filter(user=user, address=address).update(failed_count=F("failed_count") + 1,
                                                                    last_failure=now)
    User.objects.filter(pk=user.pk).update(failed_login_count=F("failed_login_count") + 1)
    per_address = LoginLockout.objects.get(user=user, address=address)
    audit_record(action="auth.login_failed", user=user, object_type="user", object_id=user.pk, reason=action_reason)
    if per_address.failed_count < settings.LOGIN_MAX_FAILURES:
        return
    until = now + timedelta(minutes=settings.LOGIN_LOCKOUT_MINUTES)
    LoginLockout.objects.filter(pk=per_address.pk).update(locked_until=until, failed_count=0)
    audit_record(action="auth.lockout", user=user, object_type="user", object_id=user.pk,
                 new_value={"locked_until": until, "address": address},
                 reason=f"{settings.LOGIN_MAX_FAILURES} failed attempts from {address}")
    locked_addresses = LoginLockout.objects.filter(user=user, locked_until__gt=now).count()
    if locked_addresses >= settings.LOGIN_MAX_LOCKED_ADDRESSES:
        User.objects.filter(pk=user.pk).update(locked_until=until)
        audit_record(action="auth.lockout", user=user, object_type="user", object_id=user.pk,
                     new_value={"locked_until": until, "address": "*"},
                     reason=f"locked out from {locked_addresses} addresses: locked for every address")
    user.refresh_from_db(fields=["failed_login_count", "locked_until"])


def _locked(user: User, address: str, now) -> bool:
    """Locked for everyone (account-wide safeguard) or for this address (Part 11 lockout)."""
    if user.locked_until and user.locked_until > now:
        return True
    return LoginLockout.objects.filter(user=user, address=address, locked_until__gt=now).exists()


def _clear_failures(user: User, address: str, **extra) -> None:
    # A success from an address ends its count (other addresses keep theirs: they may be the guesser's).
    LoginLockout.objects.filter(user=user, address=address).delete()
    if user.failed_login_count or extra:
        User.objects.filter(pk=user.pk).update(failed_login_count=0, **extra)


def password_verify(*, user: User, password: str, purpose: str) -> None:
    """Check a user's password again (e-signatures). A wrong one counts toward lockout; raises 403."""
    now = timezone.now()
    address = _client_address()
    # The hasher runs whether or not the account is locked: the answer's timing says nothing about the lock.
    correct = user.check_password(password or "")
    if _locked(user, address, now):
        raise PermissionDenied("Account is locked after repeated failed attempts; try again later.")
    if not correct:
        with transaction.atomic():
            _register_failure(user, action_reason=f"wrong password for {purpose}", address=address)
        raise PermissionDenied("Signature rejected: wrong password.")
    _clear_failures(user, address)


def auth_credentials_check(*, username: str, password: str, channel: str = "api") -> User:
    """Check a username and password with lockout and audit; the one check behind every login form.

    Raises AuthenticationError (401) for an unknown user, a wrong password, a locked or a disabled account,
    all alike, and all after one run of the password hasher, so neither the answer nor its time tells which
    (no user-name or lockout oracle). Lockout is per (account, client address), plus an account-wide safeguard
    (see _register_failure). A success resets the failure counts; the caller opens whatever session it needs.
    """
    user = User.objects.filter(username=username).first()
    now = timezone.now()
    address = _client_address()
    suffix = "" if channel == "api" else f" ({channel})"
    if user is None:
        # Hash the attempt anyway (as Django's ModelBackend does), so an unknown name costs what a known one does.
        User().set_password(password or "")
        with transaction.atomic():
            audit_record(action="auth.login_failed", username=username[:150], reason="unknown user" + suffix)
        raise AuthenticationError()
    correct = user.check_password(password or "")
    if _locked(user, address, now):
        with transaction.atomic():
            audit_record(action="auth.login_failed", user=user, object_type="user", object_id=user.pk,
                         reason="account locked" + suffix)
        raise AuthenticationError()
    if not correct or not user.is_active:
        with transaction.atomic():
            if user.is_active:
                _register_failure(user, action_reason="wrong password" + suffix, address=address)
            else:
                audit_record(action="auth.login_failed", user=user, object_type="user", object_id=user.pk,
                             reason="account disabled" + suffix)
        raise AuthenticationError()
    _clear_failures(user, address, locked_until=None, last_login=now)
    return user


def auth_login(*, username: str, password: str) -> dict[str, Any]:
    """Check credentials and open a token session. Raises AuthenticationError (401) for any failure."""
    user = auth_credentials_check(username=username, password=password)
    with transaction.atomic():
        pair = tokens.issue_token_pair(user)
        audit_record(action="auth.login", user=user, object_type="user", object_id=user.pk,
                     new_value={"session": pair["sid"]})
    return {**pair, "user": user}


def auth_logout(*, principal) -> None:
    """Revoke the caller's session: its access and refresh tokens stop working at once."""
    with transaction.atomic():
        if principal.sid:
            tokens.revoke_session(sid=principal.sid, user_id=principal.id, reason="logout")
        audit_record(action="auth.logout", user=principal, object_type="user", object_id=principal.id,
                     old_value={"session": principal.sid} if principal.sid else {"api_key": principal.api_key_id})


def auth_refresh(*, refresh: str | None = None, access: str | None = None) -> dict[str, Any]:
    """A new access token from the session's refresh token, or (seed 000) from a live access token itself."""
    load = lambda uid: User.objects.filter(pk=uid).first()  # noqa: E731
    try:
        if refresh is not None:
            return tokens.refresh_access(refresh, load)
        return tokens.refresh_from_access(access, load)
    except tokens.TokenInvalid as exc:
        raise AuthenticationError(f"Invalid or expired {'refresh ' if refresh is not None else ''}token: {exc}")


def _user_snapshot(user: User) -> dict:
    return {"username": user.username, "role": user.role_name, "is_active": user.is_active, "email": user.email,
            "first_name": user.first_name, "last_name": user.last_name, "is_integration": user.is_integration}


def _validate_password(password: str, user: User | None = None) -> None:
    try:
        password_validation.validate_password(password, user)
    except ValidationError as exc:
        raise BadRequest("password: " + " ".join(exc.messages))


@transaction.atomic
def user_create(*, actor, username: str, password: str, role: int, email: str = "", first_name: str = "",
                last_name: str = "", is_integration: bool = False) -> User:
    """Create an account (Admin). 409 on a taken username (in any letter case); 400 on a weak password."""
    # "Olivia" next to "olivia" would be two accounts people cannot tell apart in the audit trail.
    if User.objects.filter(username__iexact=username).exists():
        raise Conflict(f"User '{username}' already exists")
    user = User(username=username, role=role, email=email, first_name=first_name, last_name=last_name,
                is_integration=is_integration)
    _validate_password(password, user)
    user.set_password(password)
    user.full_clean(validate_unique=False)
    try:
        # A savepoint, so a parallel create that won the race leaves this transaction usable for the 409.
        with transaction.atomic():
            user.save()
    except IntegrityError:
        raise Conflict(f"User '{username}' already exists")
    audit_record(action="user.create", user=actor, object_type="user", object_id=user.pk,
                 new_value=_user_snapshot(user))
    return user


@transaction.atomic
def user_update(*, actor, user: User, data: dict[str, Any]) -> User:
    """Change a user's role or settings (Admin). Nobody may change their own role or active flag."""
    old = _user_snapshot(user)
    if actor is not None and actor.id == user.pk:
        if "role" in data and int(data["role"]) != user.role:
            raise PermissionDenied("You cannot change your own role.")
        if "is_active" in data and bool(data["is_active"]) != user.is_active:
            raise PermissionDenied("You cannot enable or disable your own account.")
    password = data.pop("password", None)
    for field in ("role", "email", "first_name", "last_name", "is_active", "is_integration"):
        if field in data:
            setattr(user, field, data[field])
    if password:
        _validate_password(password, user)
        user.set_password(password)
    user.full_clean()
    user.save()
    new = _user_snapshot(user)
    if old["is_active"] != new["is_active"] or password:
        # A disabled account or a new password ends every session: recorded in this transaction, cached in Redis
        # now (a rollback merely costs a re-login) and again after commit (accounts.tokens).
        _revoke_everything(user)
    elif old["role"] != new["role"]:
        # Access tokens carry the role: old ones must not keep the old rights. Sessions go on: a refresh re-reads
        # the role, so the user gets a token with the new one without logging in again.
        _revoke_role(user)
    changes_new = {k: v for k, v in new.items() if old.get(k) != v}
    if password:
        changes_new["password"] = "(changed)"
    audit_record(action="user.update", user=actor, object_type="user", object_id=user.pk,
                 old_value={k: old[k] for k in changes_new if k in old}, new_value=changes_new)
    if user.is_active and user.locked_until is None and old["is_active"] is False:
        User.objects.filter(pk=user.pk).update(failed_login_count=0)
    return user


def _revoke_everything(user: User) -> None:
    tokens.revoke_user_tokens(user.pk)
    tokens.forget_api_keys(list(user.api_keys.values_list("key_hash", flat=True)))


def _revoke_role(user: User) -> None:
    tokens.revoke_user_access_tokens(user.pk)
    # Cached API keys carry the role too; dropping them makes the next request read the new one.
    tokens.forget_api_keys(list(user.api_keys.values_list("key_hash", flat=True)))


@transaction.atomic
def user_disable(*, actor, user: User) -> User:
    """Disable an account: the row and its history stay, its tokens and API keys stop working."""
    if actor is not None and actor.id == user.pk:
        raise PermissionDenied("You cannot disable your own account.")
    if not user.is_active:
        return user
    user.is_active = False
    user.save()
    audit_record(action="user.disable", user=actor, object_type="user", object_id=user.pk,
                 old_value={"is_active": True}, new_value={"is_active": False})
    _revoke_everything(user)
    return user


@transaction.atomic
def api_key_create(*, actor, user: User, name: str) -> tuple[ApiKey, str]:
    """Create an API key for a user (Admin). Returns the row and the key, which is never shown again."""
    if not user.is_active:
        raise BadRequest(f"User '{user.username}' is disabled")
    key, prefix, digest = tokens.new_api_key()
    api_key = ApiKey.objects.create(user=user, name=name, prefix=prefix, key_hash=digest,
                                    created_by_id=getattr(actor, "id", None))
    audit_record(action="apikey.create", user=actor, object_type="apikey", object_id=api_key.pk,
                 new_value={"user": user.username, "name": name, "prefix": prefix})
    return api_key, key


@transaction.atomic
def api_key_revoke(*, actor, api_key: ApiKey) -> ApiKey:
    """Revoke an API key (Admin): refused from now on, also after any loss of Redis (revoked_at decides)."""
    if api_key.revoked_at is not None:
        raise NotFound("API key is already revoked")
    api_key.revoked_at = timezone.now()
    api_key.save(update_fields=["revoked_at", "last_updated"])
    audit_record(action="apikey.revoke", user=actor, object_type="apikey", object_id=api_key.pk,
                 old_value={"user": api_key.user.username, "name": api_key.name, "prefix": api_key.prefix})
    # revoked_at above is what decides; the cached copy is dropped now and after commit.
    tokens.forget_api_keys([api_key.key_hash])
    return api_key


def role_from_input(value) -> int:
    """'supervisor' / 'Supervisor' / 20 → Role; BadRequest otherwise."""
    if isinstance(value, int) and value in Role.values:
        return value
    try:
        return int(Role.from_name(str(value)))
    except ValueError as exc:
        raise BadRequest(f"role: {exc}")
