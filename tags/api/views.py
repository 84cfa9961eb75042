"""Tag API (seeds 000 and 003): list, stats, CRUD by name or machine + name, single and batch writes.

Views validate input and call tags.services / tags.selectors; nothing more. Roles come from the permission
matrix (scada/api/matrix.py); a tag's own write role and e-signature are enforced by tag_write.
"""

from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import status
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response
from rest_framework.views import APIView

from scada.api.errors import flatten_errors
from scada.api.pagination import parse_limit_offset
from scada.api.renderers import iso_utc
from scada.api.schema import ErrorSerializer
from scada.api.serializers import case_insensitive_pattern
from scada.errors import BadRequest
from tags import selectors, services
from tags.api.serializers import (
    DATATYPE_SCHEMA,
    QUALITY_SCHEMA,
    BatchWriteInputSerializer,
    BatchWriteResponseSerializer,
    TagCreateInputSerializer,
    TagDeleteResponseSerializer,
    TagListItemSerializer,
    TagSerializer,
    TagStatsSerializer,
    TagUpdateInputSerializer,
    TagWriteInputSerializer,
    TagWriteResponseSerializer,
    tag_write_response,
)
from tags.choices import Quality
from tags.filtersets import TagFilterSet, parse_bool
from tags.live import live_get_many
from tags.models import Tag

LIST_PARAMETERS = [
    OpenApiParameter("machine_id", str, description="Filter tags by machine ID"),
    OpenApiParameter("datatype", DATATYPE_SCHEMA),
    OpenApiParameter("active_only", bool, description="Show only active tags (default: true)"),
    OpenApiParameter("writable_only", bool, description="Show only writable tags (default: false)"),
    OpenApiParameter("include_values", bool, description="Include current tag values (default: true)"),
    OpenApiParameter("quality", {**QUALITY_SCHEMA, "pattern": case_insensitive_pattern([*Quality.values, "NULL"])},
                     description="Filter by live quality, any letter case (NULL: tags that never had a value)"),
    OpenApiParameter("search", str, description="Search in tag name and description"),
    OpenApiParameter("formatted", bool, description="Add each tag's decimals and value_text (the value as the HMI "
                                                    "shows it); value itself is never rounded (default: false)"),
    OpenApiParameter("limit", {"type": "integer", "minimum": 1, "maximum": 1000, "default": 100},
                     description="Maximum results (1-1000, default: 100)"),
    OpenApiParameter("offset", {"type": "integer", "minimum": 0, "default": 0},
                     description="Results to skip (default: 0)"),
]


class TagApiView(APIView):
    """Answers 405 for a method the route does not serve before the role check (which would say 403)."""

    def initial(self, request, *args, **kwargs):
        method = request.method.lower()
        if method not in self.http_method_names or not hasattr(self, method):
            self.http_method_not_allowed(request, *args, **kwargs)
        super().initial(request, *args, **kwargs)


def _tag_response(tag: Tag, status_code: int = status.HTTP_200_OK) -> Response:
    return Response(TagSerializer(tag, context={"live": live_get_many([tag.pk])}).data, status=status_code)


class TagListView(TagApiView):
    """GET /api/tags (Operator+): a JSON list, seed 003 filters. POST /api/tags (Engineer+): create a tag."""

    @extend_schema(parameters=LIST_PARAMETERS, responses=TagListItemSerializer(many=True))
    def get(self, request):
        params = request.query_params
        filterset = TagFilterSet(params, queryset=Tag.objects.all())
        limit, offset = parse_limit_offset(params)
        include_values = parse_bool("include_values", params.get("include_values"), True)
        quality = params.get("quality") or None
        if quality is not None:
            quality = "NULL" if quality.upper() == "NULL" else services.quality_parse(quality)
        formatted = parse_bool("formatted", params.get("formatted"), False)
        rows = selectors.tag_list(queryset=filterset.qs, limit=limit, offset=offset,
                                  include_values=include_values, quality=quality, cache_key=filterset.key)
        if formatted:
            rows = selectors.tag_list_formatted(rows)
        return Response(rows)

    @extend_schema(request=TagCreateInputSerializer, responses={201: TagSerializer, 409: ErrorSerializer})
    def post(self, request):
        data = TagCreateInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        tag = services.tag_create(user=request.user, **data.validated_data)
        return _tag_response(tag, status.HTTP_201_CREATED)


class TagStatsView(TagApiView):
    """GET /api/tags/stats (Operator+): counts by state, datatype, quality; writes in the last 24 h."""

    @extend_schema(responses=TagStatsSerializer)
    def get(self, request):
        return Response(selectors.tag_stats())


class _TagObjectMixin:
    """Finds the tag of a route: /tags/{name} (plant-unique name) or /tags/{machine_id}/{name}."""

    def get_tag(self) -> Tag:
        kwargs = self.kwargs
        if "machine_id" in kwargs:
            return selectors.tag_get_on_machine(machine_id=kwargs["machine_id"], name=kwargs["name"])
        return selectors.tag_get(name=kwargs["name"])


