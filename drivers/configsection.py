"""Drivers' configuration sections (settings.KILN_CONFIG_SECTIONS): driver connections and tag bindings.

No secret lives on a connection: an OPC UA password stays in the environment, and the bundle carries only the
name of the variable that holds it (`password_env`). A field that ever holds a secret must stay out of `fields`.
"""

from __future__ import annotations

from types import SimpleNamespace

from django.core.exceptions import ValidationError

from drivers.choices import (
    BIT_TABLES,
    MAX_ADDRESS,
    ByteOrder,
    DataType,
    OpcuaSecurity,
    OpcuaVariant,
    Protocol,
    ScanPeriod,
    SparkplugType,
    Table,
    WordOrder,
)
from drivers.codec import register_count
from drivers.models import Connection, MetricBinding, NodeBinding, TagBinding, TopicBinding
from drivers.runtime import drivers_config_changed
from drivers.sparkplug.models import sparkplug_types_for
from scada.configsections import Field, ModelSection

__all__ = ["ConnectionSection", "BindingSection", "NodeBindingSection", "MetricBindingSection",
           "TopicBindingSection"]


class ConnectionSection(ModelSection):
    """Driver connections (one per PLC), keyed by name."""

    name = "connections"
    model = Connection
    key_fields = ("name",)
    fields = (
        Field("name", max_length=64),
        Field("description", default="", max_length=500),
        Field("protocol", choices=tuple(Protocol.values), default=Protocol.MODBUS_TCP.value),
        Field("host", default="", max_length=255),
        Field("port", kind="int", default=502, minimum=1, maximum=65535),
        Field("unit_id", kind="int", default=1, minimum=0, maximum=255),
        Field("timeout", kind="float", default=1.0, minimum=0.05, maximum=30),
        Field("retries", kind="int", default=0, minimum=0, maximum=5),
        Field("backoff_cap", kind="float", default=30.0, minimum=0.5, maximum=3600),
        Field("merge_gap", kind="int", default=8, minimum=0, maximum=100),
        Field("enabled", kind="bool", default=True),
        Field("endpoint_url", default="", max_length=500),
        Field("security", choices=tuple(OpcuaSecurity.values), default=OpcuaSecurity.NONE.value),
        Field("server_certificate_sha256", default="", max_length=64),
        Field("username", default="", max_length=200),
        Field("password_env", default="", max_length=100),
        Field("session_timeout", kind="float", default=60.0, minimum=1, maximum=3600),
        Field("publishing_interval", kind="int", default=100, minimum=10, maximum=60000),
        Field("tls", kind="bool", default=False),
        Field("group_id", default="", max_length=64),
        Field("host_id", default="", max_length=64),
    )

    def normalize(self, item):
        item = super().normalize(item)
        if item["protocol"] == Protocol.OPCUA:
            # Connection.clean derives host and port from an OPC UA endpoint; the bundle stores them as saved.
            obj = self.build(item)
            try:
                obj.clean()
            except (ValidationError, TypeError, ValueError):
                return item  # check() reports it
            item["host"], item["port"] = obj.host, obj.port
        return item

    def committed(self) -> None:
        drivers_config_changed()


