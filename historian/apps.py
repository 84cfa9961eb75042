from django.apps import AppConfig


class HistorianConfig(AppConfig):
    name = "historian"
    verbose_name = "Historian"

    def ready(self):
        # The historian hangs off tags without tags importing it (docs/architecture.md, "Extending Kiln"): its
        # value consumer and status provider are named in settings (KILN_VALUE_CONSUMERS, KILN_STATUS_PROVIDERS),
        # and deleting a tag deletes its history through the tags.signals.tag_deleted receiver connected here.
        from historian import health, signals  # noqa: F401 - health registers the check --deploy check
