"""Alarm API (seed 000 ALARM ENDPOINTS, seed 004 device alarms). Views validate input and call services."""

from __future__ import annotations

import csv
import io

from django.http import Http404, StreamingHttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import mixins, serializers, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.renderers import BaseRenderer
from rest_framework.response import Response
from rest_framework.views import APIView

from alarms import selectors, services
from alarms.api.serializers import (
    AlarmAckInputSerializer,
    AlarmEventSerializer,
    AlarmKpiQuerySerializer,
    AlarmReasonInputSerializer,
    AlarmRequiredReasonInputSerializer,
    AlarmSerializer,
    AlarmShelveInputSerializer,
    DeviceAlarmAckInputSerializer,
    DeviceAlarmAckSerializer,
    DeviceAlarmSerializer,
)
from alarms.choices import AlarmEventType, AlarmPriority, AlarmState
from alarms.filtersets import AlarmEventFilterSet, AlarmFilterSet
from devices.api.views import device_exception_handler
from devices.selectors import device_get
from scada.api.pagination import parse_limit_offset
from scada.api.renderers import KilnJSONRenderer, iso_utc
from scada.api.schema import ErrorSerializer
from scada.csv_safe import csv_safe_cell
from tags.display import value_shown
from tags.filtersets import parse_bool

__all__ = ["AlarmViewSet", "DeviceAlarmListView", "DeviceAlarmAcknowledgeView", "AlarmCSVRenderer"]

CSV_MAX_ROWS = 100_000
CSV_COLUMNS = ["ts", "event", "state_before", "state", "active", "acknowledged", "key", "tag", "machine",
               "priority", "category", "value", "quality", "message", "user", "reason", "alarm_id", "id",
               "name"]  # appended, so the columns consumers index by position keep their place


class AlarmCSVRenderer(BaseRenderer):
    """text/csv for the journal export (?format=csv or Accept: text/csv); errors render as a one-cell CSV."""

    media_type = "text/csv"
    format = "csv"
    charset = "utf-8"

    def render(self, data, accepted_media_type=None, renderer_context=None):
        out = io.StringIO()
        csv.writer(out).writerow(["detail"])
        csv.writer(out).writerow([csv_safe_cell((data or {}).get("detail", "") if isinstance(data, dict) else data)])
        return out.getvalue().encode()


