from django.urls import path

from deploy.api import views

app_name = "deploy-api"

urlpatterns = [
    path("config/export", views.ConfigExportView.as_view(), name="config-export"),
    path("config/import", views.ConfigImportView.as_view(), name="config-import"),
    path("config/schema", views.ConfigSchemaView.as_view(), name="config-schema"),
    path("config/csv/<str:section>", views.ConfigCsvView.as_view(), name="config-csv"),
]
