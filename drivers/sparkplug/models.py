"""Sparkplug B configuration: metric bindings (a tag fed by one metric) and discovered metrics.

Imported by drivers.models (the app's models module), so both are `drivers.*` models with drivers' migrations.
A metric is named by (edge node, device or "", metric name) within its connection's group. Discovered metrics
are written by the connection's loop from NBIRTH/DBIRTH; they never become tags by themselves: an engineer
accepts them in admin (drivers.sparkplug.services.discovered_metrics_accept), audited.
"""

from django.core.exceptions import ValidationError
from django.core.validators import RegexValidator
from django.db import models

from drivers.choices import Protocol, SparkplugType
from scada.models import BaseModel

__all__ = ["MetricBinding", "DiscoveredMetric", "sparkplug_types_for"]

_ID_RE = r"^[^/+#\x00-\x1f]{1,64}$"
_ID_MESSAGE = "One MQTT topic level: no '/', '+' or '#'."
_INTS = {SparkplugType.INT8, SparkplugType.INT16, SparkplugType.INT32, SparkplugType.INT64, SparkplugType.UINT8,
         SparkplugType.UINT16, SparkplugType.UINT32, SparkplugType.UINT64}


def sparkplug_types_for(tag_datatype: str) -> set[int]:
    """The Sparkplug datatypes a tag of this Kiln datatype can carry."""
    return {"BOOL": {SparkplugType.BOOLEAN}, "STRING": {SparkplugType.STRING, SparkplugType.TEXT},
            "INT": _INTS | {SparkplugType.DATETIME},
            "REAL": _INTS | {SparkplugType.FLOAT, SparkplugType.DOUBLE}}.get(tag_datatype, set())


class MetricBinding(BaseModel):
    """Where one tag's value comes from on a Sparkplug B connection: an edge node's (or device's) metric.

    `datatype` is the metric's Sparkplug type, taken from its birth when the binding is made from a discovered
    metric; a write goes out as an NCMD (node metric) or DCMD (device metric) of that type.
    """

    tag = models.OneToOneField(to="tags.Tag", on_delete=models.CASCADE, related_name="sparkplug_metric")
    connection = models.ForeignKey(to="drivers.Connection", on_delete=models.PROTECT, related_name="metrics")
    edge_node = models.CharField(max_length=64, validators=[RegexValidator(_ID_RE, _ID_MESSAGE)])
    device = models.CharField(max_length=64, blank=True, validators=[RegexValidator(_ID_RE, _ID_MESSAGE)],
                              help_text="Empty: a metric of the edge node itself.")
    metric = models.CharField(max_length=255, help_text="The metric's name as its birth declares it.")
    datatype = models.PositiveSmallIntegerField(choices=SparkplugType.choices, default=SparkplugType.DOUBLE)

    class Meta:
        ordering = ["connection", "edge_node", "device", "metric"]
        verbose_name = "Sparkplug metric"
        constraints = [models.UniqueConstraint(fields=["connection", "edge_node", "device", "metric"],
                                               name="metricbinding_unique_metric")]

    def __str__(self):
        tag = self.tag.name if self.tag_id else "?"
        where = "/".join(p for p in (self.edge_node, self.device) if p)
        return f"{tag} @ {self.connection.name if self.connection_id else '?'}:{where}:{self.metric}"

    def clean(self):
        from drivers.models import NodeBinding, TagBinding, TopicBinding

        if self.connection_id is not None and self.connection.protocol != Protocol.SPARKPLUG:
            raise ValidationError({"connection": f"Connection '{self.connection.name}' is not Sparkplug B."})
        if self.tag_id is None:
            return
        if any(m.objects.filter(tag_id=self.tag_id).exists() for m in (TagBinding, NodeBinding, TopicBinding)):
            raise ValidationError({"tag": f"Tag '{self.tag.name}' is already bound to a Modbus address, an OPC UA "
                                          f"node or an MQTT topic."})
        if self.datatype not in sparkplug_types_for(self.tag.datatype):
            raise ValidationError({"datatype": f"Tag '{self.tag.name}' is {self.tag.datatype}: a Sparkplug "
                                               f"{SparkplugType(self.datatype).label} metric cannot carry it."})


class DiscoveredMetric(BaseModel):
    """A metric an edge node declared in its birth (NBIRTH/DBIRTH), kept for an engineer to accept as a tag.

    Written by the connection's loop (one upsert per metric it has not seen in this run); `last_seen` is the
    time of the last birth that declared it. `datatype` is the raw Sparkplug number (arrays, datasets and
    templates included, which Kiln cannot bind: the admin says so).
    """

    connection = models.ForeignKey(to="drivers.Connection", on_delete=models.CASCADE, related_name="discovered")
    edge_node = models.CharField(max_length=64)
    device = models.CharField(max_length=64, blank=True)
    metric = models.CharField(max_length=255)
    datatype = models.PositiveSmallIntegerField(null=True, blank=True)
    last_seen = models.DateTimeField()

    class Meta:
        ordering = ["connection", "edge_node", "device", "metric"]
        verbose_name = "discovered Sparkplug metric"
        constraints = [models.UniqueConstraint(fields=["connection", "edge_node", "device", "metric"],
                                               name="discoveredmetric_unique_metric")]

    def __str__(self):
        where = "/".join(p for p in (self.edge_node, self.device) if p)
        return f"{where}:{self.metric}"

    @property
    def datatype_label(self) -> str:
        try:
            return SparkplugType(self.datatype).label
        except ValueError:
            return f"unsupported ({self.datatype})"
