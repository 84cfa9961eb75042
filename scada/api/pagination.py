"""Limit/offset pagination with the seed's bounds (limit ≤ 1000, default 100)."""

from rest_framework import pagination
from rest_framework.response import Response

from scada.errors import BadRequest

# PostgreSQL's OFFSET is a bigint: anything larger failed as a DataError (500) instead of a clear 400.
MAX_OFFSET = 2**63 - 1


def parse_limit_offset(params, default: int = 100, maximum: int = 1000) -> tuple[int, int]:
    """Reads ?limit=&offset=; a bad value is a 400, never silently replaced."""
    try:
        limit = int(params.get("limit", default))
        offset = int(params.get("offset", 0))
    except (TypeError, ValueError):
        raise BadRequest("limit and offset must be integers")
    if limit < 1 or limit > maximum:
        raise BadRequest(f"limit must be between 1 and {maximum}")
    if offset < 0:
        raise BadRequest("offset must be 0 or more")
    if offset > MAX_OFFSET:
        raise BadRequest(f"offset must be at most {MAX_OFFSET}")
    return limit, offset


def limit_offset_parameters(default: int = 100, maximum: int = 1000) -> list[dict]:
    """The OpenAPI query parameters parse_limit_offset reads, with the bounds it enforces."""
    return [
        {"name": "limit", "in": "query", "required": False,
         "description": f"Maximum results (1-{maximum}, default: {default})",
         "schema": {"type": "integer", "minimum": 1, "maximum": maximum, "default": default}},
        {"name": "offset", "in": "query", "required": False, "description": "Results to skip (default: 0)",
         "schema": {"type": "integer", "minimum": 0, "maximum": MAX_OFFSET, "default": 0}},
    ]


class LimitOffsetPagination(pagination.LimitOffsetPagination):
    default_limit = 100
    max_limit = 1000

    def get_schema_operation_parameters(self, view):
        return limit_offset_parameters(self.default_limit, self.max_limit)

    def paginate_queryset(self, queryset, request, view=None):
        self.limit, self.offset = parse_limit_offset(request.query_params, self.default_limit, self.max_limit)
        self.request = request
        self.count = self.get_count(queryset)
        if self.count == 0 or self.offset > self.count:
            return []
        return list(queryset[self.offset : self.offset + self.limit])

    def get_paginated_response(self, data):
        return Response({"count": self.count, "limit": self.limit, "offset": self.offset, "results": data})
