"""GET /api/system/drivers (Engineer+): per connection state, last poll, poll time p50/p99, counters."""

from drf_spectacular.utils import extend_schema
from rest_framework.generics import GenericAPIView

from drivers.api.serializers import ConnectionStatusSerializer
from drivers.selectors import connection_queryset, connection_status_rows


class DriverStatusView(GenericAPIView):
    """Driver connection status (seed 000 `GET /api/system/drivers`), paginated like every list."""

    serializer_class = ConnectionStatusSerializer

    def get_queryset(self):
        return connection_queryset()

    @extend_schema(responses=ConnectionStatusSerializer(many=True))
    def get(self, request):
        page = self.paginate_queryset(self.get_queryset())
        return self.get_paginated_response(connection_status_rows(page))
