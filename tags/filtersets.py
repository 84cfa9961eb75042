"""Filters of the tag list (seed 003): machine_id, datatype, active_only, writable_only, search.

A plain class rather than a django-filter FilterSet on purpose: GET /api/tags is the hottest read of the API
and django-filter deep-copies its filters and builds a form on every request (~0.9 ms, a fifth of the whole
request). The parameters are few and simple, so they are parsed here directly, with the same strictness:
a bad value is a 400 with a clear message, never silently ignored.

`quality` is not here either: it lives in the live value table (Redis), not in SQL, so the selector applies
it (tags.selectors.tag_list).
"""

from django.db.models import Q, QuerySet

from scada.errors import BadRequest
from tags.services import datatype_parse

__all__ = ["TagFilterSet", "parse_bool"]

_TRUE = {"true", "1", "yes", "on"}
_FALSE = {"false", "0", "no", "off"}


def parse_bool(name: str, value, default: bool) -> bool:
    """A query-string boolean; absent → default, anything but true/false/1/0/yes/no/on/off → 400."""
    if value is None or value == "":
        return default
    text = str(value).strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise BadRequest(f"{name} must be true or false, not '{value}'")


class TagFilterSet:
    """GET /api/tags filters. active_only defaults to true, writable_only to false (seed 003).

    `TagFilterSet(request.query_params, queryset=Tag.objects.all()).qs` is the filtered queryset; parsing
    happens in the constructor, so a bad parameter fails before any query runs.
    """

    def __init__(self, params, queryset: QuerySet):
        self.queryset = queryset
        self.machine_id = params.get("machine_id") or None
        datatype = params.get("datatype")
        self.datatype = datatype_parse(datatype) if datatype else None
        self.active_only = parse_bool("active_only", params.get("active_only"), True)
        self.writable_only = parse_bool("writable_only", params.get("writable_only"), False)
        self.search = (params.get("search") or "").strip() or None

    @property
    def key(self) -> tuple:
        """The parsed filters as a hashable key (two requests with equal keys select the same tags)."""
        return (self.machine_id, self.datatype, self.active_only, self.writable_only, self.search)

    @property
    def qs(self) -> QuerySet:
        qs = self.queryset
        if self.machine_id is not None:
            qs = qs.filter(machine__machine_id=self.machine_id)
        if self.datatype is not None:
            qs = qs.filter(datatype=self.datatype)
        if self.active_only:
            qs = qs.filter(is_active=True)
        if self.writable_only:
            qs = qs.filter(is_writable=True)
        if self.search is not None:
            qs = qs.filter(Q(name__icontains=self.search) | Q(description__icontains=self.search))
        return qs
