"""Serializers of the screens API (read-only)."""

from rest_framework import serializers

from hmi.models import Screen
from scada.api.renderers import iso_utc
from scada.api.serializers import KilnModelSerializer

__all__ = ["ScreenSerializer"]


class ScreenSerializer(KilnModelSerializer):
    """A screen as listed by GET /api/screens: identity, the tags it uses and where the page is."""

    tags = serializers.SerializerMethodField()
    url = serializers.SerializerMethodField()
    updated_at = serializers.SerializerMethodField()

    class Meta:
        model = Screen
        fields = ["id", "name", "slug", "description", "is_home", "tags", "url", "updated_at"]

    def get_tags(self, obj) -> list[str]:
        return obj.tag_names

    def get_url(self, obj) -> str:
        return f"/screens/{obj.slug}/"

    def get_updated_at(self, obj) -> str | None:
        return iso_utc(obj.last_updated)
