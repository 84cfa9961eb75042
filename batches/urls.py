"""HMI pages for batches (namespace `batches`): list, start form, batch page, EBR review and close."""

from django.urls import path

from batches import views

app_name = "batches"

urlpatterns = [
    path("batches/", views.batch_list_view, name="list"),
    path("batches/start/", views.batch_start_view, name="start"),
    path("batches/<int:pk>/", views.batch_view, name="detail"),
    path("batches/<int:pk>/review/", views.batch_review_view, name="review"),
]
