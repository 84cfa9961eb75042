"""Driver connections (one per PLC) and tag bindings (where a tag's value lives in that PLC).

Configuration only: the poller (drivers.poller) reads these rows when it starts and again whenever the drivers
configuration version moves (drivers.runtime.config_version), never per cycle.
"""

from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator, RegexValidator
from django.db import models
from django.db.models import Q

from drivers import codec
from drivers.choices import (
    BIT_TABLES,
    MAX_ADDRESS,
    MAX_READ_REGISTERS,
    NUMERIC_TYPES,
    WRITABLE_TABLES,
    ByteOrder,
    DataType,
    OpcuaSecurity,
    OpcuaVariant,
    Protocol,
    ScanPeriod,
    Table,
    WordOrder,
)
from scada.models import BaseModel
from tags.models import slug_validator

__all__ = ["Connection", "TagBinding", "NodeBinding", "MetricBinding", "DiscoveredMetric", "TopicBinding", "NODE_ID_RE"]

# An OPC UA NodeId in its string form (ns=2;s=Line1.Temp, i=2258, nsu=urn:x;s=..., g=<guid>, b=<base64>).
# Checked here without importing asyncua: the web process never loads the OPC UA stack for a form.
NODE_ID_RE = (r"^((ns=\d{1,5}|nsu=[^;\x00]{1,400});)?"
              r"(i=\d{1,10}|s=[^\x00]{1,400}|g=[0-9A-Fa-f-]{36}|b=[A-Za-z0-9+/=]{1,400})$")
ENV_NAME_RE = r"^[A-Z_][A-Z0-9_]{0,99}$"
# A Sparkplug group, edge node or device id: one MQTT topic level, no wildcards (Sparkplug 3.0, 4.1.1).
SPARKPLUG_ID_RE = r"^[^/+#\x00-\x1f]{1,64}$"


