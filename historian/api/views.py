"""History API: GET /api/tags/{name}/history (seed 000) and GET /api/history?tags=a,b,c (many tags at once).

Views validate the query string and call historian.selectors.history_query; nothing more. Rate scope
"history" (seed 000: 20 requests per minute per token). JSON by default; CSV with `Accept: text/csv` or
`?format=csv`. Errors are always JSON.
"""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from historian.api.renderers import HistoryCSVRenderer
from historian.api.serializers import (
    MAX_INTERVAL_SECONDS,
    HistoryManyQueryInputSerializer,
    HistoryQueryInputSerializer,
)
from historian.conf import conf
from historian.constants import MODES
from historian.selectors import HistoryTag, history_query
from scada.api.renderers import KilnJSONRenderer, iso_utc
from scada.api.schema import ErrorSerializer
from scada.errors import BadRequest, NotFound
from tags.models import Tag
from tags.selectors import tag_get

__all__ = ["TagHistoryView", "HistoryView"]

_PARAMS = [
    OpenApiParameter("start", OpenApiTypes.DATETIME, description="ISO 8601, UTC (default: one hour before end)"),
    OpenApiParameter("end", OpenApiTypes.DATETIME, description="ISO 8601, UTC, exclusive (default: now)"),
    OpenApiParameter("mode", OpenApiTypes.STR, enum=list(MODES), description="default raw"),
    OpenApiParameter("interval", {"type": "integer", "minimum": 1, "maximum": MAX_INTERVAL_SECONDS},
                     description="bucket size in seconds: required with an aggregate mode, refused with raw"),
    OpenApiParameter("format", OpenApiTypes.STR, enum=["json", "csv"], description="or Accept: text/csv"),
]
_POINT = {"ts": serializers.CharField(), "v": serializers.JSONField(allow_null=True),
          "quality": serializers.CharField(required=False), "substatus": serializers.CharField(required=False)}


# Built once: two inline serializers with one component name would make two clashing schema components.
_SeriesSerializer = inline_serializer(
    "HistorySeries", {"tag": serializers.CharField(), "data": inline_serializer("HistoryPoint", _POINT, many=True)}
).__class__


def _series(**kwargs):
    return _SeriesSerializer(**kwargs)


class _HistoryBase(APIView):
    rate_scope = "history"
    renderer_classes = [KilnJSONRenderer, HistoryCSVRenderer]
    history_mode = None

    def get_renderer_context(self):
        return {**super().get_renderer_context(), "history_mode": self.history_mode}

    def finalize_response(self, request, response, *args, **kwargs):
        response = super().finalize_response(request, response, *args, **kwargs)
        if response.status_code >= 400 and isinstance(getattr(response, "accepted_renderer", None),
                                                       HistoryCSVRenderer):
            # An error is a JSON {"detail": ...} whatever the client asked for.
            response.accepted_renderer = KilnJSONRenderer()
            response.accepted_media_type = "application/json"
        elif isinstance(getattr(response, "accepted_renderer", None), HistoryCSVRenderer):
            response["Content-Disposition"] = 'attachment; filename="history.csv"'
        return response

    @staticmethod
    def _history_tag(tag: Tag) -> HistoryTag:
        return HistoryTag(id=tag.pk, name=tag.name, datatype=tag.datatype)


class TagHistoryView(_HistoryBase):
    """GET /api/tags/{name}/history?start=&end=&mode=&interval= → {"tag", "data": [{"ts", "v"}]}."""

    @extend_schema(parameters=_PARAMS, responses={200: _series()})
    def get(self, request, name: str):
        params = HistoryQueryInputSerializer(data=request.query_params)
        params.is_valid(raise_exception=True)
        tag = self._history_tag(tag_get(name=name))
        self.history_mode = params.validated_data["mode"]
        data = history_query(tags=[tag], **params.validated_data, raw_series=True)
        return Response({"tag": tag.name, "data": data[tag.id]})


class HistoryView(_HistoryBase):
    """GET /api/history?tags=a,b,c&start=&end=&mode=&interval= → {"start", "end", "mode", "interval", "series"}."""

    @extend_schema(
        parameters=[OpenApiParameter("tags", {"type": "string", "pattern": r"[^,\s]"}, required=True,
                                    description="tag names, comma-separated: a,b,c"), *_PARAMS],
        responses={200: inline_serializer("HistoryMany", {
            "start": serializers.CharField(), "end": serializers.CharField(), "mode": serializers.CharField(),
            "interval": serializers.IntegerField(allow_null=True), "series": _series(many=True)}),
            404: ErrorSerializer},
    )
    def get(self, request):
        params = HistoryManyQueryInputSerializer(data=request.query_params)
        params.is_valid(raise_exception=True)
        query = dict(params.validated_data)
        names = query.pop("tags")
        if len(names) > conf.KILN_HISTORY_MAX_TAGS:
            raise BadRequest(f"At most {conf.KILN_HISTORY_MAX_TAGS} tags per request; got {len(names)}.")
        found = {t.name: t for t in Tag.objects.filter(name__in=names).only("id", "name", "datatype")}
        missing = [n for n in names if n not in found]
        if missing:
            raise NotFound(f"Tag{'s' if len(missing) > 1 else ''} not found: {', '.join(missing)}")
        tags = [self._history_tag(found[n]) for n in names]
        self.history_mode = query["mode"]
        data = history_query(tags=tags, **query, raw_series=True)
        return Response({
            "start": iso_utc(query["start"]),
            "end": iso_utc(query["end"]),
            "mode": query["mode"],
            "interval": query["interval"],
            "series": [{"tag": t.name, "data": data[t.id]} for t in tags],
        })
