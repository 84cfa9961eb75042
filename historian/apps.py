from django.apps import AppConfig


class HistorianConfig(AppConfig):
    name = "historian"
