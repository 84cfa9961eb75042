from django.urls import path

from hmi.api import views

app_name = "hmi-api"

urlpatterns = [
    path("screens", views.ScreenListView.as_view(), name="screen-list"),
]
