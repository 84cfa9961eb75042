"""Bench-only URLs: Kiln's API plus a plain DRF ModelSerializer list of the same tags, as the baseline.

The baseline gets the same authentication, permission check, renderer and live values (one HMGET per page,
so it is not handicapped by N+1 Redis calls); what differs is the usual ModelSerializer + ListAPIView path.
"""

from django.urls import path
from rest_framework import generics, serializers
from rest_framework.response import Response

from scada.api.matrix import OPERATOR, ROUTE_ROLES
from scada.api.renderers import iso_utc
from scada.urls import urlpatterns as kiln_urlpatterns
from tags.live import live_get_many
from tags.models import Tag


class BaselineTagSerializer(serializers.ModelSerializer):
    machine_id = serializers.CharField(source="machine.machine_id")
    value = serializers.SerializerMethodField()
    timestamp = serializers.SerializerMethodField()
    quality = serializers.SerializerMethodField()

    class Meta:
        model = Tag
        fields = ["machine_id", "name", "datatype", "value", "timestamp", "description", "unit", "quality",
                  "is_writable", "is_active"]

    def _live(self, obj):
        return self.context["live"].get(obj.pk)

    def get_value(self, obj):
        lv = self._live(obj)
        return lv.value if lv else None

    def get_timestamp(self, obj):
        lv = self._live(obj)
        return iso_utc(lv.timestamp) if lv else None

    def get_quality(self, obj):
        lv = self._live(obj)
        return lv.quality if lv else None


class BaselineTagList(generics.ListAPIView):
    serializer_class = BaselineTagSerializer
    pagination_class = None
    filter_backends: list = []

    def get_queryset(self):
        limit = int(self.request.query_params.get("limit", 100))
        offset = int(self.request.query_params.get("offset", 0))
        return Tag.objects.select_related("machine").filter(is_active=True).order_by("name")[offset:offset + limit]

    def list(self, request, *args, **kwargs):
        tags = list(self.get_queryset())
        live = live_get_many([t.pk for t in tags])
        return Response(self.get_serializer(tags, many=True, context={"live": live, "request": request}).data)

    def get_serializer(self, *args, context=None, **kwargs):
        return BaselineTagSerializer(*args, context=context, **kwargs)


# Same role check as the real route (the matrix lookup), in this bench process only.
ROUTE_ROLES["bench-baseline-tags"] = {"GET": OPERATOR}

urlpatterns = [
    path("bench/baseline/tags", BaselineTagList.as_view(), name="bench-baseline-tags"),
    *kiln_urlpatterns,
]
