"""The foundation's own API routes alone (scada + accounts), for checks that must not depend on other apps'
work in progress, such as the OpenAPI warnings of the views this foundation owns."""

from django.urls import include, path

urlpatterns = [
    path("api/", include("scada.api.urls")),
    path("api/", include("accounts.api.urls")),
]
