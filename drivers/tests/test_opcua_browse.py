"""Browsing an OPC UA server's address space (API and admin), against a real asyncua server."""

import pytest

from drivers.models import Connection, NodeBinding
from drivers.opcua.sim import OpcuaSim, SimThread
from scada.roles import Role
from tests.servers import free_port

pytestmark = pytest.mark.django_db

VARIABLES = {"Line1.Temp": (72.5, "Double", False), "Line1.Running": (True, "Boolean", True),
             "Tank.Level": (63.5, "Float", False)}


@pytest.fixture(scope="module")
def sim():
    thread = SimThread(OpcuaSim(port=free_port(), variables=VARIABLES)).start()
    yield thread
    thread.close()


@pytest.fixture
def ua(sim, db):
    c = Connection(name="ua-sim", protocol="opcua", endpoint_url=sim.sim.endpoint, timeout=1.0)
    c.full_clean()
    c.save()
    return c


def url(conn_id, node=None):
    return f"/api/system/drivers/{conn_id}/browse" + (f"?node={node}" if node else "")


def test_it_lists_the_objects_folder_then_a_folder_with_variable_types_and_values(engineer_client, sim, ua):
    top = engineer_client.get(url(ua.pk))
    assert top.status_code == 200, top.content
    plant = next(c for c in top.json()["children"] if c["display_name"] == "Plant")
    assert plant["has_children"] and plant["node_class"] == "Object"
    plant_children = engineer_client.get(url(ua.pk, plant["node_id"])).json()["children"]
    line = next(c for c in plant_children if c["display_name"] == "Line1")
    variables = {c["display_name"]: c for c in engineer_client.get(url(ua.pk, line["node_id"])).json()["children"]}
    temp = variables["Temp"]
    assert (temp["node_id"], temp["node_class"], temp["data_type"], temp["value"]) == (
        sim.sim.node_id("Line1.Temp"), "Variable", "Double", 72.5)
    assert variables["Running"]["value"] is True and variables["Running"]["has_children"] is False


def test_it_answers_400_404_and_503_for_what_cannot_be_browsed(engineer_client, sim, ua, make_connection):
    bad = engineer_client.get(url(ua.pk, "Line1.Temp"))
    assert bad.status_code == 400 and "NodeId" in bad.json()["detail"]
    missing = engineer_client.get(url(ua.pk, "ns=2;s=Nope"))
    assert missing.status_code == 404 and "ns=2;s=Nope" in missing.json()["detail"]
    assert engineer_client.get(url(ua.pk + 1000)).status_code == 404
    assert engineer_client.get(url(10 ** 30)).status_code == 404
    modbus = make_connection()
    r = engineer_client.get(url(modbus.pk))
    assert r.status_code == 400 and "not OPC UA" in r.json()["detail"]
    down = Connection(name="ua-down", protocol="opcua", endpoint_url=f"opc.tcp://127.0.0.1:{free_port()}/x",
                      timeout=0.3)
    down.full_clean()
    down.save()
    r = engineer_client.get(url(down.pk))
    assert r.status_code == 503 and r.json()["detail"].startswith("OPC UA server unavailable:")


@pytest.mark.parametrize("role", [Role.OPERATOR, Role.SUPERVISOR])
def test_it_refuses_roles_below_engineer(client_as, role, ua):
    assert client_as(role).get(url(ua.pk)).status_code == 403


def test_the_admin_browse_page_links_each_variable_to_a_filled_in_binding_form(client, engineer, sim, ua, make_tag):
    client.force_login(engineer)
    NodeBinding.objects.create(tag=make_tag("Tank_Level"), connection=ua, node_id=sim.sim.node_id("Tank.Level"))
    change = client.get(f"/admin/drivers/connection/{ua.pk}/change/").content.decode()
    assert f"/admin/drivers/connection/{ua.pk}/browse/" in change
    folder = "ns=2;s=Line1/"
    page = client.get(f"/admin/drivers/connection/{ua.pk}/browse/", {"node": folder, "path": "Objects/Plant/Line1"})
    assert page.status_code == 200
    html = page.content.decode()
    assert "ns=2;s=Line1.Temp" in html and "Objects/Plant/Line1" in html
    assert "/admin/drivers/nodebinding/add/?connection=" in html and "node_id=ns%3D2%3Bs%3DLine1.Temp" in html
    tank = client.get(f"/admin/drivers/connection/{ua.pk}/browse/", {"node": "ns=2;s=Tank/"}).content.decode()
    assert ">bound<" in tank  # a node already bound says so instead of offering a second binding
    form = client.get("/admin/drivers/nodebinding/add/", {"connection": ua.pk, "node_id": "ns=2;s=Line1.Temp"})
    assert 'value="ns=2;s=Line1.Temp"' in form.content.decode()
    error = client.get(f"/admin/drivers/connection/{ua.pk}/browse/", {"node": "no such thing"})
    assert error.status_code == 200 and "That is not an OPC UA NodeId." in error.content.decode()
