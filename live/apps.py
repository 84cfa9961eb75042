from django.apps import AppConfig


class LiveConfig(AppConfig):
    name = "live"
    verbose_name = "Live push (WebSocket)"

    def ready(self):
        # Live push is a value consumer like the historian and alarms (settings.KILN_VALUE_CONSUMERS, first):
        # one channel-layer message per batch.
        # Other apps' /ws messages (settings.KILN_LIVE_MESSAGE_HANDLERS / _EVENT_HANDLERS), resolved once here
        # so a wrong dotted path fails at startup; again when a test overrides either setting.
        from django.core.signals import setting_changed

        from live.consumers import load_handlers

        load_handlers()
        setting_changed.connect(_handlers_changed, dispatch_uid="live-handlers")


def _handlers_changed(setting, **kwargs) -> None:
    if setting in ("KILN_LIVE_MESSAGE_HANDLERS", "KILN_LIVE_EVENT_HANDLERS"):
        from live.consumers import load_handlers

        load_handlers()
