"""Cache invalidation only (house style): a driver configuration change moves the drivers config version.

Poll loops re-plan and write routers refresh their bound-tag cache when it moves. Saves and deletes from the
admin, the shell, loaddata and cascades (a deleted tag deletes its binding) all pass through here.
"""

from django.db import transaction
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from drivers.models import Connection, MetricBinding, NodeBinding, TagBinding, TopicBinding
from drivers.runtime import drivers_config_changed


@receiver(post_save, sender=Connection)
@receiver(post_delete, sender=Connection)
@receiver(post_save, sender=TagBinding)
@receiver(post_delete, sender=TagBinding)
@receiver(post_save, sender=NodeBinding)
@receiver(post_delete, sender=NodeBinding)
@receiver(post_save, sender=MetricBinding)
@receiver(post_delete, sender=MetricBinding)
@receiver(post_save, sender=TopicBinding)
@receiver(post_delete, sender=TopicBinding)
def _driver_config_changed(sender, **kwargs):
    # After commit: a loop that re-plans at once must see the new rows, not the old ones.
    transaction.on_commit(drivers_config_changed)