class Connection(BaseModel):
    """One PLC reached over one socket: where it is, how long to wait for it and how to back off when it is gone.

    A connection is polled by exactly one worker at a time (a Redis lease); its tags are read in one loop per
    connection, one schedule per scan class.
    """

    name = models.CharField(max_length=64, unique=True, validators=[slug_validator])
    description = models.CharField(max_length=500, blank=True)
    protocol = models.CharField(max_length=16, choices=Protocol.choices, default=Protocol.MODBUS_TCP)
    host = models.CharField(max_length=255, blank=True,
                            help_text="PLC host name or IP address (OPC UA: taken from the endpoint URL).")
    port = models.PositiveIntegerField(default=502, validators=[MinValueValidator(1), MaxValueValidator(65535)])
    unit_id = models.PositiveSmallIntegerField(
        default=1, validators=[MaxValueValidator(255)], help_text="Modbus unit (device) id, 0–255."
    )
    timeout = models.FloatField(
        default=1.0, validators=[MinValueValidator(0.05), MaxValueValidator(30)],
        help_text="Seconds to wait for a reply. Tags turn BAD within one scan period plus timeout × (retries + 1).",
    )
    retries = models.PositiveSmallIntegerField(
        default=0, validators=[MaxValueValidator(5)],
        help_text="Extra tries of a read that got no reply before the connection is declared lost. "
                  "Writes are never retried (a lost reply leaves the outcome unknown).",
    )
    backoff_cap = models.FloatField(
        default=30.0, validators=[MinValueValidator(0.5), MaxValueValidator(3600)],
        help_text="Longest wait (seconds) between reconnect attempts; waits double from 0.5 s up to this.",
    )
    merge_gap = models.PositiveSmallIntegerField(
        default=8, validators=[MaxValueValidator(100)],
        help_text="Unused addresses one read may span to merge two ranges (0 merges only adjacent addresses). "
                  "A read the PLC refuses is split per tag automatically.",
    )
    enabled = models.BooleanField(default=True)
    # --- OPC UA (protocol "opcua"); see docs/drivers.md ---
    endpoint_url = models.CharField(
        max_length=500, blank=True, help_text="OPC UA endpoint, e.g. opc.tcp://10.0.0.5:4840/plant (OPC UA only).")
    security = models.CharField(
        max_length=40, choices=OpcuaSecurity.choices, default=OpcuaSecurity.NONE,
        help_text="Signed or encrypted sessions use Kiln's application certificate (made on first use in "
                  "KILN_OPCUA_PKI_DIR) and need the server's certificate trusted below.")
    server_certificate_sha256 = models.CharField(
        max_length=64, blank=True, validators=[RegexValidator(r"^[0-9a-f]{64}$", "64 lower-case hex digits.")],
        help_text="SHA-256 fingerprint of the server certificate an engineer trusts. Empty: a secure session is "
                  "refused and the connection's last error shows the fingerprint the server presented.")
    username = models.CharField(max_length=200, blank=True, help_text="Empty: anonymous.")
    password_env = models.CharField(
        max_length=100, blank=True, validators=[RegexValidator(ENV_NAME_RE, "An environment variable name.")],
        help_text="Name of the environment variable holding the password (secrets never go in the database).")
    session_timeout = models.FloatField(
        default=60.0, validators=[MinValueValidator(1), MaxValueValidator(3600)],
        help_text="OPC UA session timeout, seconds.")
    publishing_interval = models.PositiveIntegerField(
        default=100, validators=[MinValueValidator(10), MaxValueValidator(60000)],
        help_text="OPC UA subscription publishing interval, ms: how often the server sends the changes it sampled.")
    # --- MQTT Sparkplug B (protocol "sparkplug"): host and port are the broker's; username and password_env too ---
    tls = models.BooleanField(default=False, help_text="Sparkplug: connect to the broker over TLS (system CAs).")
    group_id = models.CharField(
        max_length=64, blank=True, validators=[RegexValidator(SPARKPLUG_ID_RE, "No '/', '+' or '#'.")],
        help_text="Sparkplug group: Kiln subscribes to spBv1.0/<group>/#.")
    host_id = models.CharField(
        max_length=64, blank=True, validators=[RegexValidator(SPARKPLUG_ID_RE, "No '/', '+' or '#'.")],
        help_text="Sparkplug host application id: Kiln publishes its STATE on spBv1.0/STATE/<host id>.")

    class Meta:
        ordering = ["name"]
        verbose_name = "driver connection"
        constraints = [
            models.CheckConstraint(condition=Q(port__gte=1, port__lte=65535), name="connection_port_range"),
            models.CheckConstraint(condition=Q(unit_id__lte=255), name="connection_unit_id_range"),
            models.CheckConstraint(condition=Q(timeout__gt=0), name="connection_timeout_positive"),
            models.CheckConstraint(condition=Q(backoff_cap__gt=0), name="connection_backoff_cap_positive"),
        ]

    def __str__(self):
        return self.name

    def clean(self):
        if self.protocol == Protocol.OPCUA:
            from urllib.parse import urlsplit

            url = (self.endpoint_url or "").strip()
            try:
                parts = urlsplit(url)
                port = parts.port or 4840
            except ValueError:
                parts, port = None, None
            if parts is None or parts.scheme != "opc.tcp" or not parts.hostname or port is None:
                raise ValidationError({"endpoint_url": "An OPC UA endpoint looks like opc.tcp://host:4840/path."})
            # host and port follow the endpoint, so the status API and the admin list show where it is.
            self.endpoint_url, self.host, self.port = url, parts.hostname, port
            if self.username and not self.password_env:
                raise ValidationError({"password_env": "A user name needs the variable holding its password."})
        elif self.protocol == Protocol.MQTT_JSON:
            if not self.host:
                raise ValidationError({"host": "An MQTT connection needs the broker's host."})
            if self.username and not self.password_env:
                raise ValidationError({"password_env": "A user name needs the variable holding its password."})
        elif self.protocol == Protocol.SPARKPLUG:
            errors = {f: f"A Sparkplug connection needs its {label}." for f, label in (
                ("host", "broker's host"), ("group_id", "group id"), ("host_id", "host application id"))
                if not getattr(self, f)}
            if self.username and not self.password_env:
                errors["password_env"] = "A user name needs the variable holding its password."
            if self.endpoint_url:
                errors["endpoint_url"] = "Only OPC UA connections have an endpoint URL."
            if errors:
                raise ValidationError(errors)
        else:
            if not self.host:
                raise ValidationError({"host": "A Modbus connection needs the PLC's host."})
            if self.endpoint_url:
                raise ValidationError({"endpoint_url": "Only OPC UA connections have an endpoint URL."})


