"""Response shapes of the drivers API (documentation for the OpenAPI schema; rows come from selectors)."""

from rest_framework import serializers

__all__ = ["ScanClassStatusSerializer", "ConnectionStatusSerializer", "BrowseSerializer"]


class ScanClassStatusSerializer(serializers.Serializer):
    period_ms = serializers.IntegerField()
    tags = serializers.IntegerField()
    reads = serializers.IntegerField(help_text="Read requests per cycle after merging adjacent addresses.")
    poll_ms_p50 = serializers.FloatField(allow_null=True)
    poll_ms_p99 = serializers.FloatField(allow_null=True)


class ConnectionStatusSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    protocol = serializers.CharField()
    host = serializers.CharField()
    port = serializers.IntegerField()
    unit_id = serializers.IntegerField()
    endpoint_url = serializers.CharField(allow_null=True, help_text="OPC UA endpoint (null for Modbus).")
    enabled = serializers.BooleanField()
    # A CharField, not a ChoiceField: an enum named "state" would collide with the alarm states in the schema.
    state = serializers.CharField(help_text="connected, connecting, backoff (waiting to reconnect), stopped (not "
                                            "polled by any worker) or disabled.")
    worker = serializers.CharField(allow_null=True)
    last_poll = serializers.CharField(allow_null=True, help_text="UTC ISO 8601 time of the last good cycle.")
    poll_ms_p50 = serializers.FloatField(allow_null=True)
    poll_ms_p99 = serializers.FloatField(allow_null=True)
    jitter_ms_p99 = serializers.FloatField(allow_null=True)
    cycles = serializers.IntegerField()
    overruns = serializers.IntegerField(help_text="Cycles skipped because the previous one was still running.")
    errors = serializers.IntegerField()
    reconnects = serializers.IntegerField()
    writes = serializers.IntegerField()
    tags = serializers.IntegerField()
    tags_bad = serializers.IntegerField()
    values_per_s = serializers.FloatField(help_text="Values handed to the values path per second, over the last "
                                                    "10 s (polled samples, or OPC UA notifications).")
    last_error = serializers.CharField(allow_null=True)
    last_error_at = serializers.CharField(allow_null=True)
    scan_classes = ScanClassStatusSerializer(many=True)


class BrowseChildSerializer(serializers.Serializer):
    node_id = serializers.CharField()
    browse_name = serializers.CharField()
    display_name = serializers.CharField()
    node_class = serializers.CharField(help_text="Object, Variable, Method, View...")
    data_type = serializers.CharField(allow_null=True, help_text="A variable's current value type (Double...).")
    value = serializers.JSONField(allow_null=True, help_text="A variable's current value (scalars only).")
    has_children = serializers.BooleanField()


class BrowseSerializer(serializers.Serializer):
    node_id = serializers.CharField()
    children = BrowseChildSerializer(many=True)
    truncated = serializers.BooleanField(help_text="More than 1,000 children: only the first 1,000 are listed.")
