"""OPC UA configuration: connection and node binding validation, the admin (audited), supervision arms it."""

import pytest
from django.core.exceptions import ValidationError

from accounts.models import AuditRecord
from drivers.models import Connection, NodeBinding, TagBinding
from drivers.services import drivers_supervise

pytestmark = pytest.mark.django_db


def messages(exc):
    return " ".join(m for ms in exc.value.message_dict.values() for m in ms)


@pytest.fixture
def opcua_connection(db):
    def make(name="ua-1", endpoint="opc.tcp://10.0.0.5:4841/plant", **kw):
        c = Connection(name=name, protocol="opcua", endpoint_url=endpoint, **kw)
        c.full_clean()
        c.save()
        return c

    return make


def node(tag, conn, node_id="ns=2;s=Line1.Temp", **kw):
    return NodeBinding(tag=tag, connection=conn, node_id=node_id, **kw)


def test_an_opcua_connection_takes_host_and_port_from_its_endpoint(opcua_connection):
    c = opcua_connection()
    assert (c.host, c.port) == ("10.0.0.5", 4841)
    assert opcua_connection(name="ua-2", endpoint="opc.tcp://plc.local/x").port == 4840  # the OPC UA default


@pytest.mark.parametrize("endpoint", ["", "http://10.0.0.5:4840", "opc.tcp://", "opc.tcp://h:99999/x"])
def test_it_refuses_an_endpoint_that_is_not_opc_tcp(opcua_connection, endpoint):
    with pytest.raises(ValidationError) as exc:
        opcua_connection(endpoint=endpoint)
    assert "opc.tcp://host:4840/path" in messages(exc)


def test_it_refuses_a_user_without_the_variable_holding_the_password(opcua_connection):
    with pytest.raises(ValidationError) as exc:
        opcua_connection(username="kiln")
    assert "needs the variable holding its password" in messages(exc)
    with pytest.raises(ValidationError):
        opcua_connection(username="kiln", password_env="lower-case")
    assert opcua_connection(username="kiln", password_env="KILN_UA_PASSWORD").password_env == "KILN_UA_PASSWORD"


def test_a_modbus_connection_still_needs_a_host_and_no_endpoint(db):
    with pytest.raises(ValidationError) as exc:
        Connection(name="plc", port=502).full_clean()
    assert "needs the PLC's host" in messages(exc)
    with pytest.raises(ValidationError):
        Connection(name="plc", host="h", endpoint_url="opc.tcp://h:4840").full_clean()


@pytest.mark.parametrize("node_id", ["ns=2;s=Line1.Temp", "i=2258", "nsu=urn:kiln:opcuasim;s=A.B",
                                     "ns=3;g=09087e75-8e5e-499b-954f-f2a9603db28a", "ns=1;b=M/RbKBsRVkePCePcx24oRA=="])
def test_it_accepts_nodeids_in_every_string_form(opcua_connection, make_tag, node_id):
    node(make_tag("Flow"), opcua_connection(), node_id=node_id).full_clean()


@pytest.mark.parametrize("node_id", ["", "Line1.Temp", "ns=x;s=A", "s=", "ns=2;i=abc", "ns=2;s=a\x00"])
def test_it_refuses_a_malformed_nodeid(opcua_connection, make_tag, node_id):
    with pytest.raises(ValidationError) as exc:
        node(make_tag("Flow"), opcua_connection(), node_id=node_id).full_clean()
    assert "node_id" in exc.value.message_dict


def test_it_refuses_binding_a_node_on_a_modbus_connection_and_an_address_on_an_opcua_one(
        opcua_connection, make_connection, make_tag):
    tag = make_tag("Flow")
    with pytest.raises(ValidationError) as exc:
        node(tag, make_connection()).full_clean()
    assert "is not OPC UA" in messages(exc)
    with pytest.raises(ValidationError) as exc:
        TagBinding(tag=tag, connection=opcua_connection(), table="holding", address=0, data_type="uint16").full_clean()
    assert "is not Modbus" in messages(exc)


