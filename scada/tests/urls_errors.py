"""The real URL conf plus views that fail on purpose, to prove a server error answers JSON without a traceback."""

from django.urls import include, path
from rest_framework.permissions import AllowAny
from rest_framework.views import APIView

SECRET_IN_TRACEBACK = "db password is hunter2"


class ExplodingApiView(APIView):
    authentication_classes: list = []
    permission_classes = [AllowAny]

    def get(self, request):
        raise RuntimeError(SECRET_IN_TRACEBACK)


def exploding_plain_view(request):
    raise RuntimeError(SECRET_IN_TRACEBACK)


urlpatterns = [
    path("api/test/explode", ExplodingApiView.as_view()),
    path("api/test/explode-plain", exploding_plain_view),
    path("", include("scada.urls")),
]
