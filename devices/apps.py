from django.apps import AppConfig


class DevicesConfig(AppConfig):
    """Seed 004's device API: sites' device instances, their member tags, tag writes through a device, commands.

    Code only: the rows it reads and writes (Site, DeviceType, DeviceTypeTag, DeviceCommand, Machine, Tag) are the
    tags app's models and tables, reached through tags' public modules (models, services, live, expressions).
    """

    name = "devices"
    verbose_name = "Devices (seed 004)"