class TagBinding(BaseModel):
    """Where one tag's value lives in a PLC: table, address, encoding, scaling and scan class.

    Raw values are scaled linearly to engineering units: eu = eu_low + (raw − raw_low) · (eu_high − eu_low) /
    (raw_high − raw_low); writes apply the inverse. Deadband is the tag's own (Tag.deadband).
    """

    tag = models.OneToOneField(to="tags.Tag", on_delete=models.CASCADE, related_name="binding")
    connection = models.ForeignKey(to="drivers.Connection", on_delete=models.PROTECT, related_name="bindings")
    table = models.CharField(max_length=16, choices=Table.choices, default=Table.HOLDING_REGISTER)
    address = models.PositiveIntegerField(
        validators=[MaxValueValidator(MAX_ADDRESS)], help_text="Zero-based protocol address (holding 40001 is 0)."
    )
    data_type = models.CharField(max_length=8, choices=DataType.choices, default=DataType.UINT16)
    string_length = models.PositiveSmallIntegerField(
        null=True, blank=True, validators=[MinValueValidator(1), MaxValueValidator(MAX_READ_REGISTERS)],
        help_text="Registers of a string (2 characters each); only for data type string.",
    )
    word_order = models.CharField(max_length=8, choices=WordOrder.choices, default=WordOrder.BIG)
    byte_order = models.CharField(max_length=8, choices=ByteOrder.choices, default=ByteOrder.BIG)
    raw_low = models.FloatField(null=True, blank=True)
    raw_high = models.FloatField(null=True, blank=True)
    eu_low = models.FloatField(null=True, blank=True)
    eu_high = models.FloatField(null=True, blank=True)
    scan_period = models.PositiveIntegerField(choices=ScanPeriod.choices, default=ScanPeriod.S_1)

    class Meta:
        ordering = ["connection", "table", "address"]
        verbose_name = "tag address"
        verbose_name_plural = "tag addresses"
        constraints = [
            models.CheckConstraint(condition=Q(address__lte=MAX_ADDRESS), name="tagbinding_address_range"),
            models.CheckConstraint(
                condition=(Q(raw_low__isnull=True, raw_high__isnull=True, eu_low__isnull=True, eu_high__isnull=True)
                           | Q(raw_low__isnull=False, raw_high__isnull=False, eu_low__isnull=False,
                               eu_high__isnull=False)),
                name="tagbinding_scaling_all_or_none",
            ),
        ]
        indexes = [models.Index(fields=["connection", "table", "address"], name="tagbinding_conn_table_addr")]

    def __str__(self):
        tag = self.tag.name if self.tag_id else "?"
        return f"{tag} @ {self.connection.name if self.connection_id else '?'}:{self.table}:{self.address}"

    @property
    def count(self) -> int:
        """Registers (or bits) this binding occupies."""
        return codec.register_count(self.data_type, self.string_length)

    @property
    def end(self) -> int:
        return self.address + self.count - 1

    @property
    def scaling(self) -> codec.Scaling | None:
        if self.raw_low is None:
            return None
        return codec.Scaling(self.raw_low, self.raw_high, self.eu_low, self.eu_high)

    def clean(self):
        errors: dict[str, str] = {}
        if self.table in BIT_TABLES and self.data_type != DataType.BOOL:
            errors["data_type"] = f"{Table(self.table).label} holds single bits: use data type bool."
        if self.data_type == DataType.STRING:
            if not self.string_length:
                errors["string_length"] = "A string needs its length in registers (2 characters each)."
        elif self.string_length:
            errors["string_length"] = "Only string tags have a length in registers."
        scale = [self.raw_low, self.raw_high, self.eu_low, self.eu_high]
        if any(v is not None for v in scale):
            if any(v is None for v in scale):
                errors["raw_low"] = "Scaling needs all four of raw low/high and EU low/high (or none of them)."
            elif self.data_type not in NUMERIC_TYPES:
                errors["raw_low"] = "Only numeric data types can be scaled."
            elif self.raw_low == self.raw_high:
                errors["raw_high"] = "raw high must differ from raw low."
            elif self.eu_low == self.eu_high:
                errors["eu_high"] = "EU high must differ from EU low."
        if errors:
            raise ValidationError(errors)
        if self.address is not None and self.table:
            count = self.count
            if self.address + count - 1 > MAX_ADDRESS:
                raise ValidationError({"address": (
                    f"Addresses {self.address}–{self.address + count - 1} ({count} "
                    f"{'bits' if self.table in BIT_TABLES else 'registers'}) exceed the "
                    f"{Table(self.table).label} table (0–{MAX_ADDRESS}).")})
        if self.connection_id is not None and self.connection.protocol != Protocol.MODBUS_TCP:
            raise ValidationError({"connection": f"Connection '{self.connection.name}' is not Modbus: bind OPC UA "
                                                 f"tags by node (OPC UA nodes)."})
        if self.tag_id is not None:
            self._clean_against_tag()
        if self.connection_id is not None and self.address is not None:
            self._clean_overlap()

    def _clean_against_tag(self):
        if any(m.objects.filter(tag_id=self.tag_id).exists() for m in (NodeBinding, MetricBinding, TopicBinding)):
            raise ValidationError({"tag": f"Tag '{self.tag.name}' is already bound to an OPC UA node, a Sparkplug "
                                          f"metric or an MQTT topic."})
        problem = self.tag_mismatch(self.tag)
        if problem == "datatype":
            wanted = self.data_types_for(self.tag)
            raise ValidationError({"data_type": (
                f"Tag '{self.tag.name}' is {self.tag.datatype}: use data type "
                f"{' or '.join(sorted(str(w) for w in wanted))}.")})
        if problem == "writable":
            raise ValidationError({"table": (
                f"Tag '{self.tag.name}' is writable but {Table(self.table).label} is read-only: use a coil or a "
                f"holding register, or make the tag read-only.")})

    @staticmethod
    def data_types_for(tag) -> set[str]:
        """The PLC data types a tag of this datatype can be bound as."""
        from tags.choices import DataType as TagType

        return {TagType.BOOL: {DataType.BOOL}, TagType.STRING: {DataType.STRING}}.get(tag.datatype, NUMERIC_TYPES)

    def tag_mismatch(self, tag) -> str | None:
        """"datatype" or "writable" when this binding cannot carry `tag` as configured, else None."""
        if self.data_type not in self.data_types_for(tag):
            return "datatype"
        if tag.is_writable and self.table not in WRITABLE_TABLES:
            return "writable"
        return None


    def _clean_overlap(self):
        start, end = self.address, self.end
        # A binding spans at most MAX_READ_REGISTERS registers, so only those starting that far back can reach us.
        candidates = (TagBinding.objects.filter(connection_id=self.connection_id, table=self.table,
                                                address__lte=end, address__gte=max(0, start - MAX_READ_REGISTERS))
                      .exclude(pk=self.pk).select_related("tag"))
        for other in candidates:
            if other.address <= end and other.end >= start:
                unit = "bits" if self.table in BIT_TABLES else "registers"
                raise ValidationError({"address": (
                    f"{Table(self.table).label} {unit} {start}–{end} overlap tag '{other.tag.name}' "
                    f"({other.address}–{other.end}) on connection '{self.connection.name}'.")})


