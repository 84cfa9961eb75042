"""Configuration API (Admin): export the bundle, import one (dry run first), the bundle's JSON Schema."""

from __future__ import annotations

from django.http import HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.audit import audit_record
from deploy import deploys
from deploy.api.parsers import GzipBundleParser
from deploy.api.serializers import (
    ConfigCsvImportInputSerializer,
    ConfigImportInputSerializer,
    DeployInputSerializer,
    DeployReceiveInputSerializer,
    DeployRollbackInputSerializer,
)
from deploy.bundle import bundle_export, bundle_schema
from deploy.csvbulk import csv_export, csv_import
from deploy.selectors import deploy_versions
from deploy.services import config_import
from scada.api.parsers import KilnJSONParser
from scada.api.schema import ErrorSerializer
from scada.errors import BadRequest

__all__ = ["ConfigExportView", "ConfigImportView", "ConfigSchemaView", "ConfigCsvView", "DiffSerializer",
           "DeployView", "DeployReceiveView", "DeployRollbackView", "DeployVersionsView"]

DiffSerializer = inline_serializer("ConfigDiff", {
    "changes": serializers.IntegerField(),
    "detail": serializers.CharField(help_text="'no changes', or a summary per section"),
    "sections": serializers.DictField(help_text="per section: added (keys), changed ({key, fields: {name: "
                                                "{old, new}}}), removed (keys)"),
    "applied": serializers.BooleanField(),
})
BundleSerializer = inline_serializer("ConfigBundle", {
    "format": serializers.CharField(), "version": serializers.IntegerField(),
    "exported_at": serializers.CharField(), "instance": serializers.CharField(),
    "sections": serializers.DictField(child=serializers.ListField(child=serializers.DictField())),
})


class ConfigExportView(APIView):
    """GET /api/config/export: the whole configuration as a bundle (secrets never included)."""

    @extend_schema(responses={200: BundleSerializer})
    def get(self, request):
        bundle = bundle_export()
        audit_record(action="config.export", user=request.user, object_type="config", object_id="api",
                     new_value={name: len(items) for name, items in bundle["sections"].items()})
        return Response(bundle)


class ConfigImportView(APIView):
    """POST /api/config/import: `{"bundle": {...}, "dry_run": true}` answers the diff; without dry_run the bundle is
    applied in one transaction and audited. Any bad object: 422 listing every problem, nothing changed."""

    # A NUL inside the bundle is refused by the bundle check as a 422 naming the object and field.
    json_nul_checked_by_view = True

    @extend_schema(request=ConfigImportInputSerializer, responses={200: DiffSerializer, 409: ErrorSerializer,
                                                                  422: ErrorSerializer})
    def post(self, request):
        data = ConfigImportInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        result = config_import(bundle=data.validated_data["bundle"], user=request.user,
                               dry_run=data.validated_data["dry_run"], reason=data.validated_data["reason"])
        return Response(result)


class ConfigSchemaView(APIView):
    """GET /api/config/schema: the JSON Schema of a bundle, for editors and tools."""

    @extend_schema(responses={200: inline_serializer("ConfigBundleSchema", {"type": serializers.CharField()})})
    def get(self, request):
        return Response(bundle_schema())