class BindingSection(ModelSection):
    """Tag bindings (where a tag's value lives in a PLC), keyed by tag name: a tag has at most one."""

    name = "bindings"
    model = TagBinding
    key_fields = ("tag",)
    csv = True
    fields = (
        Field("tag", kind="ref", ref="tags", path="tag__name"),
        Field("connection", kind="ref", ref="connections", path="connection__name"),
        Field("table", choices=tuple(Table.values), default=Table.HOLDING_REGISTER.value),
        Field("address", kind="int", minimum=0, maximum=MAX_ADDRESS),
        Field("data_type", choices=tuple(DataType.values), default=DataType.UINT16.value),
        Field("string_length", kind="int", null=True, default=None, minimum=1, maximum=125),
        Field("word_order", choices=tuple(WordOrder.values), default=WordOrder.BIG.value),
        Field("byte_order", choices=tuple(ByteOrder.values), default=ByteOrder.BIG.value),
        Field("raw_low", kind="float", null=True, default=None),
        Field("raw_high", kind="float", null=True, default=None),
        Field("eu_low", kind="float", null=True, default=None),
        Field("eu_high", kind="float", null=True, default=None),
        Field("scan_period", kind="int", choices=tuple(ScanPeriod.values), default=int(ScanPeriod.S_1)),
    )

    def check(self, items, bundle, fresh=None):
        problems = super().check(items, bundle, fresh)
        tags = bundle.get("tags", {})
        spans: dict[tuple[str, str], list[tuple[int, int, str]]] = {}
        for key, item in items.items():
            tag = tags.get(item["tag"]) if fresh is None or key in fresh else None
            if tag is not None:
                binding = self._built.get(key) or self.build(item)  # the instance super().check() validated
                # The rule TagBinding.clean applies against the stored tag, here against the bundle's tag.
                problem = binding.tag_mismatch(SimpleNamespace(datatype=tag["datatype"],
                                                               is_writable=tag["is_writable"]))
                if problem == "datatype":
                    wanted = " or ".join(sorted(str(w) for w in TagBinding.data_types_for(
                        SimpleNamespace(datatype=tag["datatype"]))))
                    problems.append((key, f"data_type: tag '{item['tag']}' is {tag['datatype']}: use {wanted}"))
                elif problem == "writable":
                    problems.append((key, f"table: tag '{item['tag']}' is writable but {item['table']} is "
                                          f"read-only"))
            connection = bundle.get("connections", {}).get(item["connection"])
            if connection is not None and connection["protocol"] != Protocol.MODBUS_TCP:
                problems.append((key, f"connection: '{item['connection']}' is not Modbus: bind OPC UA tags in "
                                      f"section nodes"))
            if item["tag"] in bundle.get("nodes", {}):
                problems.append((key, f"tag: '{item['tag']}' is also bound to an OPC UA node"))
            if item["data_type"] != DataType.STRING or item["string_length"]:
                # Every binding takes part (an unchanged one may overlap a new one); its end without a model row.
                end = item["address"] + register_count(item["data_type"], item["string_length"]) - 1
                spans.setdefault((item["connection"], item["table"]), []).append((item["address"], end, key))
        # Overlaps per connection and table: sorted by start, each span against the furthest end seen so far.
        for (conn, table), found in spans.items():
            found.sort()
            reach, owner = -1, ""
            for start, end, key in found:
                if start <= reach:
                    unit = "bits" if table in BIT_TABLES else "registers"
                    problems.append((key, f"address: {table} {unit} {start}–{end} overlap tag '{owner}' on "
                                          f"connection '{conn}'"))
                if end > reach:
                    reach, owner = end, key
        return problems

    def committed(self) -> None:
        drivers_config_changed()


class NodeBindingSection(ModelSection):
    """OPC UA node bindings, keyed by tag name: a tag has one binding, a Modbus address or a node."""

    name = "nodes"
    model = NodeBinding
    key_fields = ("tag",)
    fields = (
        Field("tag", kind="ref", ref="tags", path="tag__name"),
        Field("connection", kind="ref", ref="connections", path="connection__name"),
        Field("node_id", max_length=500),
        Field("browse_path", default="", max_length=500),
        Field("variant", choices=tuple(OpcuaVariant.values), default=OpcuaVariant.AUTO.value),
        Field("sampling_interval", kind="int", default=1000, minimum=0, maximum=3_600_000),
        Field("deadband", kind="float", default=0.0, minimum=0),
    )

    def check(self, items, bundle, fresh=None):
        problems = super().check(items, bundle, fresh)
        tags, connections = bundle.get("tags", {}), bundle.get("connections", {})
        seen: dict[tuple[str, str], str] = {}
        for key, item in items.items():
            connection = connections.get(item["connection"])
            if connection is not None and connection["protocol"] != Protocol.OPCUA:
                problems.append((key, f"connection: '{item['connection']}' is not OPC UA"))
            tag = tags.get(item["tag"])
            if tag is not None:
                if item["variant"] not in NodeBinding.variants_for(SimpleNamespace(datatype=tag["datatype"])):
                    problems.append((key, f"variant: tag '{item['tag']}' is {tag['datatype']}: an OPC UA "
                                          f"{item['variant']} cannot carry it"))
                if item["deadband"] and tag["datatype"] in ("BOOL", "STRING"):
                    problems.append((key, "deadband: only numeric tags have a deadband"))
            node = (item["connection"], item["node_id"])
            if node in seen:
                problems.append((key, f"node_id: {item['node_id']} on '{item['connection']}' is also bound to "
                                      f"tag '{seen[node]}'"))
            seen[node] = key
        return problems

    def committed(self) -> None:
        drivers_config_changed()


