"""Cache invalidation only: a saved or deleted alarm definition tells every process to reload its definitions."""

from django.db import transaction
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from alarms.models import AlarmDefinition
from alarms.runtime import alarm_config_changed


@receiver(post_save, sender=AlarmDefinition, dispatch_uid="alarms.definition_saved")
@receiver(post_delete, sender=AlarmDefinition, dispatch_uid="alarms.definition_deleted")
def _definition_changed(sender, **kwargs):
    # After commit: a process that reloads before it would read the old definitions and keep them.
    transaction.on_commit(alarm_config_changed)
