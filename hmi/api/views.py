"""Screens API: list (Operator+, `?tag=` answers "where used"), one screen, and the screen editor's writes
(Engineer+): create, update, delete, the version history and restore, and the editor's tag picker.

Views parse input and call hmi.services / hmi.selectors; the services sanitize, validate, version and audit.
"""

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import generics, status
from rest_framework.response import Response
from rest_framework.views import APIView

from hmi import selectors, services
from hmi.api.serializers import (
    ScreenDetailSerializer,
    ScreenInputSerializer,
    ScreenSaveResultSerializer,
    ScreenSerializer,
    ScreenUpdateInputSerializer,
    ScreenVersionSerializer,
    TagPickerPageSerializer,
)
from hmi.models import Screen, ScreenVersion
from scada.api.pagination import parse_limit_offset
from scada.api.schema import ErrorSerializer

_ERRORS = {400: ErrorSerializer, 404: ErrorSerializer}


def _saved(screen, removed, code=status.HTTP_200_OK) -> Response:
    return Response({**ScreenDetailSerializer(screen).data, "removed": removed}, status=code)


class ScreenListView(generics.ListAPIView):
    """GET /api/screens: every screen, in menu order, with the tags its bindings use; `?tag=NAME`: only the
    screens that use that tag (where used). POST /api/screens (Engineer+): a new screen from the editor."""

    serializer_class = ScreenSerializer
    json_nul_checked_by_view = True  # ScreenInputSerializer refuses NUL per field

    def get_queryset(self):
        tag = self.request.query_params.get("tag")
        if tag:
            return selectors.screens_using_tag(tag[:200])
        return selectors.screen_list()

    @extend_schema(parameters=[OpenApiParameter("tag", str, description="Only screens whose bindings use this tag")])
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    @extend_schema(request=ScreenInputSerializer, responses={201: ScreenSaveResultSerializer, 400: ErrorSerializer})
    def post(self, request):
        data = ScreenInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        fields = dict(data.validated_data)
        fields.pop("version", None)
        screen, removed = services.screen_save(actor=request.user, data=fields)
        return _saved(screen, removed, status.HTTP_201_CREATED)


class ScreenDetailView(APIView):
    """GET (Operator+) one screen with its drawing and bindings; PUT (Engineer+) save it; DELETE (Engineer+)."""

    json_nul_checked_by_view = True  # ScreenUpdateInputSerializer refuses NUL per field

    @extend_schema(responses={200: ScreenDetailSerializer, 404: ErrorSerializer})
    def get(self, request, slug):
        return Response(ScreenDetailSerializer(get_object_or_404(Screen, slug=slug)).data)

    @extend_schema(request=ScreenUpdateInputSerializer,
                   responses={200: ScreenSaveResultSerializer, 409: ErrorSerializer, **_ERRORS})
    def put(self, request, slug):
        screen = get_object_or_404(Screen, slug=slug)
        data = ScreenUpdateInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        fields = dict(data.validated_data)
        base_version = fields.pop("version", None)
        screen, removed = services.screen_save(actor=request.user, data=fields, screen=screen,
                                               base_version=base_version)
        return _saved(screen, removed)

    @extend_schema(responses={204: None, 404: ErrorSerializer})
    def delete(self, request, slug):
        services.screen_delete(actor=request.user, screen=get_object_or_404(Screen, slug=slug))
        return Response(status=status.HTTP_204_NO_CONTENT)


class ScreenVersionListView(generics.ListAPIView):
    """GET /api/screens/{slug}/versions (Engineer+): the screen's saved versions, newest first."""

    serializer_class = ScreenVersionSerializer

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # the schema generator has no slug (check --deploy warned)
            return ScreenVersion.objects.none()
        return selectors.screen_versions(get_object_or_404(Screen, slug=self.kwargs["slug"]))


class ScreenVersionRestoreView(APIView):
    """POST /api/screens/{slug}/versions/{number}/restore (Engineer+): save that version again as the newest."""

    @extend_schema(request=None, responses={200: ScreenDetailSerializer, **_ERRORS})
    def post(self, request, slug, number):
        screen = get_object_or_404(Screen, slug=slug)
        screen = services.screen_restore(actor=request.user, screen=screen, number=number)
        return Response(ScreenDetailSerializer(screen).data)


class TagPickerView(APIView):
    """GET /api/hmi/tag-picker (Engineer+): tags matching every word of `search` in name, member name,
    description, machine id or machine name; `machine` narrows to one machine. For the screen editor."""

    @extend_schema(parameters=[
        OpenApiParameter("search", str, description="Words, each matched in name, member, description or machine"),
        OpenApiParameter("machine", str, description="Only tags of this machine id"),
        OpenApiParameter("limit", {"type": "integer", "minimum": 1, "maximum": 200, "default": 50}),
        OpenApiParameter("offset", {"type": "integer", "minimum": 0, "default": 0}),
    ], responses={200: TagPickerPageSerializer, 400: ErrorSerializer})
    def get(self, request):
        params = request.query_params
        limit, offset = parse_limit_offset(params, default=50, maximum=200)
        page = selectors.tag_picker(search=(params.get("search") or "")[:200],
                                    machine=(params.get("machine") or "")[:64], limit=limit, offset=offset)
        return Response(page)
