from django.apps import AppConfig


class DriversConfig(AppConfig):
    name = "drivers"
    verbose_name = "Drivers (PLC connections)"

    def ready(self):
        from drivers import signals  # noqa: F401 - connects the config-version receivers
        from drivers.models import tag_fits_its_binding
        from drivers.writes import ModbusWriteRouter
        from scada.api.views import register_status_provider
        from tags.models import register_tag_validator
        from tags.writers import register_write_router

        register_write_router(ModbusWriteRouter())
        register_tag_validator("drivers-binding", tag_fits_its_binding)
        register_status_provider(_drivers_status, needs_database=True)


def _drivers_status():
    from drivers.selectors import drivers_summary

    return "drivers", drivers_summary()


_drivers_status.status_name = "drivers"