class TagDetailView(_TagObjectMixin, TagApiView):
    """GET (Operator+), PUT configuration (Engineer+), DELETE (Admin) one tag."""

    @extend_schema(responses=TagSerializer)
    def get(self, request, **kwargs):
        return _tag_response(self.get_tag())

    @extend_schema(request=TagUpdateInputSerializer, responses=TagSerializer)
    def put(self, request, **kwargs):
        tag = self.get_tag()
        data = TagUpdateInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = dict(data.validated_data)
        reason = values.pop("reason", "")
        tag = services.tag_update(user=request.user, tag=tag, data=values, reason=reason)
        return _tag_response(tag)

    @extend_schema(request=None, responses=TagDeleteResponseSerializer)
    def delete(self, request, **kwargs):
        tag = self.get_tag()
        machine_id, name = tag.machine.machine_id, tag.name
        deleted_at = services.tag_delete(user=request.user, tag=tag)
        return Response({"message": "Tag deleted successfully", "deleted_tag": {"machine_id": machine_id, "name": name},
                         "deleted_at": iso_utc(deleted_at)})


class _TagWriteMixin(_TagObjectMixin):
    rate_scope = "tag_write"
    # NUL characters are refused by the write path field by field, and the refusal audited (scada.api.parsers).
    json_nul_checked_by_view = True

    def do_write(self, request):
        tag = self.get_tag()
        data = TagWriteInputSerializer(data=request.data)
        if not data.is_valid():
            # A malformed write is a refused attempt too (Part 11): on record before the 400.
            sent = request.data.get("value") if isinstance(request.data, dict) else None
            services.tag_write_refused_record(tag=tag, user=request.user, value=sent, source="api",
                                              error=BadRequest("; ".join(flatten_errors(data.errors))))
            raise ValidationError(data.errors)
        v = data.validated_data
        result = services.tag_write(tag=tag, value=v["value"], user=request.user, quality=v.get("quality"),
                                    timestamp=v.get("timestamp"), signature=v.get("signature"),
                                    reason=v.get("reason") or "", source="api")
        return Response(tag_write_response(result))


class TagWriteView(_TagWriteMixin, TagApiView):
    """POST /api/tags/{name}/write (seed 000): matrix minimum Operator; the tag's write_role decides."""

    @extend_schema(request=TagWriteInputSerializer, responses=TagWriteResponseSerializer)
    def post(self, request, **kwargs):
        return self.do_write(request)

    @extend_schema(request=TagWriteInputSerializer, responses=TagWriteResponseSerializer)
    def put(self, request, **kwargs):
        # Seed 003 writes with PUT on the machine route; accepting it here too spares clients a surprise 405.
        return self.do_write(request)


@extend_schema_view(
    post=extend_schema(operation_id="tags_machine_write_create"),
    put=extend_schema(operation_id="tags_machine_write_update"),
)
class TagMachineWriteView(TagWriteView):
    """PUT /api/tags/{machine_id}/{name}/write (seed 003), POST too: same rules as /api/tags/{name}/write."""


@extend_schema_view(
    get=extend_schema(operation_id="tags_machine_retrieve"),
    put=extend_schema(operation_id="tags_machine_update"),
    delete=extend_schema(operation_id="tags_machine_destroy"),
)
class TagMachineDetailView(TagDetailView):
    """GET/PUT/DELETE /api/tags/{machine_id}/{name} (seed 003): the tag by full or member name on a machine."""


class TagBatchWriteView(TagApiView):
    """POST /api/tags/batch/write: up to 1000 writes, each on its own; per-item results, partial success."""

    rate_scope = "tag_write"
    json_nul_checked_by_view = True  # refused per item, and audited, by the write path (scada.api.parsers)

    def rate_cost(self, request) -> int:
        # Seed 000: 500 writes a minute; a batch spends one per write, so batching cannot multiply the limit.
        # An envelope the serializer refuses (not a list, empty, over BATCH_WRITE_MAX) costs one and answers 400.
        writes = request.data.get("writes") if isinstance(request.data, dict) else None
        return len(writes) if isinstance(writes, list) and 0 < len(writes) <= services.BATCH_WRITE_MAX else 1

    @extend_schema(request=BatchWriteInputSerializer, responses=BatchWriteResponseSerializer)
    def post(self, request):
        data = BatchWriteInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        items = services.tag_write_batch(writes=data.validated_data["writes"], user=request.user)
        results = []
        for item in items:
            out = {"machine_id": item.machine_id, "name": item.name, "success": item.success}
            if item.success:
                out.update(timestamp=iso_utc(item.result.timestamp), value=item.result.value,
                           audit_id=item.result.audit_id, live_updated=item.result.live,
                           message=item.result.message)
            else:
                out.update(status=item.status_code, error=item.error)
            results.append(out)
        ok = sum(1 for i in items if i.success)
        return Response({"success": ok == len(items), "total_writes": len(items), "successful_writes": ok,
                         "failed_writes": len(items) - ok, "results": results})


__all__ = ["TagListView", "TagStatsView", "TagDetailView", "TagMachineDetailView", "TagWriteView",
           "TagMachineWriteView", "TagBatchWriteView"]
