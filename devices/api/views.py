"""Seed 004 device API: sites' device instances, their tags, tag writes and operator commands.

Views validate the input and call devices.selectors / devices.services; nothing more. Errors keep seed
004's shape, {"error": {"code", "message", "details"}} (design.md), with the seeds' status codes.
"""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from devices import selectors, services
from scada.api.errors import exception_handler as kiln_exception_handler
from scada.api.renderers import iso_utc
from scada.api.serializers import StrictInputSerializer
from tags.live import live_get_many

__all__ = [
    "DeviceListView",
    "DeviceDetailView",
    "DeviceTagListView",
    "DeviceTagDetailView",
    "DeviceCommandView",
    "DeviceTagWriteInputSerializer",
    "DeviceCommandInputSerializer",
    "device_exception_handler",
]

ERROR_CODES = {
    400: "BAD_REQUEST",
    401: "UNAUTHORIZED",
    403: "FORBIDDEN",
    404: "NOT_FOUND",
    405: "METHOD_NOT_ALLOWED",
    406: "NOT_ACCEPTABLE",
    409: "CONFLICT",
    413: "PAYLOAD_TOO_LARGE",
    415: "UNSUPPORTED_MEDIA_TYPE",
    422: "UNPROCESSABLE",
    429: "RATE_LIMITED",
    500: "INTERNAL_ERROR",
    502: "DEVICE_WRITE_FAILED",
    503: "SERVICE_UNAVAILABLE",
}


def _field_details(errors, prefix: str = "") -> list[dict]:
    """DRF's {"field": ["message"]} → [{"field": "field", "message": "message"}, ...]."""
    if isinstance(errors, dict):
        out = []
        for key, value in errors.items():
            name = "" if key == "non_field_errors" else str(key)
            out += _field_details(value, f"{prefix}.{name}" if prefix and name else (prefix or name))
        return out
    if isinstance(errors, list):
        return [d for item in errors for d in _field_details(item, prefix)]
    return [{"field": prefix, "message": str(errors)} if prefix else {"message": str(errors)}]


def device_exception_handler(exc, context):
    """The API's one exception handler, its {"detail"} body reshaped into seed 004's {"error": {...}}."""
    response = kiln_exception_handler(exc, context)
    if response is None:
        return None
    data = response.data if isinstance(response.data, dict) else {}
    details = data.get("details")
    if details is None:
        details = _field_details(data["errors"]) if "errors" in data else []
    response.data = {
        "error": {
            "code": getattr(exc, "error_code", None) or ERROR_CODES.get(response.status_code, "ERROR"),
            "message": str(data.get("detail") or response.status_text),
            "details": details,
        }
    }
    return response


# --- serializers (input validation, and the response shapes for the schema) ---------------------------------

class DeviceTagWriteInputSerializer(StrictInputSerializer):
    value = serializers.JSONField()
    signature = serializers.DictField(required=False, allow_null=True)
    reason = serializers.CharField(required=False, allow_blank=True, max_length=1000, default="")


class DeviceCommandInputSerializer(serializers.Serializer):
    parameters = serializers.JSONField(required=False, default=dict)
    signature = serializers.DictField(required=False, allow_null=True)
    reason = serializers.CharField(required=False, allow_blank=True, max_length=1000, default="")


# Response shapes, for the OpenAPI schema only: the selectors build the response dicts themselves (the hot path).

class DeviceSummarySerializer(serializers.Serializer):
    id = serializers.CharField()
    name = serializers.CharField()
    typeId = serializers.CharField(allow_null=True)  # noqa: N815 - seed 004's JSON names
    typeVersion = serializers.CharField(allow_null=True)  # noqa: N815
    location = serializers.CharField()
    processId = serializers.CharField()  # noqa: N815
    status = serializers.ChoiceField(choices=["running", "stopped", "faulted", "unknown"])


class DeviceListSerializer(serializers.Serializer):
    data = DeviceSummarySerializer(many=True)


class DeviceCommandInfoSerializer(serializers.Serializer):
    id = serializers.CharField()
    name = serializers.CharField()
    description = serializers.CharField()
    minRole = serializers.CharField()  # noqa: N815
    parameters = serializers.DictField(help_text="By parameter name: type, min, max, choices, required, unit")
    preconditions = serializers.ListField(child=serializers.DictField(), help_text="condition and reason")


class DeviceDetailSerializer(DeviceSummarySerializer):
    tags = serializers.DictField(child=serializers.DictField(), help_text="By member name: value, unit, timestamp")
    activeAlarms = serializers.ListField(child=serializers.DictField())  # noqa: N815
    commands = DeviceCommandInfoSerializer(many=True, help_text="The commands of the device's type")


class DeviceTagValueSerializer(serializers.Serializer):
    name = serializers.CharField()
    value = serializers.JSONField(allow_null=True)
    dataType = serializers.CharField()  # noqa: N815
    unit = serializers.CharField()
    timestamp = serializers.CharField(allow_null=True)
    quality = serializers.CharField(allow_null=True)


class DeviceTagListSerializer(serializers.Serializer):
    data = DeviceTagValueSerializer(many=True)


class DeviceTagWriteResultSerializer(serializers.Serializer):
    name = serializers.CharField()
    value = serializers.JSONField()
    previousValue = serializers.JSONField(allow_null=True)  # noqa: N815
    timestamp = serializers.CharField()


