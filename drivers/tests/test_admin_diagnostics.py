"""The engineer's connection admin (issue 16 §3): live state from the running loop, a real "Test connection"
(audited) against a real pymodbus PLC and a real asyncua server, and the sorted, exportable address map."""

import csv
import io
from datetime import UTC, datetime

import pytest

from accounts.models import AuditRecord
from drivers.models import Connection, NodeBinding
from drivers.opcua.sim import OpcuaSim, SimThread
from drivers.poller import ConnectionPoller
from drivers.runtime import RedisRuntime
from drivers.selectors import connection_status_rows
from drivers.services import connection_plan_load
from tests.servers import free_port

pytestmark = pytest.mark.django_db

CHANGELIST = "/admin/drivers/connection/"


@pytest.fixture
def engineer_web(client, engineer):
    client.force_login(engineer)
    return client


@pytest.fixture(scope="module")
def ua_sim():
    thread = SimThread(OpcuaSim(port=free_port(), variables={"Line1.Temp": (72.5, "Double", False),
                                                             "Line1.Count": (3, "Int32", False)})).start()
    yield thread
    thread.close()


def ua_connection(endpoint, name="ua-sim"):
    c = Connection(name=name, protocol="opcua", endpoint_url=endpoint, timeout=1.0)
    c.full_clean()
    c.save()
    return c


def messages_of(response):
    return [str(m) for m in response.context["messages"]]


@pytest.fixture
def polled(collector):
    """polled(connection): the production poller on the connection's plan under a real lease, stepped by hand
    (a few cycles, then the housekeeping that publishes its stats), as a drivers worker runs it."""
    held = []

    def run(conn, cycles=3):
        spec, groups = connection_plan_load(conn.pk)
        rt = RedisRuntime(conn.pk, "admin-test", hostname="admin-test")
        assert rt.acquire()
        held.append(rt)
        poller = ConnectionPoller(spec, groups, sink=collector, runtime=rt, last_values=None)
        for _ in range(cycles):
            for g in groups:
                poller.cycle(g)
        assert poller._housekeeping() is None
        return poller

    yield run
    for rt in held:
        rt.release()
        rt.close()


def test_the_list_shows_state_last_poll_values_per_s_bad_tags_and_last_error_of_the_running_loop(
        engineer_web, plc, make_tag, make_connection, bind, polled):
    conn = make_connection(port=plc.plc.port)
    bind(make_tag("Flow"), conn, address=0)
    bind(make_tag("Ghost"), conn, address=150)  # the PLC refuses it: BAD config_error, the other reads
    plc.plc.refuse.add(("holding", 150))
    idle = make_connection(port=free_port(), name="idle-plc")
    bind(make_tag("Idle"), idle, address=0)
    polled(conn)
    live = connection_status_rows([conn])[0]
    assert live["tags_bad"] == 1 and live["values_per_s"] > 0, live

    page = engineer_web.get(CHANGELIST).content.decode()
    rows = {name: next(tr for tr in page.split("<tr") if f">{name}<" in tr) for name in (conn.name, idle.name)}
    row = rows[conn.name]
    assert ">connected<" in row and "1 of 2" in row and "exception 4 (device failure)" in row
    assert f"{datetime.now(UTC).year}-" in row  # the last good poll's time
    assert f"{live['poll_ms_p50']:g} / {live['poll_ms_p99']:g}" in row  # poll times
    assert "disconnected (no worker)" in rows[idle.name]

    change = engineer_web.get(f"{CHANGELIST}{conn.pk}/change/").content.decode()
    assert "Live status" in change and "1 of 2 tags BAD" in change
    assert f"/admin/drivers/connection/{conn.pk}/test/" in change and "Register map" in change


def test_the_test_action_connects_for_real_and_says_what_failed_and_is_audited(engineer_web, engineer, plc,
                                                                              make_connection):
    good = make_connection(port=plc.plc.port)
    dead = make_connection(port=free_port(), name="nowhere")
    r = engineer_web.post(CHANGELIST, {"action": "test_connection", "_selected_action": [good.pk, dead.pk]},
                          follow=True)
    said = messages_of(r)
    assert any(m.startswith(f"{good.name}: OK") and f"connected to 127.0.0.1:{plc.plc.port}" in m
               and "read holding 0" in m for m in said), said
    assert any(m.startswith("nowhere: FAILED") and "cannot connect to 127.0.0.1" in m and "within 0.3 s" in m
               for m in said), said
    audits = AuditRecord.objects.filter(username=engineer.username, action__startswith="driver.connection_test")
    assert sorted((a.action, a.object_id) for a in audits) == sorted([
        ("driver.connection_test", str(good.pk)), ("driver.connection_test_result", str(good.pk)),
        ("driver.connection_test", str(dead.pk)), ("driver.connection_test_result", str(dead.pk))])
    result = audits.get(action="driver.connection_test_result", object_id=str(dead.pk))
    assert result.new_value["ok"] is False


