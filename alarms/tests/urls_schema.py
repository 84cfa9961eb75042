"""Only the alarm routes, for the schema test (other apps' views are checked by their own tests)."""

from django.urls import include, path

urlpatterns = [path("api/", include("alarms.api.urls"))]
