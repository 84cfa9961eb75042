"""Users with a plant role, API keys for integrations, the append-only audit trail and Part 11 e-signatures."""

from django.contrib.auth.models import AbstractUser
from django.db import models

from scada.models import BaseModel
from scada.roles import Role

__all__ = ["User", "ApiKey", "AuditRecord", "AuditCheckpoint", "RevokedSession", "LoginLockout", "Signature"]

# Django-admin apps an Engineer may configure; users, keys and the audit trail are the Admin's.
ENGINEER_ADMIN_APPS = {"tags", "drivers", "historian", "alarms", "batches", "reports", "screens", "hmi"}


class User(AbstractUser):
    """A person or an integration account. `role` orders what it may do: Operator < Supervisor < Engineer < Admin.

    Disabling (is_active=False) keeps the row and its history; its tokens stop working at once.
    """

    role = models.PositiveSmallIntegerField(choices=Role.choices, default=Role.OPERATOR)
    failed_login_count = models.PositiveIntegerField(default=0)
    locked_until = models.DateTimeField(null=True, blank=True)
    is_integration = models.BooleanField(
        default=False, help_text="An account used by an external system (ERP, LIMS, MES) through API keys."
    )
    # Revocation's source of truth (Redis only caches it, accounts/tokens.py): every token issued up to
    # tokens_valid_after is dead (disable, password change); every access token issued up to access_valid_after
    # is dead while refresh tokens live on (role change: a refresh hands out the new role).
    tokens_valid_after = models.DateTimeField(null=True, blank=True, editable=False)
    access_valid_after = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        ordering = ["username"]
        verbose_name = "user"

    def save(self, *args, **kwargs):
        # Cache the role's consequence for Django admin: Engineers and Admins may log in there.
        self.is_staff = self.role >= Role.ENGINEER and self.is_active
        self.is_superuser = False
        super().save(*args, **kwargs)

    @property
    def role_name(self) -> str:
        return Role(self.role).label

    def has_role(self, role: int) -> bool:
        return self.is_active and self.role >= role

    # Django admin permissions follow the role, not per-user grants.
    def has_perm(self, perm, obj=None):
        if not (self.is_active and self.is_staff):
            return False
        app_label, _, codename = perm.partition(".")
        if app_label == "accounts" and codename.endswith("auditrecord"):
            return self.role >= Role.ADMIN and codename.startswith("view_")
        if self.role >= Role.ADMIN:
            return True
        return app_label in ENGINEER_ADMIN_APPS

    def has_perms(self, perm_list, obj=None):
        return all(self.has_perm(p, obj) for p in perm_list)

    def has_module_perms(self, app_label):
        if not (self.is_active and self.is_staff):
            return False
        return self.role >= Role.ADMIN or app_label in ENGINEER_ADMIN_APPS


