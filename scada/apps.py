from django.apps import AppConfig


class ScadaConfig(AppConfig):
    name = "scada"
    verbose_name = "Kiln"
