from django.apps import AppConfig


class AlarmsConfig(AppConfig):
    name = "alarms"
    verbose_name = "Alarms"

    def ready(self):
        # Alarms subscribe to tags (values, device detail) and plug their /ws messages into live through
        # settings (KILN_LIVE_MESSAGE_HANDLERS); neither tags nor live imports alarms.
        from alarms import signals  # noqa: F401 (cache invalidation receivers)
        from alarms.evaluation import alarms_on_values
        from alarms.selectors import device_alarms
        from tags.device_services import register_active_alarms_provider
        from tags.values import register_value_consumer

        register_value_consumer("alarms", alarms_on_values)
        register_active_alarms_provider(device_alarms)