def test_the_test_page_reaches_an_opcua_server_and_reports_one_that_is_down(engineer_web, ua_sim):
    up = ua_connection(ua_sim.sim.endpoint)
    down = ua_connection(f"opc.tcp://127.0.0.1:{free_port()}/kiln", name="ua-down")
    assert engineer_web.get(f"{CHANGELIST}{up.pk}/test/").status_code == 200  # GET only shows the button
    assert not AuditRecord.objects.filter(action="driver.connection_test").exists()
    ok = engineer_web.post(f"{CHANGELIST}{up.pk}/test/").content.decode()
    assert "<strong>OK</strong>" in ok and f"connected to {ua_sim.sim.endpoint}" in ok and "RUNNING" in ok.upper()
    failed = engineer_web.post(f"{CHANGELIST}{down.pk}/test/").content.decode()
    assert "<strong>FAILED</strong>" in failed and down.endpoint_url in failed


def test_only_engineers_reach_the_test_and_map_pages(client, operator, supervisor, make_connection):
    conn = make_connection(port=free_port())
    for user in (operator, supervisor):
        client.force_login(user)
        assert client.post(f"{CHANGELIST}{conn.pk}/test/").status_code == 302  # to the admin login
        assert client.get(f"{CHANGELIST}{conn.pk}/map/").status_code == 302
    assert not AuditRecord.objects.filter(action="driver.connection_test").exists()


def test_the_register_map_is_sorted_shows_free_gaps_and_overlaps_and_exports_csv(engineer_web, make_tag,
                                                                                 make_connection, bind):
    conn = make_connection(port=free_port())
    bind(make_tag("Temp"), conn, address=20, data_type="float32")
    bind(make_tag("Speed"), conn, address=1)
    bind(make_tag("Flow"), conn, address=0)
    bind(make_tag("Run", datatype="BOOL"), conn, table="coil", address=3, data_type="bool")
    page = engineer_web.get(f"{CHANGELIST}{conn.pk}/map/").content.decode()
    assert "4 bindings" in page and page.index(">Flow<") < page.index(">Speed<") < page.index(">Temp<")
    rows = list(csv.reader(io.StringIO(engineer_web.get(f"{CHANGELIST}{conn.pk}/map/", {"format": "csv"})
                                       .content.decode())))
    assert rows[0][:6] == ["table", "address", "end", "registers", "data_type", "tag"]
    assert [(r[0], r[1], r[2], r[5], r[-1]) for r in rows[1:]] == [
        ("coil", "3", "3", "Run", "free 0–2"),
        ("holding", "0", "0", "Flow", ""),
        ("holding", "1", "1", "Speed", ""),
        ("holding", "20", "21", "Temp", "free 2–19"),
    ]


def test_the_node_map_lists_an_opcua_connections_nodes_sorted(engineer_web, ua_sim, make_tag):
    conn = ua_connection(ua_sim.sim.endpoint)
    for name, node in (("UaTemp", "ns=2;s=Line1.Temp"), ("UaCount", "ns=2;s=Line1.Count")):
        NodeBinding.objects.create(tag=make_tag(name), connection=conn, node_id=node)
    rows = list(csv.reader(io.StringIO(engineer_web.get(f"{CHANGELIST}{conn.pk}/map/", {"format": "csv"})
                                       .content.decode())))
    assert [(r[0], r[2]) for r in rows[1:]] == [("ns=2;s=Line1.Count", "UaCount"), ("ns=2;s=Line1.Temp", "UaTemp")]
    assert "Node map" in engineer_web.get(f"{CHANGELIST}{conn.pk}/change/").content.decode()


def test_a_recipe_parameters_target_tag_is_a_searchable_picker(engineer_web):
    page = engineer_web.get("/admin/batches/recipe/add/").content.decode()
    field = page[page.index('name="parameters-__prefix__-target_tag"') - 400:
                 page.index('name="parameters-__prefix__-target_tag"') + 400]
    assert "admin-autocomplete" in field and "vForeignKeyRawIdAdminField" not in field


def test_the_connection_form_groups_fields_by_the_protocols_they_serve(engineer_web):
    body = engineer_web.get("/admin/drivers/connection/add/").content.decode()
    assert "drivers/admin-connection.js" in body  # shows only the chosen protocol's fieldsets
    assert 'class="module aligned kiln-proto-opcua"' in body  # endpoint, security: OPC UA only
    assert 'class="module aligned kiln-proto-modbus_tcp"' in body  # unit id, retries, merge gap: Modbus only
    assert "kiln-proto-modbus_tcp kiln-proto-sparkplug kiln-proto-mqtt_json" in body  # host and port
