"""Sparkplug B services: accepting discovered metrics as tags (the only way a discovered metric becomes a tag)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from django.core.exceptions import ValidationError
from django.db import transaction

from accounts.audit import audit_record
from drivers.choices import SparkplugType
from drivers.models import DiscoveredMetric, MetricBinding
from scada.errors import KilnError

__all__ = ["discovered_metrics_accept", "AcceptResult", "tag_name_for", "tag_datatype_for"]

_INTS = {SparkplugType.INT8, SparkplugType.INT16, SparkplugType.INT32, SparkplugType.INT64, SparkplugType.UINT8,
         SparkplugType.UINT16, SparkplugType.UINT32, SparkplugType.UINT64, SparkplugType.DATETIME}


@dataclass
class AcceptResult:
    created: list[str] = field(default_factory=list)  # tag names
    skipped: list[str] = field(default_factory=list)  # "<metric>: why"


def tag_datatype_for(datatype: int | None) -> str | None:
    """The Kiln datatype a Sparkplug metric of this type becomes; None when Kiln cannot carry it (arrays...)."""
    if datatype == SparkplugType.BOOLEAN:
        return "BOOL"
    if datatype in (SparkplugType.STRING, SparkplugType.TEXT):
        return "STRING"
    if datatype in _INTS:
        return "INT"
    if datatype in (SparkplugType.FLOAT, SparkplugType.DOUBLE):
        return "REAL"
    return None


def tag_name_for(d: DiscoveredMetric, prefix: str = "") -> str:
    """`<prefix><node>.<device>.<metric>` in a tag name's alphabet (others → '_'), at most 128 characters."""
    raw = prefix + ".".join(p for p in (d.edge_node, d.device, d.metric) if p)
    name = re.sub(r"[^A-Za-z0-9_.-]", "_", raw)
    if not name[:1].isalpha():
        name = "SP_" + name
    return name[:128]


@transaction.atomic
def discovered_metrics_accept(*, user, metrics: list[DiscoveredMetric], machine_id: str = "", prefix: str = "",
                              writable: bool = False) -> AcceptResult:
    """Make a tag and its metric binding for each discovered metric an engineer accepted; audited per tag.

    The tag goes on `machine_id` (made when missing), or when empty on a machine named after the metric's edge
    node. A metric already bound, of a type Kiln cannot carry, or whose tag name is taken is skipped with its
    reason (the rest are still accepted). Writable tags are written back as NCMD/DCMD.
    """
    from tags.services import tag_create

    result = AcceptResult()
    for d in metrics:
        label = str(d)
        datatype = tag_datatype_for(d.datatype)
        if datatype is None:
            result.skipped.append(f"{label}: a {d.datatype_label} metric cannot be a tag")
            continue
        if MetricBinding.objects.filter(connection_id=d.connection_id, edge_node=d.edge_node, device=d.device,
                                        metric=d.metric).exists():
            result.skipped.append(f"{label}: already bound to a tag")
            continue
        name = tag_name_for(d, prefix)
        machine = machine_id or re.sub(r"[^A-Za-z0-9_.-]", "_", d.edge_node)
        try:
            with transaction.atomic():
                tag = tag_create(user=user, machine_id=machine, name=name, datatype=datatype,
                                 is_writable=writable, description=f"Sparkplug {label}"[:500])
                b = MetricBinding(tag=tag, connection_id=d.connection_id, edge_node=d.edge_node, device=d.device,
                                  metric=d.metric, datatype=d.datatype)
                b.full_clean()
                b.save()
                audit_record(action="driver.metricbinding_create", user=user, object_type="metricbinding",
                             object_id=b.pk, new_value={"tag": name, "edge_node": d.edge_node, "device": d.device,
                                                        "metric": d.metric, "datatype": d.datatype},
                             reason="accepted from discovered Sparkplug metrics")
        except KilnError as exc:
            result.skipped.append(f"{label}: {exc.detail}")
            continue
        except ValidationError as exc:
            result.skipped.append(f"{label}: {'; '.join(exc.messages)}")
            continue
        result.created.append(name)
    return result
