from django.urls import path

from drivers.api import views

app_name = "drivers-api"

urlpatterns = [
    path("system/drivers", views.DriverStatusView.as_view(), name="system-drivers"),
    path("system/drivers/<int:pk>/browse", views.ConnectionBrowseView.as_view(), name="system-drivers-browse"),
]
