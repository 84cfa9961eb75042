app_name = "drivers-api"

urlpatterns: list = []
