"""Configuration versions: what a production instance received (and rolled back to), what a test instance sent."""

from django.db import models
from django.db.models import Q

__all__ = ["ConfigVersion", "VersionKind"]


class VersionKind(models.TextChoices):
    RECEIVED = "received", "deployed here"
    ROLLBACK = "rollback", "rolled back here"
    SENT = "sent", "deployed to production"


class ConfigVersion(models.Model):
    """One numbered configuration version, append-only.

    On production (`received`, `rollback`) `number` counts 1, 2, 3... and `bundle` is the whole configuration as it
    stood right after the version was applied, so a rollback can return to it exactly. On a test instance (`sent`)
    `number` is the version production answered and `bundle` what was sent. `diff` is the import's answer (what
    changed, field by field); `signature` is the deploy's e-signature as the signing instance recorded it.
    """

    number = models.PositiveIntegerField()
    kind = models.CharField(max_length=16, choices=VersionKind.choices)
    created = models.DateTimeField(auto_now_add=True, db_index=True)
    deployed_by = models.CharField(max_length=150, help_text="Who deployed (or rolled back), on the instance "
                                                             "where they signed.")
    source = models.CharField(max_length=200, blank=True, help_text="The instance the configuration came from.")
    target = models.CharField(max_length=500, blank=True, help_text="Where it was sent (test instance only).")
    comment = models.CharField(max_length=1000, blank=True)
    base_version = models.PositiveIntegerField(null=True, blank=True)
    rolled_back_to = models.PositiveIntegerField(null=True, blank=True)
    changes = models.PositiveIntegerField(default=0)
    summary = models.CharField(max_length=2000, blank=True)
    diff = models.JSONField(default=dict, blank=True)
    bundle = models.JSONField(default=dict, blank=True)
    bundle_sha256 = models.CharField(max_length=64)
    signature = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-created", "-id"]
        verbose_name = "configuration version"
        constraints = [
            # Production's numbers are one sequence across deploys and rollbacks; two concurrent deploys on the
            # same base cannot both become version N.
            models.UniqueConstraint(fields=["number"], condition=Q(kind__in=["received", "rollback"]),
                                    name="configversion_unique_number"),
        ]

    def __str__(self):
        return f"v{self.number} ({self.kind})"
