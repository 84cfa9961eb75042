from django.urls import path

from hmi.api import views

app_name = "hmi-api"

urlpatterns = [
    path("screens", views.ScreenListView.as_view(), name="screen-list"),
    path("screens/<slug:slug>", views.ScreenDetailView.as_view(), name="screen-detail"),
    path("screens/<slug:slug>/versions", views.ScreenVersionListView.as_view(), name="screen-versions"),
    path("screens/<slug:slug>/versions/<int:number>/restore", views.ScreenVersionRestoreView.as_view(),
         name="screen-version-restore"),
    path("hmi/tag-picker", views.TagPickerView.as_view(), name="tag-picker"),
]
