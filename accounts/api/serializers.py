"""Input validation and output shapes for the accounts API. No writes here: services do those."""

from rest_framework import serializers

from accounts.models import ApiKey, AuditRecord, Signature, User
from scada.api.renderers import iso_utc
from scada.api.serializers import KilnModelSerializer, StrictInputSerializer, documented_field
from scada.roles import ROLE_NAMES, Role

__all__ = [
    "LoginInputSerializer",
    "RefreshInputSerializer",
    "UserSerializer",
    "UserCreateInputSerializer",
    "UserUpdateInputSerializer",
    "ApiKeySerializer",
    "ApiKeyCreateInputSerializer",
    "AuditRecordSerializer",
    "SignatureSerializer",
]


class RoleField(serializers.ChoiceField):
    """Roles travel by name ("operator" … "admin"), case-insensitive on input."""

    def __init__(self, **kwargs):
        super().__init__(choices=ROLE_NAMES, **kwargs)

    def to_internal_value(self, data):
        try:
            return int(Role.from_name(str(data)))
        except ValueError:
            self.fail("invalid_choice", input=data)

    def to_representation(self, value):
        return Role(value).label


class LoginInputSerializer(serializers.Serializer):
    username = serializers.CharField(max_length=150)
    password = serializers.CharField(max_length=4096, trim_whitespace=False)


class RefreshInputSerializer(serializers.Serializer):
    refresh = serializers.CharField(max_length=4096, required=False,
                                    help_text="The refresh token from login; or omit it and send the access token "
                                              "to renew as `Authorization: Bearer`.")


class UserSerializer(KilnModelSerializer):
    role = RoleField()
    # An account may have no email address: "" is answered, which `format: email` alone would not allow.
    email = documented_field(serializers.EmailField, {"oneOf": [{"type": "string", "format": "email"},
                                                                {"type": "string", "maxLength": 0}]}, read_only=True)
    locked = serializers.SerializerMethodField()

    class Meta:
        model = User
        fields = ["id", "username", "email", "first_name", "last_name", "role", "is_active", "is_integration",
                  "locked", "last_login", "date_joined"]
        read_only_fields = fields

    def get_locked(self, obj) -> bool:
        from django.utils import timezone

        return bool(obj.locked_until and obj.locked_until > timezone.now())


# AUTH_PASSWORD_VALIDATORS: at least 8 characters (the validator keeps its message), not a common password.
PASSWORD_SCHEMA = {"type": "string", "minLength": 8, "maxLength": 4096, "writeOnly": True,
                   "description": "At least 8 characters; common passwords are refused (400)."}


class UserCreateInputSerializer(StrictInputSerializer):
    username = serializers.RegexField(r"^[\w.@+-]{1,150}$", max_length=150)
    password = documented_field(serializers.CharField, PASSWORD_SCHEMA, max_length=4096, trim_whitespace=False)
    role = RoleField()
    email = serializers.EmailField(required=False, allow_blank=True, default="")
    first_name = serializers.CharField(required=False, allow_blank=True, default="", max_length=150)
    last_name = serializers.CharField(required=False, allow_blank=True, default="", max_length=150)
    is_integration = serializers.BooleanField(required=False, default=False)


class UserUpdateInputSerializer(StrictInputSerializer):
    """Fields an Admin may change. Unknown fields (id, username, is_superuser...) are rejected with 400."""

    role = RoleField(required=False)
    email = serializers.EmailField(required=False, allow_blank=True)
    first_name = serializers.CharField(required=False, allow_blank=True, max_length=150)
    last_name = serializers.CharField(required=False, allow_blank=True, max_length=150)
    is_active = serializers.BooleanField(required=False)
    is_integration = serializers.BooleanField(required=False)
    password = documented_field(serializers.CharField, PASSWORD_SCHEMA, required=False, max_length=4096,
                                trim_whitespace=False)


class ApiKeySerializer(KilnModelSerializer):
    username = serializers.CharField(source="user.username", read_only=True)
    revoked = serializers.SerializerMethodField()

    class Meta:
        model = ApiKey
        fields = ["id", "name", "prefix", "user", "username", "created", "revoked", "revoked_at"]
        read_only_fields = fields

    def get_revoked(self, obj) -> bool:
        return obj.revoked_at is not None


class ApiKeyCreateInputSerializer(StrictInputSerializer):
    user = serializers.PrimaryKeyRelatedField(queryset=User.objects.all())
    name = serializers.CharField(max_length=100)


class AuditRecordSerializer(KilnModelSerializer):
    ts = serializers.SerializerMethodField()

    class Meta:
        model = AuditRecord
        fields = ["id", "ts", "user_id", "username", "action", "object_type", "object_id", "old_value",
                  "new_value", "reason", "client_ip", "request_id", "prev_hash", "hash", "hash_alg"]
        read_only_fields = fields

    def get_ts(self, obj) -> str:
        return iso_utc(obj.ts)


class SignatureSerializer(KilnModelSerializer):
    """A Part 11 signature as the API shows it; `verified`: its stored content still hashes to content_hash."""

    signer = serializers.CharField(source="signer_username", read_only=True)
    signed_at = serializers.SerializerMethodField()
    verified = serializers.SerializerMethodField()

    class Meta:
        model = Signature
        fields = ["id", "signer", "printed_name", "meaning", "reason", "signed_at", "object_type", "object_id",
                  "content", "content_hash", "verified"]
        read_only_fields = fields

    def get_signed_at(self, obj) -> str:
        return iso_utc(obj.signed_at)

    def get_verified(self, obj) -> bool:
        from accounts.signatures import signature_verify

        return signature_verify(signature=obj)
