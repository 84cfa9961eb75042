from django.apps import AppConfig


class AlarmsConfig(AppConfig):
    name = "alarms"
    verbose_name = "Alarms"

    def ready(self):
        # Alarms hang off tags and live without either importing them: the value consumer, the device alarms
        # provider and the /ws message handlers are named in settings (KILN_VALUE_CONSUMERS,
        # KILN_DEVICE_ALARMS_PROVIDER, KILN_LIVE_MESSAGE_HANDLERS).
        from alarms import signals  # noqa: F401 (cache invalidation receivers)
