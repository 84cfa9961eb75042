"""Seed 004 device routes, included by tags/api/urls.py (namespace `tags-api`), e.g. `tags-api:device-detail`."""

from django.urls import path

from tags.api import devices

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
