"""Topic bindings: a tag fed by the JSON messages of an MQTT topic (imported by drivers.models)."""

from django.core.exceptions import ValidationError
from django.core.validators import RegexValidator
from django.db import models

from drivers.choices import Protocol
from scada.models import BaseModel

__all__ = ["TopicBinding", "json_path_get", "JsonPathMissing"]

# A topic filter: levels split by '/', '+' a whole level, '#' only as the last level (MQTT 3.1.1, 4.7).
TOPIC_RE = r"^(?!.*#.)(?!.*[^/]#)(?!.*\+[^/])(?!.*[^/]\+)[^\x00]{1,255}$"
# A path into the JSON document: dotted keys, list indexes as numbers ("data.temp", "values.0.v"); empty: the
# whole document is the value.
JSON_PATH_RE = r"^([^.\x00]{1,100}(\.[^.\x00]{1,100}){0,19})?$"


class JsonPathMissing(LookupError):
    """The document has nothing at the path."""


def json_path_get(doc, path: str):
    """The value at `path` ("a.b.0.c") in a parsed JSON document; JsonPathMissing when there is none."""
    if not path:
        return doc
    for part in path.split("."):
        if isinstance(doc, dict):
            if part not in doc:
                raise JsonPathMissing(part)
            doc = doc[part]
        elif isinstance(doc, list) and part.isdigit() and int(part) < len(doc):
            doc = doc[int(part)]
        else:
            raise JsonPathMissing(part)
    return doc


class TopicBinding(BaseModel):
    """Where one tag's value comes from on a plain MQTT connection: the JSON messages of a topic (filter).

    Every message on a matching topic is parsed as JSON and the value at `json_path` recorded, stamped with its
    arrival time. A message that is not JSON, or has nothing (or an object or list) at the path, makes the tag
    BAD config_error with its last value.
    """

    tag = models.OneToOneField(to="tags.Tag", on_delete=models.CASCADE, related_name="mqtt_topic")
    connection = models.ForeignKey(to="drivers.Connection", on_delete=models.PROTECT, related_name="topics")
    topic = models.CharField(max_length=255, validators=[RegexValidator(TOPIC_RE, "An MQTT topic or filter: '+' for "
                                                                                  "one level, '#' only at the end.")],
                             help_text="e.g. plant/line1/temp or plant/+/temp")
    json_path = models.CharField(max_length=255, blank=True,
                                 validators=[RegexValidator(JSON_PATH_RE, "Dotted keys, e.g. data.temp or values.0.v")],
                                 help_text="Where the value is in the JSON message, e.g. data.temp (empty: the "
                                           "whole message is the value).")

    class Meta:
        ordering = ["connection", "topic", "json_path"]
        verbose_name = "MQTT JSON topic"
        constraints = [models.UniqueConstraint(fields=["connection", "topic", "json_path"],
                                               name="topicbinding_unique_topic_path")]

    def __str__(self):
        tag = self.tag.name if self.tag_id else "?"
        return f"{tag} @ {self.connection.name if self.connection_id else '?'}:{self.topic}:{self.json_path}"

    def clean(self):
        from drivers.models import MetricBinding, NodeBinding, TagBinding

        if self.connection_id is not None and self.connection.protocol != Protocol.MQTT_JSON:
            raise ValidationError({"connection": f"Connection '{self.connection.name}' is not plain MQTT (JSON)."})
        if self.tag_id is not None:
            for model in (TagBinding, NodeBinding, MetricBinding):
                if model.objects.filter(tag_id=self.tag_id).exists():
                    raise ValidationError({"tag": f"Tag '{self.tag.name}' is already bound to another device."})
            if self.tag.is_writable:
                raise ValidationError({"tag": f"Tag '{self.tag.name}' is writable: MQTT JSON topics are read-only "
                                              f"in Kiln."})
