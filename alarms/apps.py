from django.apps import AppConfig


class AlarmsConfig(AppConfig):
    name = "alarms"
    verbose_name = "Alarms"

    def ready(self):
        # Alarms hang off tags without tags importing them: the value consumer and the device alarms provider are
        # named in settings (KILN_VALUE_CONSUMERS, KILN_DEVICE_ALARMS_PROVIDER); the WebSocket handlers here.
        from alarms import consumers, signals  # noqa: F401 (signals: cache invalidation receivers)

        consumers.register()