_INT_VARIANTS = {OpcuaVariant.SBYTE, OpcuaVariant.BYTE, OpcuaVariant.INT16, OpcuaVariant.UINT16, OpcuaVariant.INT32,
                 OpcuaVariant.UINT32, OpcuaVariant.INT64, OpcuaVariant.UINT64}


class NodeBinding(BaseModel):
    """Where one tag's value lives on an OPC UA server: a node, monitored by subscription.

    The server samples the node every `sampling_interval` ms and reports changes larger than `deadband` (an
    absolute data-change filter, applied by the server, so unchanged values never cross the network); the
    connection's subscription publishes them every `Connection.publishing_interval` ms.
    """

    tag = models.OneToOneField(to="tags.Tag", on_delete=models.CASCADE, related_name="opcua_node")
    connection = models.ForeignKey(to="drivers.Connection", on_delete=models.PROTECT, related_name="nodes")
    node_id = models.CharField(max_length=500, validators=[RegexValidator(NODE_ID_RE, "An OPC UA NodeId such as "
                                                                                     "ns=2;s=Line1.Temp or i=2258.")],
                               help_text="NodeId, e.g. ns=2;s=Line1.Temp (the browse view fills it in).")
    browse_path = models.CharField(max_length=500, blank=True, help_text="Where the node was found (information).")
    variant = models.CharField(max_length=8, choices=OpcuaVariant.choices, default=OpcuaVariant.AUTO,
                               help_text="The OPC UA type written to the node.")
    sampling_interval = models.PositiveIntegerField(
        default=1000, validators=[MaxValueValidator(3_600_000)], help_text="ms; 0 = as fast as the server can.")
    deadband = models.FloatField(default=0.0, validators=[MinValueValidator(0)],
                                 help_text="Absolute deadband the server applies (0: every change).")

    class Meta:
        ordering = ["connection", "node_id"]
        verbose_name = "OPC UA node"
        constraints = [models.UniqueConstraint(fields=["connection", "node_id"], name="nodebinding_unique_node"),
                       models.CheckConstraint(condition=Q(deadband__gte=0), name="nodebinding_deadband_positive")]

    def __str__(self):
        tag = self.tag.name if self.tag_id else "?"
        return f"{tag} @ {self.connection.name if self.connection_id else '?'}:{self.node_id}"

    @staticmethod
    def variants_for(tag) -> set[str]:
        """The OPC UA types a tag of this datatype can be bound to (auto always: checked at run time)."""
        from tags.choices import DataType as TagType

        floats = {OpcuaVariant.FLOAT, OpcuaVariant.DOUBLE}
        return {OpcuaVariant.AUTO} | {TagType.BOOL: {OpcuaVariant.BOOLEAN}, TagType.STRING: {OpcuaVariant.STRING},
                                      TagType.INT: _INT_VARIANTS, TagType.REAL: _INT_VARIANTS | floats}[tag.datatype]

    def clean(self):
        if self.connection_id is not None and self.connection.protocol != Protocol.OPCUA:
            raise ValidationError({"connection": f"Connection '{self.connection.name}' is not OPC UA."})
        if self.tag_id is not None:
            if any(m.objects.filter(tag_id=self.tag_id).exists() for m in (TagBinding, MetricBinding,
                                                                           TopicBinding)):
                raise ValidationError({"tag": f"Tag '{self.tag.name}' is already bound to a Modbus address, a "
                                              f"Sparkplug metric or an MQTT topic."})
            if self.variant not in self.variants_for(self.tag):
                raise ValidationError({"variant": f"Tag '{self.tag.name}' is {self.tag.datatype}: an OPC UA "
                                                  f"{self.variant} cannot carry it."})
        if self.deadband and self.tag_id is not None and self.tag.datatype in ("BOOL", "STRING"):
            raise ValidationError({"deadband": "Only numeric tags have a deadband."})