class DeviceCommandResultSerializer(serializers.Serializer):
    commandId = serializers.CharField()  # noqa: N815
    deviceId = serializers.CharField()  # noqa: N815
    status = serializers.CharField()
    executedBy = serializers.CharField()  # noqa: N815
    executedAt = serializers.CharField()  # noqa: N815
    auditId = serializers.CharField()  # noqa: N815


class DeviceErrorDetailSerializer(serializers.Serializer):
    code = serializers.CharField()
    message = serializers.CharField()
    details = serializers.ListField(child=serializers.DictField())


class DeviceErrorSerializer(serializers.Serializer):
    error = DeviceErrorDetailSerializer()


_errors = {status: DeviceErrorSerializer for status in (400, 401, 403, 404)}
_write_errors = {**_errors, **{status: DeviceErrorSerializer for status in (409, 422)}}


class DeviceAPIView(APIView):
    """Base of the device views: seed 004's error shape."""

    schema_error_serializer = DeviceErrorSerializer  # the shared error responses in the schema (scada.api.schema)

    def get_exception_handler(self):
        return device_exception_handler


class DeviceListView(DeviceAPIView):
    """GET /api/sites/{siteId}/devices: every device instance of the site with its live status."""

    @extend_schema(operation_id="devices_list", tags=["devices"], responses={200: DeviceListSerializer, **_errors})
    def get(self, request, site_id: str):
        site = selectors.site_get(site_id=site_id)
        return Response({"data": selectors.device_list(site=site)})


class DeviceDetailView(DeviceAPIView):
    """GET /api/sites/{siteId}/devices/{deviceId}: the device, its tags by member name, its active alarms."""

    @extend_schema(operation_id="device_retrieve", tags=["devices"], responses={200: DeviceDetailSerializer, **_errors})
    def get(self, request, site_id: str, device_id: str):
        machine = selectors.device_get(site_id=site_id, device_id=device_id)
        return Response(selectors.device_detail(machine=machine, active_alarms=services.device_active_alarms(machine)))


class DeviceTagListView(DeviceAPIView):
    """GET /api/sites/{siteId}/devices/{deviceId}/tags: current values of every tag of the device."""

    @extend_schema(operation_id="device_tags_list", tags=["devices"],
                   responses={200: DeviceTagListSerializer, **_errors})
    def get(self, request, site_id: str, device_id: str):
        machine = selectors.device_get(site_id=site_id, device_id=device_id)
        return Response({"data": selectors.device_tags(machine=machine)})


class DeviceTagDetailView(DeviceAPIView):
    """GET/PUT /api/sites/{siteId}/devices/{deviceId}/tags/{tagName}: read one tag, or write it (Operator+ at
    the route; the tag's own write role, limits and e-signature are enforced by the write service)."""

    json_nul_checked_by_view = True  # the write path refuses NUL per field and audits it

    @property
    def rate_scope(self):
        return "tag_write" if self.request.method == "PUT" else "default"

    @extend_schema(operation_id="device_tag_retrieve", tags=["devices"],
                   responses={200: DeviceTagValueSerializer, **_errors})
    def get(self, request, site_id: str, device_id: str, tag_name: str):
        machine = selectors.device_get(site_id=site_id, device_id=device_id)
        tag = selectors.device_tag_get(machine=machine, tag_name=tag_name)
        return Response(selectors.device_tag_item(tag, live_get_many([tag.pk]).get(tag.pk)))

    @extend_schema(operation_id="device_tag_write", tags=["devices"], request=DeviceTagWriteInputSerializer,
                   responses={200: DeviceTagWriteResultSerializer, **_write_errors})
    def put(self, request, site_id: str, device_id: str, tag_name: str):
        machine = selectors.device_get(site_id=site_id, device_id=device_id)
        tag = selectors.device_tag_get(machine=machine, tag_name=tag_name)
        data = DeviceTagWriteInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        result = services.device_tag_write(tag=tag, value=data.validated_data["value"], user=request.user,
                                           signature=data.validated_data.get("signature"),
                                           reason=data.validated_data["reason"])
        return Response({
            "name": selectors.member_name(tag),
            "value": result.value,
            "previousValue": result.previous_value,
            "timestamp": iso_utc(result.timestamp),
        })


class DeviceCommandView(DeviceAPIView):
    """POST /api/sites/{siteId}/devices/{deviceId}/commands/{commandId}: run an operator command."""

    json_nul_checked_by_view = True  # the write path refuses NUL per field and audits it

    rate_scope = "tag_write"

    @extend_schema(operation_id="device_command_execute", tags=["devices"], request=DeviceCommandInputSerializer,
                   responses={200: DeviceCommandResultSerializer, **_write_errors})
    def post(self, request, site_id: str, device_id: str, command_id: str):
        machine = selectors.device_get(site_id=site_id, device_id=device_id)
        data = DeviceCommandInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        result = services.device_command_execute(
            machine=machine, command_id=command_id, user=request.user,
            parameters=data.validated_data["parameters"], signature=data.validated_data.get("signature"),
            reason=data.validated_data["reason"])
        return Response({
            "commandId": result.command_id,
            "deviceId": result.device_id,
            "status": "executed",
            "executedBy": result.executed_by,
            "executedAt": iso_utc(result.executed_at),
            "auditId": str(result.audit_id),
        })