def _csv_stream(queryset, decimals: dict | None = None):
    """The journal as CSV; with `decimals` ({tag: display decimals}, ?formatted=true) numbers as the HMI shows them."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(CSV_COLUMNS)
    yield buffer.getvalue()
    for event in queryset[:CSV_MAX_ROWS].iterator(chunk_size=2000):
        buffer.seek(0)
        buffer.truncate()
        row = selectors.alarm_event_dict(event)
        if decimals is not None and isinstance(row["value"], int | float) and not isinstance(row["value"], bool):
            row["value"] = value_shown(row["value"], decimals.get(row["tag"]))
        writer.writerow([csv_safe_cell(row[c]) for c in CSV_COLUMNS])
        yield buffer.getvalue()


ErrorBody = inline_serializer("DeviceAlarmError", {"error": inline_serializer("DeviceAlarmErrorDetail", {
    "code": serializers.CharField(), "message": serializers.CharField(),
    "details": serializers.ListField(child=serializers.DictField())})})
# 400/401/403/404/429 come from scada.api.schema.KilnAutoSchema; a state change may also conflict.
_errors = {409: ErrorSerializer}


class AlarmViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Alarms: the annunciated list and one alarm (Operator+); acknowledge (Operator+); shelve and unshelve
    (Supervisor+); out of service and back (Engineer+); the journal and the ISA-18.2 KPIs (Operator+)."""

    serializer_class = AlarmSerializer
    filterset_class = AlarmFilterSet
    lookup_value_regex = r"\d+"

    def get_queryset(self):
        return selectors.alarm_active_queryset()

    def filter_queryset(self, queryset):
        # The list filters (default: annunciated only) must not hide an alarm from its own detail and actions.
        return super().filter_queryset(queryset) if self.action == "list" else queryset

    def get_object(self):
        try:
            return super().get_object()
        except Http404:
            # Seed 000: 404 when the alarm does not exist; say which, as the tag routes do.
            raise NotFound(f"Alarm {self.kwargs[self.lookup_field]} not found")

    @extend_schema(
        summary="List active alarms",
        parameters=[OpenApiParameter("state", OpenApiTypes.STR, many=True, enum=AlarmState.values,
                                     description="Default: active_unacked, active_acked, rtn_unacked.")],
    )
    def list(self, request, *args, **kwargs):
        return super().list(request, *args, **kwargs)

    @extend_schema(request=AlarmAckInputSerializer, responses={200: AlarmSerializer, **_errors},
                   summary="Acknowledge an alarm (with a reason code where its definition asks for one)")
    @action(detail=True, methods=["post"], url_path="ack", url_name="ack")
    def ack(self, request, pk=None):
        alarm = self.get_object()
        data = AlarmAckInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        alarm = services.alarm_acknowledge(alarm=alarm, user=request.user, **data.validated_data)
        return Response(selectors.alarm_summary(alarm))

    @extend_schema(request=AlarmShelveInputSerializer, responses={200: AlarmSerializer, **_errors},
                   summary="Shelve an alarm for a duration (seconds), with a reason where its definition asks for one")
    @action(detail=True, methods=["post"])
    def shelve(self, request, pk=None):
        alarm = self.get_object()
        data = AlarmShelveInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        alarm = services.alarm_shelve(alarm=alarm, user=request.user, duration_seconds=data.validated_data["duration"],
                                      reason=data.validated_data["reason"])
        return Response(selectors.alarm_summary(alarm))

    @extend_schema(request=AlarmReasonInputSerializer, responses={200: AlarmSerializer, **_errors},
                   summary="Unshelve an alarm")
    @action(detail=True, methods=["post"])
    def unshelve(self, request, pk=None):
        alarm = self.get_object()
        data = AlarmReasonInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        alarm = services.alarm_unshelve(alarm=alarm, user=request.user, reason=data.validated_data["reason"])
        return Response(selectors.alarm_summary(alarm))

    @extend_schema(request=AlarmRequiredReasonInputSerializer, responses={200: AlarmSerializer, **_errors},
                   summary="Take an alarm out of service")
    @action(detail=True, methods=["post"], url_path="out-of-service", url_name="out-of-service")
    def out_of_service(self, request, pk=None):
        alarm = self.get_object()
        data = AlarmRequiredReasonInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        alarm = services.alarm_remove_from_service(alarm=alarm, user=request.user, reason=data.validated_data["reason"])
        return Response(selectors.alarm_summary(alarm))

    @extend_schema(request=AlarmReasonInputSerializer, responses={200: AlarmSerializer, **_errors},
                   summary="Return an alarm to service")
    @action(detail=True, methods=["post"], url_path="return-to-service", url_name="return-to-service")
    def return_to_service(self, request, pk=None):
        alarm = self.get_object()
        data = AlarmReasonInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        alarm = services.alarm_return_to_service(alarm=alarm, user=request.user, reason=data.validated_data["reason"])
        return Response(selectors.alarm_summary(alarm))

    @extend_schema(
        summary="Alarm journal (paginated; ?format=csv exports every matching row)",
        parameters=[
            OpenApiParameter("date", OpenApiTypes.DATE, description="One UTC day, YYYY-MM-DD"),
            OpenApiParameter("start", OpenApiTypes.DATETIME), OpenApiParameter("end", OpenApiTypes.DATETIME),
            *(OpenApiParameter(name, OpenApiTypes.STR) for name in ("user", "tag", "machine", "key")),
            OpenApiParameter("alarm", OpenApiTypes.INT),
            OpenApiParameter("priority", OpenApiTypes.STR, many=True, enum=AlarmPriority.values),
            OpenApiParameter("state", OpenApiTypes.STR, many=True, enum=AlarmState.values),
            OpenApiParameter("event", OpenApiTypes.STR, many=True, enum=AlarmEventType.values),
            OpenApiParameter("formatted", OpenApiTypes.BOOL,
                             description="values as the HMI shows them (the tag's display decimals): JSON adds "
                                         "value_text (value stays whole), CSV writes value with them"),
        ],
        responses={200: AlarmEventSerializer(many=True)},
    )
    @action(detail=False, methods=["get"], renderer_classes=[KilnJSONRenderer, AlarmCSVRenderer],
            filterset_class=None)
    def history(self, request):
        params = request.query_params.copy()
        params.pop("format", None)
        params.pop("formatted", None)
        formatted = parse_bool("formatted", request.query_params.get("formatted"), False)
        decimals = selectors.alarm_tag_decimals() if formatted else None
        filterset = AlarmEventFilterSet(params, queryset=selectors.alarm_event_queryset())
        if not filterset.is_valid():
            raise ValidationError(filterset.errors)
        queryset = filterset.qs
        if request.accepted_renderer.format == "csv":
            # The export ignores paging, but a bad limit or offset is refused as on the JSON path, not ignored.
            parse_limit_offset(request.query_params)
            response = StreamingHttpResponse(_csv_stream(queryset, decimals), content_type="text/csv; charset=utf-8")
            response["Content-Disposition"] = 'attachment; filename="alarm-journal.csv"'
            return response
        page = self.paginate_queryset(queryset)
        rows = [selectors.alarm_event_dict(e) for e in page]
        if decimals is not None:
            for row in rows:
                row["value_text"] = value_shown(row["value"], decimals.get(row["tag"]))
        return self.get_paginated_response(rows)

    @extend_schema(
        summary="ISA-18.2 alarm KPIs for a window (default: the last 24 hours)",
        parameters=[AlarmKpiQuerySerializer],
        responses={200: OpenApiTypes.OBJECT},
    )
    @action(detail=False, methods=["get"], filterset_class=None)
    def kpis(self, request):
        data = AlarmKpiQuerySerializer(data=request.query_params)
        data.is_valid(raise_exception=True)
        return Response(selectors.alarm_kpis(**data.validated_data))


