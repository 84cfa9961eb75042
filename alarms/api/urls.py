app_name = "alarms-api"

urlpatterns: list = []
