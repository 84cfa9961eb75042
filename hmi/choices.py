"""Choices for HMI screens: what a binding does to its SVG element, and what a click on it does."""

from django.db import models


class BindingKind(models.TextChoices):
    TEXT = "text", "value text (format and unit)"
    COLOR = "color", "colour by value range or state"
    FILL = "fill", "fill level"
    VISIBLE = "visible", "visibility"
    ROTATE = "rotate", "rotation"
    CLICK = "click", "click action"


class ClickAction(models.TextChoices):
    WRITE = "write", "open the write dialog of a tag"
    COMMAND = "command", "run a device command"
    DEVICE = "device", "open the faceplate of a device (its commands and setpoints)"
    SCREEN = "screen", "open another screen"
    TREND = "trend", "open a trend of a tag"
    FACEPLATE = "faceplate", "open the faceplate of a tag (value, quality, limits, alarms, trend, write)"


# HMI colours for alarm priorities and value qualities live with their choices in alarms/ and tags/; these
# are the screen-level defaults a binding falls back to when it names no colours of its own.
DEFAULT_STATE_COLORS = {"true": "#2e7d32", "false": "#9e9e9e"}
