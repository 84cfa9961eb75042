"""Accounts API: auth, users, API keys, audit trail, e-signatures. Views validate and call services; nothing more."""

from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts import services
from accounts.api.serializers import (
    ApiKeyCreateInputSerializer,
    ApiKeySerializer,
    AuditRecordSerializer,
    LoginInputSerializer,
    RefreshInputSerializer,
    SignatureSerializer,
    UserCreateInputSerializer,
    UserSerializer,
    UserUpdateInputSerializer,
)
from accounts.filtersets import AuditRecordFilterSet, SignatureFilterSet, UserFilterSet
from accounts.models import ApiKey, AuditRecord, Signature, User
from accounts.tokens import API_KEY_PREFIX
from scada.api.renderers import iso_utc
from scada.api.schema import ErrorSerializer
from scada.errors import BadRequest, KilnError

TokenResponse = inline_serializer(
    "TokenResponse",
    {
        "token": serializers.CharField(),
        "refresh": serializers.CharField(),
        "expires_at": serializers.CharField(),
        "user": UserSerializer(),
    },
)


class Unauthorized(KilnError):
    status_code = 401


class LoginView(APIView):
    """POST /api/auth/login: username + password → JWT (`token`), `refresh`, `expires_at`, `user`."""

    authentication_classes: list = []
    rate_scope = "login"

    @extend_schema(request=LoginInputSerializer, responses={200: TokenResponse, 401: ErrorSerializer}, auth=[])
    def post(self, request):
        data = LoginInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        try:
            result = services.auth_login(**data.validated_data)
        except services.AuthenticationError as exc:
            raise Unauthorized(exc.detail)
        return Response(
            {
                "token": result["token"],
                "refresh": result["refresh"],
                "expires_at": iso_utc(result["expires_at"]),
                "user": UserSerializer(result["user"]).data,
            }
        )


class RefreshView(APIView):
    """POST /api/auth/refresh: a live refresh token, or a live access token as Bearer → a new access token.

    The role is re-read either way, and the new token never outlives the login session.
    """

    authentication_classes: list = []
    rate_scope = "login"

    @extend_schema(
        request=RefreshInputSerializer,
        responses={200: inline_serializer("RefreshResponse", {"token": serializers.CharField(),
                                                             "expires_at": serializers.CharField()}),
                   401: ErrorSerializer},
        auth=[],
    )
    def post(self, request):
        data = RefreshInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        refresh = data.validated_data.get("refresh")
        access = None
        if refresh is None:
            # Seed 000: "Refresh expiring token" with the token itself as the credential.
            header = request.headers.get("Authorization", "").split()
            if len(header) != 2 or header[0].lower() != "bearer":
                raise BadRequest("Send the refresh token as {\"refresh\": ...}, or the access token to renew as "
                                 "Authorization: Bearer <token>.")
            if header[1].startswith(API_KEY_PREFIX):
                raise BadRequest("API keys do not expire: there is nothing to refresh.")
            access = header[1]
        try:
            result = services.auth_refresh(refresh=refresh, access=access)
        except services.AuthenticationError as exc:
            raise Unauthorized(exc.detail)
        return Response({"token": result["token"], "expires_at": iso_utc(result["expires_at"])})


class LogoutView(APIView):
    """POST /api/auth/logout: revokes the token in use (access and refresh) at once."""

    @extend_schema(request=None, responses={200: inline_serializer("LogoutResponse",
                                                                   {"detail": serializers.CharField()})})
    def post(self, request):
        services.auth_logout(principal=request.user)
        return Response({"detail": "Logged out."})


class MeView(APIView):
    """GET /api/users/me: the caller's own profile."""

    @extend_schema(responses=UserSerializer)
    def get(self, request):
        user = User.objects.get(pk=request.user.id)
        return Response(UserSerializer(user).data)


class UserViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Users (Admin). DELETE disables the account; the row and its history stay."""

    queryset = User.objects.order_by("id")
    serializer_class = UserSerializer
    filterset_class = UserFilterSet

    @extend_schema(request=UserCreateInputSerializer, responses={201: UserSerializer, 409: ErrorSerializer})
    def create(self, request):
        data = UserCreateInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        user = services.user_create(actor=request.user, **data.validated_data)
        return Response(UserSerializer(user).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=UserUpdateInputSerializer, responses=UserSerializer)
    def update(self, request, pk=None, partial=False):
        user = self.get_object()
        data = UserUpdateInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        user = services.user_update(actor=request.user, user=user, data=dict(data.validated_data))
        return Response(UserSerializer(user).data)

    def partial_update(self, request, pk=None):
        return self.update(request, pk, partial=True)

    @extend_schema(responses=UserSerializer)
    def destroy(self, request, pk=None):
        user = services.user_disable(actor=request.user, user=self.get_object())
        return Response(UserSerializer(user).data)


class ApiKeyViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """API keys for integration accounts (Admin). The key itself is in the create response only."""

    queryset = ApiKey.objects.select_related("user").order_by("-id")
    serializer_class = ApiKeySerializer
    filterset_fields = ["user"]

    @extend_schema(
        request=ApiKeyCreateInputSerializer,
        responses={201: inline_serializer("ApiKeyCreated", {"key": serializers.CharField(),
                                                           "api_key": ApiKeySerializer()})},
    )
    def create(self, request):
        data = ApiKeyCreateInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        api_key, key = services.api_key_create(actor=request.user, **data.validated_data)
        return Response({"key": key, "api_key": ApiKeySerializer(api_key).data}, status=status.HTTP_201_CREATED)

    @extend_schema(responses=ApiKeySerializer)
    def destroy(self, request, pk=None):
        api_key = services.api_key_revoke(actor=request.user, api_key=self.get_object())
        return Response(ApiKeySerializer(api_key).data)


class AuditRecordViewSet(viewsets.ReadOnlyModelViewSet):
    """The audit trail (Admin): filters user, action, object_type, object_id, start, end."""

    queryset = AuditRecord.objects.order_by("-id")
    serializer_class = AuditRecordSerializer
    filterset_class = AuditRecordFilterSet


class SignatureViewSet(viewsets.ReadOnlyModelViewSet):
    """E-signatures (Supervisor+), newest first: filters object_type, object_id, signer, meaning, start, end."""

    queryset = Signature.objects.order_by("-signed_at", "-id")
    serializer_class = SignatureSerializer
    filterset_class = SignatureFilterSet