class MetricBindingSection(ModelSection):
    """Sparkplug B metric bindings, keyed by tag name (discovered metrics are runtime state, not configuration)."""

    name = "metrics"
    model = MetricBinding
    key_fields = ("tag",)
    fields = (
        Field("tag", kind="ref", ref="tags", path="tag__name"),
        Field("connection", kind="ref", ref="connections", path="connection__name"),
        Field("edge_node", max_length=64),
        Field("device", default="", max_length=64),
        Field("metric", max_length=255),
        Field("datatype", kind="int", choices=tuple(SparkplugType.values), default=int(SparkplugType.DOUBLE)),
    )

    def check(self, items, bundle, fresh=None):
        problems = super().check(items, bundle, fresh)
        tags, connections = bundle.get("tags", {}), bundle.get("connections", {})
        seen: dict[tuple, str] = {}
        for key, item in items.items():
            connection = connections.get(item["connection"])
            if connection is not None and connection["protocol"] != Protocol.SPARKPLUG:
                problems.append((key, f"connection: '{item['connection']}' is not Sparkplug B"))
            tag = tags.get(item["tag"])
            if tag is not None and item["datatype"] not in sparkplug_types_for(tag["datatype"]):
                problems.append((key, f"datatype: tag '{item['tag']}' is {tag['datatype']}: a Sparkplug "
                                      f"{SparkplugType(item['datatype']).label} metric cannot carry it"))
            for other in ("bindings", "nodes", "topics"):
                if item["tag"] in bundle.get(other, {}):
                    problems.append((key, f"tag: '{item['tag']}' is also bound in section {other}"))
            metric = (item["connection"], item["edge_node"], item["device"], item["metric"])
            if metric in seen:
                problems.append((key, f"metric: {'/'.join(metric[1:3])}:{item['metric']} on '{item['connection']}' "
                                      f"is also bound to tag '{seen[metric]}'"))
            seen[metric] = key
        return problems

    def committed(self) -> None:
        drivers_config_changed()


class TopicBindingSection(ModelSection):
    """MQTT JSON topic bindings, keyed by tag name."""

    name = "topics"
    model = TopicBinding
    key_fields = ("tag",)
    fields = (
        Field("tag", kind="ref", ref="tags", path="tag__name"),
        Field("connection", kind="ref", ref="connections", path="connection__name"),
        Field("topic", max_length=255),
        Field("json_path", default="", max_length=255),
    )

    def check(self, items, bundle, fresh=None):
        problems = super().check(items, bundle, fresh)
        tags, connections = bundle.get("tags", {}), bundle.get("connections", {})
        for key, item in items.items():
            connection = connections.get(item["connection"])
            if connection is not None and connection["protocol"] != Protocol.MQTT_JSON:
                problems.append((key, f"connection: '{item['connection']}' is not MQTT (JSON topics)"))
            tag = tags.get(item["tag"])
            if tag is not None and tag["is_writable"]:
                problems.append((key, f"tag: '{item['tag']}' is writable: MQTT JSON topics are read-only"))
            for other in ("bindings", "nodes", "metrics"):
                if item["tag"] in bundle.get(other, {}):
                    problems.append((key, f"tag: '{item['tag']}' is also bound in section {other}"))
        return problems

    def committed(self) -> None:
        drivers_config_changed()
