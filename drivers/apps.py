from django.apps import AppConfig


class DriversConfig(AppConfig):
    name = "drivers"
    verbose_name = "Drivers (PLC connections)"

    def ready(self):
        # The write router, the tag binding validator and the status provider are named in settings
        # (KILN_WRITE_ROUTER, KILN_TAG_VALIDATORS, KILN_STATUS_PROVIDERS); tags never imports drivers.
        from drivers import signals  # noqa: F401 - connects the config-version receivers
