from django.apps import AppConfig


class HistorianConfig(AppConfig):
    name = "historian"
    verbose_name = "Historian"

    def ready(self):
        # The historian subscribes to the values service; tags never imports historian (docs/architecture.md).
        from historian.buffer import historian_buffer_append, historian_status_provider
        from historian.services import historian_tag_deleted
        from scada.api.views import register_status_provider
        from tags import services as tag_services
        from tags.values import register_value_consumer

        register_value_consumer("historian", historian_buffer_append, backfill=True)
        register_status_provider(historian_status_provider)
        # Deleting a tag deletes its history (seed 000): tags runs its tag-deleted hooks once the delete commits.
        tag_services.register_tag_deleted_hook("historian", historian_tag_deleted)
