"""Seed 004 device routes under /api/ (namespace `devices-api`, e.g. `devices-api:device-detail`), no trailing slash."""

from django.urls import path

from devices.api import views as devices

app_name = "devices-api"

urlpatterns = [
    path("sites/<str:site_id>/devices", devices.DeviceListView.as_view(), name="device-list"),
    path("sites/<str:site_id>/devices/<str:device_id>", devices.DeviceDetailView.as_view(), name="device-detail"),
    path("sites/<str:site_id>/devices/<str:device_id>/tags", devices.DeviceTagListView.as_view(),
         name="device-tag-list"),
    path("sites/<str:site_id>/devices/<str:device_id>/tags/<str:tag_name>", devices.DeviceTagDetailView.as_view(),
         name="device-tag-detail"),
    path("sites/<str:site_id>/devices/<str:device_id>/commands/<str:command_id>", devices.DeviceCommandView.as_view(),
         name="device-command"),
]
