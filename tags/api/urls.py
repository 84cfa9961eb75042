"""Tag routes (seeds 000 and 003) under /api/, no trailing slash.

Tag names contain dots (`pump-01.Speed`), so the converters take any segment without a slash. Literal routes
(`tags/stats`, `tags/batch/write`) come first, and `stats`, `batch`, `history`, `write` are reserved tag names,
so no tag can shadow them. The second segment of `tags/{machine_id}/{name}` never matches a reserved name either
(TagNameSegment), so `GET /api/tags/{name}/history` reaches the historian whichever app's URLs come first.
"""

from django.urls import path, register_converter

from tags.api import views

app_name = "tags-api"


class SegmentConverter:
    """One path segment, dots and dashes included; the selectors answer a clear 404 for unknown names."""

    regex = r"[^/]+"

    def to_python(self, value: str) -> str:
        return value

    def to_url(self, value: str) -> str:
        return value


class TagNameSegment(SegmentConverter):
    """A tag name segment that is never one of the reserved route words (`history` belongs to the historian)."""

    regex = r"(?!(?:stats|batch|history|write)$)[^/]+"


register_converter(SegmentConverter, "segment")
register_converter(TagNameSegment, "tagname")

tag_urlpatterns = [
    path("tags", views.TagListView.as_view(), name="tag-list"),
    path("tags/stats", views.TagStatsView.as_view(), name="tag-stats"),
    path("tags/batch/write", views.TagBatchWriteView.as_view(), name="tag-batch-write"),
    path("tags/<segment:name>/write", views.TagWriteView.as_view(), name="tag-write"),
    path("tags/<segment:machine_id>/<segment:name>/write", views.TagMachineWriteView.as_view(),
         name="tag-machine-write"),
    path("tags/<segment:name>", views.TagDetailView.as_view(), name="tag-detail"),
    path("tags/<segment:machine_id>/<tagname:name>", views.TagMachineDetailView.as_view(),
         name="tag-machine-detail"),
]

urlpatterns = tag_urlpatterns
