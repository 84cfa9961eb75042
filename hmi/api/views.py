"""Screens API: GET /api/screens (Operator+) lists the HMI screens with the tags each one uses."""

from rest_framework import generics

from hmi.api.serializers import ScreenSerializer
from hmi.selectors import screen_list


class ScreenListView(generics.ListAPIView):
    """GET /api/screens: every screen, in menu order, with the tags its bindings use."""

    serializer_class = ScreenSerializer

    def get_queryset(self):
        return screen_list()
