"""Choices for driver connections and tag addresses, with HMI colours next to them."""

from django.db import models


class Protocol(models.TextChoices):
    # Each protocol has its loop backend, named in settings.KILN_DRIVER_BACKENDS (drivers.backends).
    MODBUS_TCP = "modbus_tcp", "Modbus TCP"
    OPCUA = "opcua", "OPC UA"
    SPARKPLUG = "sparkplug", "MQTT Sparkplug B"
    MQTT_JSON = "mqtt_json", "MQTT (JSON topics)"


class OpcuaSecurity(models.TextChoices):
    """Security policy and message mode of an OPC UA session (asyncua's security string names them)."""

    NONE = "none", "None (no signing, no encryption)"
    SIGN = "Basic256Sha256_Sign", "Basic256Sha256 — Sign"
    SIGN_ENCRYPT = "Basic256Sha256_SignAndEncrypt", "Basic256Sha256 — Sign and encrypt"


class OpcuaVariant(models.TextChoices):
    """The OPC UA built-in type a node is written as. `auto`: the type the node's value has on the server."""

    AUTO = "auto", "auto (the node's own type)"
    BOOLEAN = "Boolean", "Boolean"
    SBYTE = "SByte", "SByte"
    BYTE = "Byte", "Byte"
    INT16 = "Int16", "Int16"
    UINT16 = "UInt16", "UInt16"
    INT32 = "Int32", "Int32"
    UINT32 = "UInt32", "UInt32"
    INT64 = "Int64", "Int64"
    UINT64 = "UInt64", "UInt64"
    FLOAT = "Float", "Float"
    DOUBLE = "Double", "Double"
    STRING = "String", "String"


class SparkplugType(models.IntegerChoices):
    """The Sparkplug B scalar datatypes (specification 6.4.16) Kiln reads and writes; their wire numbers."""

    INT8 = 1, "Int8"
    INT16 = 2, "Int16"
    INT32 = 3, "Int32"
    INT64 = 4, "Int64"
    UINT8 = 5, "UInt8"
    UINT16 = 6, "UInt16"
    UINT32 = 7, "UInt32"
    UINT64 = 8, "UInt64"
    FLOAT = 9, "Float"
    DOUBLE = 10, "Double"
    BOOLEAN = 11, "Boolean"
    STRING = 12, "String"
    DATETIME = 13, "DateTime"
    TEXT = 14, "Text"


class Table(models.TextChoices):
    COIL = "coil", "Coil (0x)"
    DISCRETE_INPUT = "discrete", "Discrete input (1x)"
    INPUT_REGISTER = "input", "Input register (3x)"
    HOLDING_REGISTER = "holding", "Holding register (4x)"


BIT_TABLES = {Table.COIL, Table.DISCRETE_INPUT}
WRITABLE_TABLES = {Table.COIL, Table.HOLDING_REGISTER}

# Modbus application protocol limits for one read request.
MAX_READ_REGISTERS = 125
MAX_READ_BITS = 2000
MAX_ADDRESS = 65535


class DataType(models.TextChoices):
    BOOL = "bool", "bool"
    INT16 = "int16", "int16"
    UINT16 = "uint16", "uint16"
    INT32 = "int32", "int32"
    UINT32 = "uint32", "uint32"
    FLOAT32 = "float32", "float32"
    FLOAT64 = "float64", "float64"
    STRING = "string", "string (N registers)"


NUMERIC_TYPES = {DataType.INT16, DataType.UINT16, DataType.INT32, DataType.UINT32, DataType.FLOAT32, DataType.FLOAT64}
INTEGER_TYPES = {DataType.INT16, DataType.UINT16, DataType.INT32, DataType.UINT32}


class WordOrder(models.TextChoices):
    BIG = "big", "Big endian (most significant word first, ABCD)"
    LITTLE = "little", "Little endian (least significant word first, CDAB)"


class ByteOrder(models.TextChoices):
    BIG = "big", "Big endian (AB within a register, Modbus standard)"
    LITTLE = "little", "Little endian (BA within a register)"


class ScanPeriod(models.IntegerChoices):
    """Scan classes: how often a tag is read. Tags of one connection and one period are polled together."""

    MS_100 = 100, "100 ms"
    MS_250 = 250, "250 ms"
    MS_500 = 500, "500 ms"
    S_1 = 1000, "1 s"
    S_2 = 2000, "2 s"
    S_5 = 5000, "5 s"
    S_10 = 10000, "10 s"
    S_60 = 60000, "60 s"


class ConnectionState(models.TextChoices):
    CONNECTED = "connected", "connected"
    CONNECTING = "connecting", "connecting"
    BACKOFF = "backoff", "waiting to reconnect"
    STOPPED = "stopped", "not polled"
    DISABLED = "disabled", "disabled"


CONNECTION_STATE_COLORS = {
    "connected": "#2e7d32",
    "connecting": "#f9a825",
    "backoff": "#c62828",
    "stopped": "#757575",
    "disabled": "#9e9e9e",
}
