"""Metrics declared by NBIRTH/DBIRTH are discovered (never made tags by themselves) and an engineer accepts them as
tags in admin, audited; the accepted tags then get their values, on the real broker with a real edge node."""

import pytest
from django.test import Client

from accounts.models import AuditRecord
from conftest import PASSWORD
from drivers.models import Connection, DiscoveredMetric, MetricBinding
from drivers.sparkplug.payload import DataType
from drivers.sparkplug.sim import EdgeNode
from drivers.tests.conftest import live
from tags.models import Tag
from tests.servers import wait_for

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def unbound(group, poll_loop, machine):
    """A Sparkplug connection with no bindings, its loop running, and an edge node that has born."""
    from drivers.selectors import connection_status_rows

    conn = Connection(name="sp-discover", protocol="sparkplug", host="127.0.0.1", port=1883, group_id=group,
                      host_id=f"kiln-{group}", timeout=0.5, backoff_cap=1.0)
    conn.full_clean()
    conn.save()
    poll_loop(conn)
    assert wait_for(lambda: connection_status_rows([conn])[0]["state"] == "connected", timeout=10)
    node = EdgeNode(group=group, node="line-2", metrics={
        "": {"Temp/PV": (DataType.DOUBLE, 21.5, False), "Mode": (DataType.STRING, "AUTO", False)},
        "valve 7": {"Open": (DataType.BOOLEAN, True, True)}}).start()
    yield conn, node
    node.client.disconnect()
    node.client.loop_stop()


def test_births_list_their_metrics_for_acceptance_without_making_any_tag(unbound):
    conn, _ = unbound
    tags_before = Tag.objects.count()
    assert wait_for(lambda: DiscoveredMetric.objects.filter(connection=conn).count() == 3, timeout=5)
    found = {(d.edge_node, d.device, d.metric, d.datatype) for d in DiscoveredMetric.objects.filter(connection=conn)}
    assert found == {("line-2", "", "Temp/PV", DataType.DOUBLE), ("line-2", "", "Mode", DataType.STRING),
                     ("line-2", "valve 7", "Open", DataType.BOOLEAN)}
    assert Tag.objects.count() == tags_before and not MetricBinding.objects.exists()


def test_an_engineer_accepts_discovered_metrics_in_admin_and_the_new_tags_get_their_values(unbound, engineer):
    conn, node = unbound
    assert wait_for(lambda: DiscoveredMetric.objects.filter(connection=conn).count() == 3, timeout=5)
    web = Client()
    assert web.login(username=engineer.username, password=PASSWORD)
    ids = [str(d.pk) for d in DiscoveredMetric.objects.filter(connection=conn)]
    page = web.post("/admin/drivers/discoveredmetric/", {"action": "accept_as_tags", "_selected_action": ids})
    assert page.status_code == 200 and b"line-2.valve_7.Open" in page.content  # the confirmation, nothing made yet
    assert not MetricBinding.objects.exists()
    done = web.post("/admin/drivers/discoveredmetric/", {"action": "accept_as_tags", "_selected_action": ids,
                                                           "apply": "1", "machine_id": "line-2", "writable": "on"})
    assert done.status_code == 302
    names = set(Tag.objects.filter(sparkplug_metric__connection=conn).values_list("name", flat=True))
    assert names == {"line-2.Temp_PV", "line-2.Mode", "line-2.valve_7.Open"}
    audited = AuditRecord.objects.filter(user_id=engineer.pk)
    assert audited.filter(action="tag.create").count() == 3
    assert audited.filter(action="driver.metricbinding_create").count() == 3
    # The running loop re-plans on the configuration change and asks the node for its birth: values arrive.
    temp = Tag.objects.get(name="line-2.Temp_PV")
    assert wait_for(lambda: (lv := live(temp)) is not None and lv.value == 21.5, timeout=5)
    node.set({"Temp/PV": 22.0})
    assert wait_for(lambda: live(temp).value == 22.0)


def test_a_metric_kiln_cannot_carry_is_not_accepted(unbound, engineer):
    from drivers.sparkplug.services import discovered_metrics_accept

    conn, _ = unbound
    d = DiscoveredMetric.objects.create(connection=conn, edge_node="line-2", metric="Recipe", datatype=DataType.DATASET,
                                        last_seen="2026-12-06T00:00:00Z")
    result = discovered_metrics_accept(user=engineer, metrics=[d])
    assert result.created == [] and "cannot be a tag" in result.skipped[0]
    assert not Tag.objects.filter(name__contains="Recipe").exists()
