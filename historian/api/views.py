"""History API: GET /api/tags/{name}/history (seed 000) and GET /api/history?tags=a,b,c (many tags at once).

Views validate the query string and call historian.selectors.history_query; nothing more. Rate scope
"history" (seed 000: 20 requests per minute per token). JSON by default; CSV with `Accept: text/csv` or
`?format=csv`. Errors are always JSON.

`?formatted=true` adds how people read the numbers (the tag's display decimals, as the HMI shows them): in JSON a
series' `decimals` and a `text` beside each point's `v` (never rounded itself); in CSV the `v` column written with
those decimals (the default CSV keeps every digit).
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
from tags.display import value_shown
from tags.filtersets import parse_bool
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
    OpenApiParameter("formatted", OpenApiTypes.BOOL,
                     description="with the tag's display decimals: JSON adds `decimals` per series and `text` per "
                                 "point (v stays whole); CSV writes v with them (default: false)"),
]
_POINT = {"ts": serializers.CharField(), "v": serializers.JSONField(allow_null=True),
          "text": serializers.CharField(required=False, allow_null=True,
                                        help_text="formatted=true: v as the HMI shows it"),
          "quality": serializers.CharField(required=False), "substatus": serializers.CharField(required=False)}


# Built once: two inline serializers with one component name would make two clashing schema components.
_SeriesSerializer = inline_serializer(
    "HistorySeries", {"tag": serializers.CharField(),
                      "decimals": serializers.IntegerField(required=False, allow_null=True,
                                                           help_text="formatted=true: the tag's display decimals"),
                      "data": inline_serializer("HistoryPoint", _POINT, many=True)}
).__class__


def _series_of(tag: Tag, points, formatted: bool) -> dict:
    """A series as answered: with formatted, the tag's decimals and each point's text (its v is left whole)."""
    if not formatted:
        return {"tag": tag.name, "data": points}
    d = tag.decimals
    return {"tag": tag.name, "decimals": d, "data": [{**p, "text": value_shown(p["v"], d)} for p in points]}


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
        formatted = parse_bool("formatted", request.query_params.get("formatted"), False)
        tag = tag_get(name=name)
        self.history_mode = params.validated_data["mode"]
        # Formatted points are dicts with a text each; whole series go out as columns (raw_series) otherwise.
        data = history_query(tags=[self._history_tag(tag)], **params.validated_data, raw_series=not formatted)
        return Response(_series_of(tag, data[tag.id], formatted))


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
        formatted = parse_bool("formatted", request.query_params.get("formatted"), False)
        query = dict(params.validated_data)
        names = query.pop("tags")
        if len(names) > conf.KILN_HISTORY_MAX_TAGS:
            raise BadRequest(f"At most {conf.KILN_HISTORY_MAX_TAGS} tags per request; got {len(names)}.")
        found = {t.name: t for t in Tag.objects.filter(name__in=names).only("id", "name", "datatype", "decimals")}
        missing = [n for n in names if n not in found]
        if missing:
            raise NotFound(f"Tag{'s' if len(missing) > 1 else ''} not found: {', '.join(missing)}")
        tags = [found[n] for n in names]
        self.history_mode = query["mode"]
        data = history_query(tags=[self._history_tag(t) for t in tags], **query, raw_series=not formatted)
        return Response({
            "start": iso_utc(query["start"]),
            "end": iso_utc(query["end"]),
            "mode": query["mode"],
            "interval": query["interval"],
            "series": [_series_of(t, data[t.id], formatted) for t in tags],
        })