class ConfigCsvView(APIView):
    """GET /api/config/csv/{section}: the section as CSV (tags, bindings, alarm_definitions). POST: import a CSV
    `{"csv": "...", "dry_run": true}`, answered like POST /api/config/import (the same diff, validation, audit)."""

    @extend_schema(responses={(200, "text/csv"): OpenApiTypes.STR, 404: ErrorSerializer})
    def get(self, request, section):
        response = HttpResponse(csv_export(section=section), content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="{section}.csv"'
        audit_record(action="config.export", user=request.user, object_type="config", object_id=f"csv:{section}")
        return response

    @extend_schema(request=ConfigCsvImportInputSerializer,
                   responses={200: DiffSerializer, 404: ErrorSerializer, 409: ErrorSerializer, 422: ErrorSerializer})
    def post(self, request, section):
        data = ConfigCsvImportInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        return Response(csv_import(section=section, text=v["csv"], user=request.user, dry_run=v["dry_run"],
                                   remove_missing=v["remove_missing"], reason=v["reason"]))


VersionSerializer = inline_serializer("ConfigVersion", {
    "number": serializers.IntegerField(), "kind": serializers.CharField(), "created": serializers.CharField(),
    "deployed_by": serializers.CharField(), "source": serializers.CharField(), "target": serializers.CharField(),
    "comment": serializers.CharField(), "base_version": serializers.IntegerField(allow_null=True),
    "rolled_back_to": serializers.IntegerField(allow_null=True), "changes": serializers.IntegerField(),
    "summary": serializers.CharField(), "bundle_sha256": serializers.CharField(),
    "signature": serializers.DictField()})
DeployAnswer = inline_serializer("DeployAnswer", {
    "changes": serializers.IntegerField(), "detail": serializers.CharField(), "sections": serializers.DictField(),
    "applied": serializers.BooleanField(), "version": serializers.IntegerField(),
    "target": serializers.CharField(required=False), "rolled_back_to": serializers.IntegerField(required=False)})
_deploy_errors = {409: ErrorSerializer, 422: ErrorSerializer, 503: ErrorSerializer}


class DeployView(APIView):
    """POST /api/system/deploy (seed 000, Admin, on the test instance): `{"dry_run": true}` answers production's
    diff; otherwise `{"signature": {...}, "comment": ..., "base_version": N}` deploys under the e-signature."""

    @extend_schema(request=DeployInputSerializer, responses={200: DeployAnswer, **_deploy_errors})
    def post(self, request):
        deploys.deploy_target()  # 409 on an instance without a production target, whatever the body
        data = DeployInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        if v["dry_run"]:
            return Response(deploys.deploy_dry_run(user=request.user))
        if "signature" not in v:
            raise BadRequest("signature: a deploy needs the e-signature of the person deploying "
                             "({password, meaning, reason}); send dry_run: true for the diff alone")
        return Response(deploys.deploy_send(user=request.user, signature=v["signature"], comment=v["comment"],
                                            base_version=v.get("base_version")))


class DeployReceiveView(APIView):
    """POST /api/system/deploy/receive (Admin, on production: the test instance's integration key): validate,
    diff (dry_run) or apply the bundle as the next version. Body JSON, or gzip-compressed JSON."""

    parser_classes = [KilnJSONParser, GzipBundleParser]
    json_nul_checked_by_view = True  # the bundle check refuses NUL per object (422); other fields by serializer

    @extend_schema(request=DeployReceiveInputSerializer, responses={200: DeployAnswer, **_deploy_errors})
    def post(self, request):
        deploys.require_production()
        data = DeployReceiveInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        return Response(deploys.deploy_receive(
            user=request.user, bundle=v["bundle"], dry_run=v["dry_run"], base_version=v.get("base_version"),
            comment=v["comment"], deployed_by=v["deployed_by"], source=v["source"], signature=v["signature"]))


class DeployRollbackView(APIView):
    """POST /api/system/deploy/rollback (Admin, e-signature, on production): re-apply an earlier version as a new
    one."""

    @extend_schema(request=DeployRollbackInputSerializer, responses={200: DeployAnswer, 404: ErrorSerializer,
                                                                    **_deploy_errors})
    def post(self, request):
        deploys.require_production()
        data = DeployRollbackInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        return Response(deploys.deploy_rollback(user=request.user, version=v["version"], signature=v["signature"],
                                                comment=v["comment"]))


class DeployVersionsView(APIView):
    """GET /api/system/deploy/versions (Admin): production's received versions, or what a test instance sent."""

    @extend_schema(responses=inline_serializer("ConfigVersions", {
        "instance": serializers.CharField(), "role": serializers.CharField(), "current": serializers.IntegerField(),
        "versions": serializers.ListField(child=VersionSerializer)}))
    def get(self, request):
        return Response(deploy_versions())
