"""Query-string validation of the history routes. Validation only: the selectors do the work."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from rest_framework import serializers

from historian.constants import MODES

__all__ = ["HistoryQueryInputSerializer", "HistoryManyQueryInputSerializer", "parse_timestamp"]

DEFAULT_RANGE = timedelta(hours=1)
# A bucket of 100 years covers any sensible range; a larger one overflowed timedelta (a 500), so it is a 400.
MAX_INTERVAL_SECONDS = 100 * 366 * 86400


def parse_timestamp(raw: str) -> datetime:
    """ISO 8601 (`2026-04-01T00:00:00Z`, an offset, or no zone = UTC) → an aware UTC datetime."""
    try:
        value = datetime.fromisoformat(raw.strip())
    except ValueError:
        raise serializers.ValidationError(f"'{raw}' is not an ISO 8601 timestamp (e.g. 2026-04-01T00:00:00Z).")
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)  # Kiln's timestamps are UTC (docs/architecture.md)
    try:
        return value.astimezone(UTC)
    except OverflowError:
        # 0001-01-01T00:00:00+05:00 lies before year 1 in UTC (9999-12-31T23:00:00-05:00 after 9999).
        raise serializers.ValidationError(f"'{raw}' is outside the supported range (years 1 to 9999 in UTC).")


class _Timestamp(serializers.CharField):
    def to_internal_value(self, data):
        return parse_timestamp(super().to_internal_value(data))


class HistoryQueryInputSerializer(serializers.Serializer):
    """?start=&end=&mode=&interval= (end defaults to now, start to one hour before end, mode to raw)."""

    start = _Timestamp(required=False)
    end = _Timestamp(required=False)
    mode = serializers.CharField(required=False, default="raw")
    interval = serializers.IntegerField(required=False, min_value=1, max_value=MAX_INTERVAL_SECONDS, error_messages={
        "invalid": "interval must be a whole number of seconds.",
        "min_value": "interval must be at least 1 second.",
        "max_value": f"interval must be at most {MAX_INTERVAL_SECONDS} seconds (100 years).",
        "max_string_length": "interval must be a whole number of seconds.",
    })

    def validate_mode(self, value: str) -> str:
        if value not in MODES:
            raise serializers.ValidationError(f"unknown mode '{value}'; use one of {', '.join(MODES)}.")
        return value

    def validate(self, attrs):
        end = attrs.get("end") or datetime.now(tz=UTC)
        start = attrs.get("start") or end - DEFAULT_RANGE
        if end <= start:
            raise serializers.ValidationError({"end": "end must be after start."})
        mode = attrs["mode"]
        interval = attrs.get("interval")
        if mode == "raw" and interval is not None:
            raise serializers.ValidationError(
                {"interval": "mode=raw returns every stored sample; give interval only with an aggregate mode "
                             "(average, min, max, first, last, count, sum, range)."})
        if mode != "raw" and interval is None:
            raise serializers.ValidationError({"interval": f"mode={mode} needs interval (seconds)."})
        return {"start": start, "end": end, "mode": mode, "interval": interval}


class HistoryManyQueryInputSerializer(HistoryQueryInputSerializer):
    """/api/history: the same plus ?tags=a,b,c (names, comma-separated)."""

    tags = serializers.CharField()

    def validate_tags(self, value: str) -> list[str]:
        names = list(dict.fromkeys(n.strip() for n in value.split(",") if n.strip()))
        if not names:
            raise serializers.ValidationError("give at least one tag name, e.g. tags=Reactor_Temp,Pump_Speed.")
        return names

    def validate(self, attrs):
        names = attrs["tags"]
        out = super().validate(attrs)
        out["tags"] = names
        return out
