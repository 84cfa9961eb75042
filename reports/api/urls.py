"""Report routes under /api/ (no trailing slash)."""

from django.urls import path

from reports.api import views

app_name = "reports-api"

urlpatterns = [
    path("reports", views.ReportListView.as_view(), name="report-list"),
    path("reports/runs", views.RunListView.as_view(), name="run-list"),
    path("reports/runs/<int:pk>", views.RunDetailView.as_view(), name="run-detail"),
    path("reports/runs/<int:pk>/download", views.RunDownloadView.as_view(), name="run-download"),
    path("reports/runs/<int:pk>/cancel", views.RunCancelView.as_view(), name="run-cancel"),
    path("reports/<str:report_id>/generate", views.ReportGenerateView.as_view(), name="report-generate"),
]