class ApiKey(BaseModel):
    """A long-lived credential for an integration account, used as `Authorization: Bearer <key>`.

    Only a SHA-256 of the key is stored; the key itself is shown once, when it is created. The prefix lets
    people tell keys apart in lists without revealing them.
    """

    user = models.ForeignKey(to="accounts.User", on_delete=models.PROTECT, related_name="api_keys")
    name = models.CharField(max_length=100)
    prefix = models.CharField(max_length=16, db_index=True)
    key_hash = models.CharField(max_length=64, unique=True)
    created_by = models.ForeignKey(
        to="accounts.User", on_delete=models.PROTECT, related_name="+", null=True, blank=True
    )
    revoked_at = models.DateTimeField(null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created"]
        verbose_name = "API key"

    def __str__(self):
        return f"{self.name} ({self.prefix}…)"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None


class AuditRecord(models.Model):
    """One entry of the append-only audit trail (who, what, when, old value, new value, reason).

    Each record carries the hash of the one before it, so any edit or deletion breaks the chain
    (`manage.py audit_verify`); on PostgreSQL a trigger refuses UPDATE, DELETE and TRUNCATE outright. The hash
    is an HMAC keyed with KILN_AUDIT_KEY, so someone with write access to the database but not the key cannot
    forge a consistent chain.
    `user_id` is a plain integer, not a foreign key, so the trail never depends on the users table.
    `seq` numbers the chain without gaps (assigned under the chain's lock), so a deleted record leaves a hole;
    deleting the newest records is caught by signed checkpoints (AuditCheckpoint, and copies kept elsewhere).
    """

    seq = models.BigIntegerField(unique=True)
    ts = models.DateTimeField(db_index=True)
    user_id = models.BigIntegerField(null=True, blank=True, db_index=True)
    username = models.CharField(max_length=150, blank=True)
    action = models.CharField(max_length=64, db_index=True)
    object_type = models.CharField(max_length=64, blank=True, db_index=True)
    object_id = models.CharField(max_length=255, blank=True, db_index=True)
    old_value = models.JSONField(null=True, blank=True)
    new_value = models.JSONField(null=True, blank=True)
    reason = models.TextField(blank=True)
    client_ip = models.CharField(max_length=45, blank=True)
    request_id = models.CharField(max_length=64, blank=True)
    prev_hash = models.CharField(max_length=64)
    hash = models.CharField(max_length=64, unique=True)
    # How `hash` was computed (docs/audit.md): "hmac-sha256-v2" keyed with KILN_AUDIT_KEY over the canonical
    # record including seq (every record written now), "hmac-sha256" (keyed, before seq came in), or "sha256" for
    # records written before keyed hashing, which anyone could recompute and which need a keyed legacy seal.
    hash_alg = models.CharField(max_length=16, default="hmac-sha256-v2")

    class Meta:
        ordering = ["-id"]
        verbose_name = "audit record"

    def __str__(self):
        who = self.username or "-"
        return f"#{self.pk} {self.ts:%Y-%m-%d %H:%M:%S} {who} {self.action} {self.object_type}:{self.object_id}"


class AuditCheckpoint(models.Model):
    """A signed note of the audit chain's head: its seq and hash at `created`, HMAC-signed with KILN_AUDIT_KEY.

    Written by `manage.py audit_checkpoint` and a periodic task; a copy kept outside the database (the file the
    command exports) lets `audit_verify --checkpoint` notice the newest records being deleted, which the chain
    itself cannot show. Append-only at the database, like the trail.
    """

    created = models.DateTimeField()
    seq = models.BigIntegerField(db_index=True)
    head_hash = models.CharField(max_length=64)
    signature = models.CharField(max_length=64)

    class Meta:
        ordering = ["-seq", "-id"]
        verbose_name = "audit checkpoint"

    def __str__(self):
        return f"checkpoint seq {self.seq} at {self.created:%Y-%m-%d %H:%M:%S}"


class RevokedSession(models.Model):
    """A login session that was ended (logout): its access and refresh tokens carry `sid` and are refused.

    The database is the source of truth; Redis holds a copy for the no-SQL hot path and is refilled from here
    whenever it lost its data. Rows older than the refresh token lifetime are pruned: their tokens expired anyway.
    """

    sid = models.CharField(max_length=64, primary_key=True)
    user = models.ForeignKey(to="accounts.User", on_delete=models.CASCADE, related_name="revoked_sessions")
    revoked_at = models.DateTimeField(db_index=True)
    reason = models.CharField(max_length=64, blank=True)

    class Meta:
        ordering = ["-revoked_at"]
        verbose_name = "revoked session"

    def __str__(self):
        return f"{self.sid} ({self.reason or 'revoked'} {self.revoked_at:%Y-%m-%d %H:%M:%S})"


class LoginLockout(models.Model):
    """Failed password attempts on one account from one client address, and that address's lockout.

    Part 11 lockout per (account, address): someone guessing from one address locks the account for that address
    only, so the owner can still log in from theirs. User.failed_login_count/locked_until stay as the account-wide
    safeguard against guessing from many addresses (KILN_LOGIN_MAX_FAILURES_ACCOUNT).
    """

    user = models.ForeignKey(to="accounts.User", on_delete=models.CASCADE, related_name="login_lockouts")
    address = models.CharField(max_length=45)
    failed_count = models.PositiveIntegerField(default=0)
    locked_until = models.DateTimeField(null=True, blank=True)
    last_failure = models.DateTimeField()

    class Meta:
        ordering = ["user", "address"]
        verbose_name = "login lockout"
        constraints = [models.UniqueConstraint(fields=["user", "address"], name="accounts_loginlockout_user_address")]

    def __str__(self):
        return f"{self.user_id}@{self.address}: {self.failed_count} failures"


class Signature(models.Model):
    """One electronic signature (21 CFR Part 11): who signed what, meaning what, why and when. Never edited or deleted.

    §11.50: the signer's printed name (full name at signing time), the time and the meaning ("Approved",
    "Reviewed", "Performed") are kept with it. §11.70: `content` is what was signed, in canonical JSON, and
    `content_hash` its SHA-256, so the signature cannot be lifted onto another record (accounts.signatures
    .signature_verify recomputes it). Written only by accounts.signatures, each with a `signature.sign` audit
    record naming its id; on PostgreSQL a trigger refuses UPDATE, DELETE and TRUNCATE, as for the audit trail.
    """

    signer = models.ForeignKey(to="accounts.User", on_delete=models.PROTECT, related_name="signatures")
    signer_username = models.CharField(max_length=150)
    printed_name = models.CharField(max_length=300)
    meaning = models.CharField(max_length=200)
    reason = models.TextField()
    signed_at = models.DateTimeField(db_index=True)
    object_type = models.CharField(max_length=64)
    object_id = models.CharField(max_length=255)
    content = models.JSONField()
    content_hash = models.CharField(max_length=64)

    class Meta:
        ordering = ["-signed_at", "-id"]
        verbose_name = "signature"
        indexes = [models.Index(fields=["object_type", "object_id"], name="accounts_sig_object")]
        constraints = [
            models.CheckConstraint(condition=~models.Q(meaning=""), name="accounts_signature_meaning_set"),
            models.CheckConstraint(condition=~models.Q(reason=""), name="accounts_signature_reason_set"),
        ]

    def __str__(self):
        return f"{self.printed_name} ({self.signer_username}) {self.meaning} {self.object_type}:{self.object_id}"
