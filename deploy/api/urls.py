from django.urls import path

from deploy.api import views

app_name = "deploy-api"

urlpatterns = [
    path("config/export", views.ConfigExportView.as_view(), name="config-export"),
    path("config/import", views.ConfigImportView.as_view(), name="config-import"),
    path("config/schema", views.ConfigSchemaView.as_view(), name="config-schema"),
    path("config/csv/<str:section>", views.ConfigCsvView.as_view(), name="config-csv"),
    path("system/deploy", views.DeployView.as_view(), name="system-deploy"),
    path("system/deploy/receive", views.DeployReceiveView.as_view(), name="system-deploy-receive"),
    path("system/deploy/rollback", views.DeployRollbackView.as_view(), name="system-deploy-rollback"),
    path("system/deploy/versions", views.DeployVersionsView.as_view(), name="system-deploy-versions"),
]
