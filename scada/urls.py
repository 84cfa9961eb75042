"""Root URLs: one line per app under /api/, the HMI pages, Django admin."""

from django.contrib import admin
from django.urls import include, path

admin.site.site_header = "Kiln SCADA configuration"
admin.site.site_title = "Kiln admin"

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/", include("scada.api.urls")),
    path("api/", include("accounts.api.urls")),
]