def test_a_tag_is_fed_by_one_device_only(opcua_connection, make_connection, make_tag, bind):
    modbus_tag, ua_tag = make_tag("Flow"), make_tag("Level")
    bind(modbus_tag, make_connection())
    with pytest.raises(ValidationError) as exc:
        node(modbus_tag, opcua_connection()).full_clean()
    assert "already bound to a Modbus address" in messages(exc)
    node(ua_tag, Connection.objects.get(name="ua-1"), node_id="i=2258").save()
    with pytest.raises(ValidationError) as exc:
        TagBinding(tag=ua_tag, connection=make_connection(port=5021), table="holding", address=0,
                   data_type="uint16").full_clean()
    assert "already bound to an OPC UA node" in messages(exc)


def test_the_written_type_must_carry_the_tags_datatype_and_a_datatype_change_must_fit_it(opcua_connection, make_tag):
    conn = opcua_connection()
    with pytest.raises(ValidationError) as exc:
        node(make_tag("Running", datatype="BOOL"), conn, variant="Double").full_clean()
    assert "Tag 'Running' is BOOL: an OPC UA Double cannot carry it." in messages(exc)
    node(make_tag("Count", datatype="INT"), conn, node_id="i=1", variant="Int32").full_clean()
    speed = make_tag("Speed")
    node(speed, conn, variant="Float").save()
    speed.datatype = "STRING"
    with pytest.raises(ValidationError) as exc:
        speed.full_clean()
    assert "written as Float, which cannot carry STRING" in messages(exc)


def test_a_deadband_is_for_numeric_tags_only(opcua_connection, make_tag):
    with pytest.raises(ValidationError) as exc:
        node(make_tag("Status", datatype="STRING"), opcua_connection(), deadband=1.0).full_clean()
    assert "Only numeric tags have a deadband." in messages(exc)


def test_an_engineer_adds_an_opcua_connection_and_a_node_in_admin_both_audited(client, engineer, make_tag):
    client.force_login(engineer)
    r = client.post("/admin/drivers/connection/add/", {
        "name": "ua-line", "protocol": "opcua", "endpoint_url": "opc.tcp://127.0.0.1:4840/kiln", "security": "none",
        "port": 502, "unit_id": 1, "retries": 0, "merge_gap": 8, "session_timeout": 60, "publishing_interval": 100,
        "timeout": 1.0, "backoff_cap": 30, "enabled": "on"})
    assert r.status_code == 302, r.content.decode()[:2000]
    conn = Connection.objects.get(name="ua-line")
    assert (conn.host, conn.port) == ("127.0.0.1", 4840)
    tag = make_tag("Flow")
    r = client.post("/admin/drivers/nodebinding/add/", {
        "tag": tag.pk, "connection": conn.pk, "node_id": "ns=2;s=Line1.Flow", "variant": "auto",
        "sampling_interval": 500, "deadband": 0.5})
    assert r.status_code == 302, r.content.decode()[:2000]
    assert AuditRecord.objects.filter(action="driver.connection_create", object_id=str(conn.pk)).exists()
    record = AuditRecord.objects.get(action="driver.nodebinding_create")
    assert "ns=2;s=Line1.Flow" in str(record.new_value)
    assert client.get(f"/admin/drivers/connection/{conn.pk}/change/").status_code == 200


def test_supervision_arms_an_opcua_connection_with_nodes(opcua_connection, make_tag):
    conn = opcua_connection()
    node(make_tag("Flow"), conn).save()
    armed = []
    drivers_supervise(enqueue=armed.append)
    assert armed == [conn.pk]


def test_the_status_api_shows_an_opcua_connection_with_its_endpoint_nodes_and_rate(engineer_client, opcua_connection,
                                                                                   make_tag):
    import orjson

    from drivers.runtime import lease_key, stats_key
    from scada.redis import get_redis

    conn = opcua_connection()
    node(make_tag("Flow"), conn).save()
    node(make_tag("Level"), conn, node_id="ns=2;s=Line1.Level").save()
    r = get_redis()
    r.set(lease_key(conn.pk), "token")
    r.hset(stats_key(conn.pk), mapping={"json": orjson.dumps({"state": "connected", "values_per_s": 2000.0,
                                                               "tags": 2, "tags_bad": 0})})
    row = engineer_client.get("/api/system/drivers").json()["results"][0]
    assert (row["protocol"], row["endpoint_url"], row["tags"], row["values_per_s"]) == (
        "opcua", "opc.tcp://10.0.0.5:4841/plant", 2, 2000.0)
