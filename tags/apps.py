from django.apps import AppConfig


class TagsConfig(AppConfig):
    name = "tags"
    verbose_name = "Tags and devices"

    def ready(self):
        # Import every value consumer now, as Django builds MIDDLEWARE at start: a wrong path in
        # KILN_VALUE_CONSUMERS stops startup instead of the first poll cycle, and no batch pays for an import.
        from scada.extensions import extension_list

        extension_list("KILN_VALUE_CONSUMERS")

        # Per-process caches of tag configuration (values path, tag list pages) key on the version in Redis.
        # Services announce their changes; these receivers also catch every other save or delete of a Tag or
        # Machine (admin, shell, fixtures), at once and again on commit: a process that re-read the rows
        # before the commit cached them under the early version, and the second bump drops them.
        from django.db.models.signals import post_delete, post_save

        from tags.models import Machine, Tag

        for model in (Tag, Machine):
            post_save.connect(_config_saved, sender=model, dispatch_uid=f"tags-config-{model.__name__}-save")
            post_delete.connect(_config_saved, sender=model, dispatch_uid=f"tags-config-{model.__name__}-delete")


def _config_saved(sender, **kwargs) -> None:
    from django.db import transaction

    from tags.values import tag_config_changed

    tag_config_changed()
    transaction.on_commit(tag_config_changed)
