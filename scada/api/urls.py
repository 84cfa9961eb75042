from django.urls import path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from scada.api import views


class PublicSchemaView(SpectacularAPIView):
    authentication_classes: list = []


class PublicDocsView(SpectacularSwaggerView):
    authentication_classes: list = []


app_name = "scada-api"

urlpatterns = [
    path("schema/", PublicSchemaView.as_view(), name="schema"),
    path("docs/", PublicDocsView.as_view(url_name="scada-api:schema"), name="docs"),
    path("system/health", views.HealthView.as_view(), name="system-health"),
    path("system/status", views.StatusView.as_view(), name="system-status"),
]
