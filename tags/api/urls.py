app_name = "tags-api"

urlpatterns: list = []
