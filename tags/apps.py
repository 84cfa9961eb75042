from django.apps import AppConfig


class TagsConfig(AppConfig):
    name = "tags"
    verbose_name = "Tags and devices"

    def ready(self):
        # Live push is a value consumer like the historian and alarms: one channel-layer message per batch.
        from tags.push import push_changes
        from tags.values import register_value_consumer

        register_value_consumer("push", push_changes)
