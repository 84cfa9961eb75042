"""HMI screens: a sanitized SVG drawing whose elements are bound to tags."""

from django.db import models
from django.db.models import Q

from scada.models import BaseModel

__all__ = ["Screen", "ScreenVersion"]


class Screen(BaseModel):
    """An operator screen: an SVG drawing (sanitized on save by hmi.services) and its tag bindings.

    `bindings` is a list of objects, each binding one SVG element (by id) to a tag:
    - {"element": "t1-level-text", "kind": "text", "tag": "Tank_Level", "decimals": 1}
    - {"element": "p1-body", "kind": "color", "tag": "pump-01.Running", "states": {"true": "#2e7d32"}}
    - {"element": "t1-fill", "kind": "fill", "tag": "Tank_Level", "min": 0, "max": 100}
    - {"element": "v1-open", "kind": "visible", "tag": "Inlet_Valve_Open", "when": true}
    - {"element": "p1-rotor", "kind": "rotate", "tag": "pump-01.Speed", "min": 0, "max": 3000}
    - {"element": "p1", "kind": "click", "action": "device", "device": "pump-01"}
    Click actions: write (a tag's write dialog), command (a device command), device (its faceplate),
    screen (another screen), trend (a trend of a tag). hmi.bindings validates the shapes.
    """

    name = models.CharField(max_length=200)
    slug = models.SlugField(max_length=64, unique=True)
    description = models.TextField(blank=True)
    svg = models.TextField(help_text="The sanitized SVG drawing (scripts, handlers and external references removed).")
    bindings = models.JSONField(default=list, blank=True)
    is_home = models.BooleanField(default=False, help_text="The screen operators land on after login.")
    sort_order = models.PositiveSmallIntegerField(default=100)
    version = models.PositiveIntegerField(default=0, help_text="The number of the latest ScreenVersion.")

    class Meta:
        ordering = ["sort_order", "name"]
        verbose_name = "screen"
        constraints = [
            models.UniqueConstraint(fields=["is_home"], condition=Q(is_home=True), name="screen_one_home"),
        ]

    def __str__(self):
        return self.name

    @property
    def tag_names(self) -> list[str]:
        from hmi.bindings import binding_tag_names

        return binding_tag_names(self.bindings or [])


class ScreenVersion(models.Model):
    """One saved state of a screen (name, drawing, bindings), numbered 1, 2, … per screen.

    Every save through hmi.services.screen_save appends one; restoring an earlier version saves its content
    again as a new version, so the history only grows and says who changed what when. Deleting a screen deletes
    its versions (the audit trail keeps the deleted screen's last state).
    """

    screen = models.ForeignKey(Screen, on_delete=models.CASCADE, related_name="versions")
    number = models.PositiveIntegerField()
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    svg = models.TextField()
    bindings = models.JSONField(default=list, blank=True)
    created = models.DateTimeField(auto_now_add=True)
    created_by = models.CharField(max_length=150, blank=True, help_text="Username of who saved it (blank: system).")
    note = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["screen", "-number"]
        constraints = [models.UniqueConstraint(fields=["screen", "number"], name="screen_version_unique")]

    def __str__(self):
        return f"{self.screen.slug} v{self.number}"
