app_name = "historian-api"

urlpatterns: list = []
