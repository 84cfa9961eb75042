"""Report API: list what I may run, generate (the file at once when small, else 202 and a job to poll), my runs,
a run's status and progress, its download, and cancelling it. Views validate and call services; nothing more."""

from __future__ import annotations

import time

from django.conf import settings
from django.http import FileResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import generics, serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from reports import selectors, services
from reports.api.serializers import GenerateInputSerializer, ReportDefinitionSerializer, ReportRunSerializer
from reports.choices import CONTENT_TYPES, FINISHED_STATUSES, RunStatus
from reports.models import ReportRun
from scada.api.schema import ErrorSerializer

__all__ = ["ReportListView", "ReportGenerateView", "RunListView", "RunDetailView", "RunDownloadView",
           "RunCancelView"]

_FILE = {(200, "application/pdf"): OpenApiTypes.BINARY, (200, "text/csv"): OpenApiTypes.BINARY}
_REPORT_ID = OpenApiParameter("report_id", {"type": "string", "pattern": r"^[-a-zA-Z0-9_]{1,64}$"},
                              OpenApiParameter.PATH, description="The report's id (slug), from GET /api/reports")


def _file_response(run: ReportRun, user) -> FileResponse:
    path = services.report_run_file(run=run, user=user)
    response = FileResponse(open(path, "rb"), as_attachment=True, filename=run.file_name,  # noqa: SIM115
                            content_type=CONTENT_TYPES[run.format])
    response["X-Report-Run"] = str(run.pk)
    response["X-Content-SHA256"] = run.sha256
    return response


class _FileView(APIView):
    def perform_content_negotiation(self, request, force=False):
        # A client asking for the file's type (Accept: application/pdf) still gets it, and errors as JSON.
        return super().perform_content_negotiation(request, force=True)


class ReportListView(APIView):
    """GET /api/reports: the reports the caller may run, with their parameters (name, type, default, required)."""

    @extend_schema(responses={200: inline_serializer("ReportList", {
        "count": serializers.IntegerField(), "results": ReportDefinitionSerializer(many=True)})})
    def get(self, request):
        results = [selectors.definition_dict(d) for d in selectors.definitions_for(request.user)]
        return Response({"count": len(results), "results": results})


class ReportGenerateView(_FileView):
    """POST /api/reports/{id}/generate {"format": "pdf"|"csv", "parameters": {...}}.

    200 and the file when it is ready within KILN_REPORTS_WAIT_SECONDS (a small CSV is written at once);
    otherwise 202 and the run (status, progress, url to poll, download_url once done).
    """

    @extend_schema(parameters=[_REPORT_ID], request=GenerateInputSerializer,
                   responses={**_FILE, 202: ReportRunSerializer, 404: ErrorSerializer, 422: ErrorSerializer,
                              503: ErrorSerializer},
                   summary="Generate a report: the file (200) or a job to poll (202)")
    def post(self, request, report_id: str):
        definition = selectors.definition_get(slug=report_id, user=request.user)
        data = GenerateInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        run, small = services.report_request(definition=definition, user=request.user, **data.validated_data)
        if small:
            run = services.report_run_execute(run_id=run.pk) or run
        else:
            services.report_run_enqueue(run)
            run = _wait(run, settings.KILN_REPORTS_WAIT_SECONDS)
        if run.status == RunStatus.DONE:
            return _file_response(run, request.user)
        if run.status == RunStatus.FAILED and small:
            return Response({"detail": run.message, "run": selectors.run_dict(run)},
                            status=status.HTTP_422_UNPROCESSABLE_ENTITY)
        body = selectors.run_dict(run)
        return Response(body, status=status.HTTP_202_ACCEPTED, headers={"Location": body["url"]})


def _wait(run: ReportRun, seconds: float) -> ReportRun:
    """Poll the run until it finishes or `seconds` pass (the worker does the work; this thread only sleeps)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        time.sleep(0.1)
        run.refresh_from_db(fields=["status", "progress", "file_path", "file_name", "sha256", "size", "rows",
                                    "message", "finished_at", "started_at"])
        if run.status in FINISHED_STATUSES:
            break
    return run


class _RunListSerializer(serializers.BaseSerializer):
    def to_representation(self, instance):
        return selectors.run_dict(instance)


@extend_schema(responses=ReportRunSerializer(many=True))
class RunListView(generics.ListAPIView):
    """GET /api/reports/runs: my report runs (and scheduled ones of reports I may run), newest first."""

    serializer_class = _RunListSerializer

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # the schema generator has no user (check --deploy warned)
            return ReportRun.objects.none()
        return selectors.runs_for(self.request.user)


class RunDetailView(APIView):
    """GET /api/reports/runs/{id}: status, progress (percent), and the download URL once done."""

    @extend_schema(responses={200: ReportRunSerializer, 404: ErrorSerializer})
    def get(self, request, pk: int):
        return Response(selectors.run_dict(selectors.run_get(pk=pk, user=request.user)))


class RunDownloadView(_FileView):
    """GET /api/reports/runs/{id}/download: the file (audited); 409 before it is done."""

    @extend_schema(responses={**_FILE, 404: ErrorSerializer, 409: ErrorSerializer})
    def get(self, request, pk: int):
        return _file_response(selectors.run_get(pk=pk, user=request.user), request.user)


class RunCancelView(APIView):
    """POST /api/reports/runs/{id}/cancel: a queued run stops at once, a running one at its next step."""

    @extend_schema(request=None, responses={200: ReportRunSerializer, 404: ErrorSerializer, 409: ErrorSerializer})
    def post(self, request, pk: int):
        run = services.report_run_cancel(run=selectors.run_get(pk=pk, user=request.user), user=request.user)
        return Response(selectors.run_dict(run))
