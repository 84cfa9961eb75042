"""HMI pages for reports (namespace `reports`)."""

from django.urls import path

from reports import views

app_name = "reports"

urlpatterns = [path("reports/", views.reports_view, name="page")]
