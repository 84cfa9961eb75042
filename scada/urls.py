"""Root URLs: one line per app under /api/, the HMI pages, Django admin."""

from django.contrib import admin
from django.urls import include, path

admin.site.site_header = "Kiln SCADA configuration"
admin.site.site_title = "Kiln admin"
# A database outage met in middleware (session save, say) answers 503 like one met in a view (scada.outage).
handler500 = "scada.outage.server_error"

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/", include("scada.api.urls")),
    path("api/", include("accounts.api.urls")),
    # Order matters: literal routes (history, alarms/history, system/drivers) come before the tag catch-alls.
    path("api/", include("historian.api.urls")),
    path("api/", include("alarms.api.urls")),
    path("api/", include("drivers.api.urls")),
    path("api/", include("tags.api.urls")),
    path("", include("hmi.urls")),
]
