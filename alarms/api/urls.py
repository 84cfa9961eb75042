"""Alarm routes under /api/ (no trailing slash), and seed 004's device alarm routes.

These are included before the tags URLs (scada/urls.py), so `sites/{siteId}/devices/{deviceId}/alarms...`
is answered here while the rest of the device API stays with tags.
"""

from django.urls import path
from rest_framework.routers import SimpleRouter

from alarms.api import views

app_name = "alarms-api"

router = SimpleRouter(trailing_slash=False)
router.register("alarms", views.AlarmViewSet, basename="alarm")

urlpatterns = [
    *router.urls,
    path("sites/<str:site_id>/devices/<str:device_id>/alarms", views.DeviceAlarmListView.as_view(),
         name="device-alarm-list"),
    path("sites/<str:site_id>/devices/<str:device_id>/alarms/<str:alarm_id>/acknowledge",
         views.DeviceAlarmAcknowledgeView.as_view(), name="device-alarm-acknowledge"),
]