class _DeviceAPIView(APIView):
    """Seed 004's error shape, {"error": {"code", "message", "details"}}, as the rest of the device API."""

    def get_exception_handler(self):
        return device_exception_handler


class DeviceAlarmListView(_DeviceAPIView):
    """GET /api/sites/{siteId}/devices/{deviceId}/alarms: the device's annunciated alarms (seed 004)."""

    @extend_schema(responses={200: inline_serializer("DeviceAlarmList", {"data": DeviceAlarmSerializer(many=True)}),
                              401: ErrorBody, 403: ErrorBody, 404: ErrorBody})
    def get(self, request, site_id: str, device_id: str):
        machine = device_get(site_id=site_id, device_id=device_id)
        return Response({"data": selectors.device_alarms(machine)})


class DeviceAlarmAcknowledgeView(_DeviceAPIView):
    """POST /api/sites/{siteId}/devices/{deviceId}/alarms/{alarmId}/acknowledge (Operator+, seed 004)."""

    @extend_schema(request=DeviceAlarmAckInputSerializer,
                   responses={200: DeviceAlarmAckSerializer, 400: ErrorBody, 401: ErrorBody, 403: ErrorBody,
                              404: ErrorBody, 409: ErrorBody})
    def post(self, request, site_id: str, device_id: str, alarm_id: str):
        machine = device_get(site_id=site_id, device_id=device_id)
        alarm = selectors.device_alarm_get(machine=machine, key=alarm_id)
        data = DeviceAlarmAckInputSerializer(data=request.data if isinstance(request.data, dict) else {})
        data.is_valid(raise_exception=True)
        alarm = services.alarm_acknowledge(alarm=alarm, user=request.user, **data.validated_data)
        return Response({"id": alarm.definition.key, "acknowledged": True, "acknowledgedBy": alarm.acked_by,
                         "acknowledgedAt": iso_utc(alarm.acked_at)})

