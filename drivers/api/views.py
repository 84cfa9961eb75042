"""GET /api/system/drivers (Engineer+): per connection state, last poll, poll time p50/p99, counters.
GET /api/system/drivers/{id}/browse (Engineer+): an OPC UA server's address space."""

import re

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.generics import GenericAPIView
from rest_framework.response import Response

from drivers.api.serializers import BrowseSerializer, ConnectionStatusSerializer
from drivers.choices import Protocol
from drivers.models import NODE_ID_RE, Connection
from drivers.selectors import connection_queryset, connection_status_rows
from scada.api.schema import ErrorSerializer
from scada.errors import BadRequest, KilnError, NotFound


class DriverStatusView(GenericAPIView):
    """Driver connection status (seed 000 `GET /api/system/drivers`), paginated like every list."""

    serializer_class = ConnectionStatusSerializer

    def get_queryset(self):
        return connection_queryset()

    @extend_schema(responses=ConnectionStatusSerializer(many=True))
    def get(self, request):
        page = self.paginate_queryset(self.get_queryset())
        return self.get_paginated_response(connection_status_rows(page))


class ServiceUnavailable(KilnError):
    status_code = 503
    default_detail = "Service unavailable."


class ConnectionBrowseView(GenericAPIView):
    """GET /api/system/drivers/{id}/browse?node=<NodeId> (Engineer+): an OPC UA server's nodes under `node`.

    Without `node`, the Objects folder. Variables carry their current type and value, for picking a NodeId.
    400: not an OPC UA connection or a malformed NodeId; 404: no such connection or node; 503: server unreachable.
    """

    serializer_class = BrowseSerializer

    @extend_schema(parameters=[OpenApiParameter("node", str, description="NodeId to browse (default: Objects).")],
                   responses={200: BrowseSerializer, 400: ErrorSerializer, 404: ErrorSerializer,
                              503: ErrorSerializer})
    def get(self, request, pk: int):
        connection = Connection.objects.filter(pk=pk).first() if pk <= 2 ** 63 - 1 else None
        if connection is None:
            raise NotFound("No driver connection with this id.")
        if connection.protocol != Protocol.OPCUA:
            raise BadRequest(f"Connection '{connection.name}' is not OPC UA: only OPC UA servers can be browsed.")
        node = request.query_params.get("node") or None
        if node is not None and not re.fullmatch(NODE_ID_RE, node):
            raise BadRequest("node: an OPC UA NodeId such as ns=2;s=Line1.Temp or i=85.")
        from drivers.opcua.browse import BrowseError, NodeMissing, opcua_browse

        try:
            result = opcua_browse(connection, node)
        except NodeMissing as exc:
            raise NotFound(str(exc))
        except BrowseError as exc:
            raise ServiceUnavailable(f"OPC UA server unavailable: {exc}")
        return Response(BrowseSerializer(result).data)