def tag_fits_its_binding(tag) -> None:
    """Tag validator (settings.KILN_TAG_VALIDATORS, run by Tag.clean): a tag change must not break the tag's binding.

    Without it an engineer could make a tag on an input register writable (every write would then fail at the
    PLC) or, in admin, give a bound tag a datatype its binding cannot decode (every poll would be BAD).
    """
    if tag.pk is None:
        return
    binding = TagBinding.objects.filter(tag_id=tag.pk).select_related("connection").first()
    if binding is None:
        if tag.is_writable and TopicBinding.objects.filter(tag_id=tag.pk).exists():
            raise ValidationError({"is_writable": f"Tag '{tag.name}' is fed by an MQTT JSON topic, which Kiln does "
                                                  f"not write: remove that binding first."})
        node = NodeBinding.objects.filter(tag_id=tag.pk).select_related("connection").first()
        if node is not None and node.variant not in node.variants_for(tag):
            raise ValidationError({"datatype": (
                f"Tag '{tag.name}' is bound to OPC UA node {node.node_id} written as {node.variant}, which cannot "
                f"carry {tag.datatype}: change or remove that binding first.")})
        return
    where = f"{binding.connection.name} {Table(binding.table).label} {binding.address}"
    problem = binding.tag_mismatch(tag)
    if problem == "datatype":
        raise ValidationError({"datatype": (
            f"Tag '{tag.name}' is bound to {where} as {binding.data_type}, which cannot carry {tag.datatype}: "
            f"change or remove that binding first.")})
    if problem == "writable":
        raise ValidationError({"is_writable": (
            f"Tag '{tag.name}' is bound to read-only {where}: bind it to a coil or a holding register before "
            f"making it writable.")})


# Sparkplug B metric bindings, discovered metrics and MQTT JSON topic bindings live in their protocols' modules
# (this one stays below 550 lines).
from drivers.mqttjson.models import TopicBinding  # noqa: E402
from drivers.sparkplug.models import DiscoveredMetric, MetricBinding  # noqa: E402
