"""Report API input and output shapes (validation only)."""

from rest_framework import serializers

from reports.choices import ReportFormat, RunStatus
from scada.api.serializers import StrictInputSerializer

__all__ = ["GenerateInputSerializer", "ParameterSerializer", "ReportDefinitionSerializer", "ReportRunSerializer"]


class GenerateInputSerializer(StrictInputSerializer):
    format = serializers.ChoiceField(choices=ReportFormat.choices)
    parameters = serializers.DictField(required=False, default=dict,
                                       help_text="Name → value, as GET /api/reports lists them; omitted ones take "
                                                 "their default. Times: ISO 8601 or now, now-8h, today-1d.")


class ParameterSerializer(serializers.Serializer):
    name = serializers.CharField()
    type = serializers.ChoiceField(choices=["datetime", "int", "string", "choice", "choices", "tags"])
    label = serializers.CharField()
    default = serializers.JSONField(allow_null=True)
    required = serializers.BooleanField()
    help = serializers.CharField(allow_blank=True)
    choices = serializers.ListField(child=serializers.CharField(), required=False)
    minimum = serializers.IntegerField(required=False)
    maximum = serializers.IntegerField(required=False)


class ReportDefinitionSerializer(serializers.Serializer):
    id = serializers.CharField(help_text="The report's stable id (slug)")
    title = serializers.CharField()
    kind = serializers.CharField()
    description = serializers.CharField(allow_blank=True)
    formats = serializers.ListField(child=serializers.ChoiceField(choices=ReportFormat.choices))
    min_role = serializers.CharField()
    parameters = ParameterSerializer(many=True)


class ReportRunSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    report = serializers.CharField()
    title = serializers.CharField()
    format = serializers.ChoiceField(choices=ReportFormat.choices)
    status = serializers.ChoiceField(choices=RunStatus.choices)
    progress = serializers.IntegerField(min_value=0, max_value=100)
    message = serializers.CharField(allow_blank=True)
    parameters = serializers.DictField()
    requested_by = serializers.CharField(allow_null=True)
    schedule = serializers.CharField(allow_null=True)
    created = serializers.CharField()
    started_at = serializers.CharField(allow_null=True)
    finished_at = serializers.CharField(allow_null=True)
    rows = serializers.IntegerField(allow_null=True)
    size = serializers.IntegerField(allow_null=True)
    sha256 = serializers.CharField(allow_null=True)
    file_name = serializers.CharField(allow_null=True)
    content_type = serializers.CharField(allow_null=True)
    url = serializers.CharField()
    download_url = serializers.CharField(allow_null=True)
