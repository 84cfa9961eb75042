"""Root URLs: one line per app under /api/, the HMI pages, Django admin."""

from django.contrib import admin
from django.urls import include, path

from hmi import errors as hmi_errors

admin.site.site_header = "Kiln SCADA configuration"
admin.site.site_title = "Kiln admin"
# A database outage met in middleware (session save, say) answers 503 like one met in a view (scada.outage).
handler500 = "scada.outage.server_error"
# Kiln's own 404/403 pages, with the HMI's nav and alarm banner (hmi/errors.py); under /api/ they stay JSON.
handler404 = "hmi.errors.page_not_found"
handler403 = "hmi.errors.permission_denied"

urlpatterns = [
    path("favicon.ico", hmi_errors.favicon),
    # Before admin's own: a signed-in Operator or Supervisor gets a page that explains, not admin's login form.
    path("admin/login/", hmi_errors.admin_login, name="admin-login"),
    path("admin/", admin.site.urls),
    path("api/", include("scada.api.urls")),
    path("api/", include("accounts.api.urls")),
    # Order does not matter: no app's route shadows another's (tags' converters refuse the reserved names
    # `history`, `write`, `stats`, `batch`; scada/tests/test_urls.py proves it with the order reversed).
    path("api/", include("historian.api.urls")),
    path("api/", include("alarms.api.urls")),
    path("api/", include("batches.api.urls")),
    path("api/", include("drivers.api.urls")),
    path("api/", include("tags.api.urls")),
    path("api/", include("devices.api.urls")),  # seed 004: sites/{siteId}/devices/...
    path("api/", include("live.api.urls")),  # the /ws protocol: /api/ws/asyncapi.json, /api/docs/ws/
    path("api/", include("reports.api.urls")),
    path("api/", include("deploy.api.urls")),  # configuration bundles, deploys Test→Production
    path("", include("batches.urls")),  # HMI pages /batches/...
    path("", include("reports.urls")),  # HMI page /reports/
    path("", include("hmi.urls")),
]
