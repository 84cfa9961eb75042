"""A configuration change on a running OPC UA connection touches only the changed monitored items, against a real
asyncua server (drivers.opcua.sim): the others keep their server-side items, and their values are neither lost nor
recorded twice across the change (a full re-subscribe would send every item's current value again)."""

import pytest

from drivers.opcua.backend import OpcuaBackend
from drivers.opcua.session import NodePoint, OpcuaSession, OpcuaSpec
from drivers.opcua.sim import OpcuaSim, SimThread
from tests.servers import free_port, wait_for

VARIABLES = {name: (0, "Int32", False) for name in ("Line2.A", "Line2.B", "Line2.C", "Line2.D")}


@pytest.fixture(scope="module")
def sim():
    thread = SimThread(OpcuaSim(port=free_port(), variables=VARIABLES)).start()
    yield thread
    thread.close()


@pytest.fixture
def backend_loop(sim, collector):
    """The backend's own loop_for, as a worker's tenure calls it, with a collecting sink."""
    spec = OpcuaSpec(id=1, name="sim", endpoint_url=sim.sim.endpoint, publishing_interval=20, timeout=1.0)
    session = OpcuaSession(spec)
    backend = OpcuaBackend()

    def loop_for(points, previous=None):
        loop = backend.loop_for(spec, points, link=session, runtime=None, counters={}, previous=previous)
        loop.sink, loop.last_values = collector, None
        return loop

    yield loop_for
    session.stop()


def point(sim, tag_id, name, **kw):
    return NodePoint(tag_id=tag_id, name=f"t{tag_id}", node_id=sim.sim.node_id(name), sampling_interval=10, **kw)


def values_of(collector, tag_id):
    return [s.value for _, batch in collector.batches for s in batch if s.tag_id == tag_id]


def step_until(loop, predicate, timeout=5.0):
    def check():
        loop.step()
        return predicate()
    return wait_for(check, timeout=timeout, step=0.01)


def count_up(sim, loop, collector, values):
    for v in values:  # one change at a time, each seen before the next (so none is coalesced by sampling)
        sim.set("Line2.A", v)
        sim.set("Line2.B", v)
        assert step_until(loop, lambda v=v: collector.latest()[1].value == v and collector.latest()[2].value == v)


def test_changing_one_binding_leaves_the_other_items_alone_and_loses_or_doubles_no_value(sim, backend_loop,
                                                                                          collector):
    for name in VARIABLES:
        sim.set(name, 0)
    sim.set("Line2.D", 777)
    loop = backend_loop([point(sim, 1, "Line2.A"), point(sim, 2, "Line2.B"), point(sim, 3, "Line2.C")])
    assert step_until(loop, lambda: {1, 2, 3} <= set(collector.latest()))
    count_up(sim, loop, collector, range(1, 6))
    items_before, subscription = dict(loop.session.item_ids), loop.session.sub.subscription_id

    # Tag 3 now reads node D; tags 1 and 2 are unchanged. The backend reuses the loop and its session.
    again = backend_loop([point(sim, 1, "Line2.A"), point(sim, 2, "Line2.B"), point(sim, 3, "Line2.D")],
                         previous=loop)
    assert again is loop
    assert step_until(loop, lambda: collector.latest()[3].value == 777)
    count_up(sim, loop, collector, range(6, 11))

    # Every value of the untouched tags once, in order: none lost, none re-sent by a new subscription.
    assert values_of(collector, 1) == list(range(0, 11))
    assert values_of(collector, 2) == list(range(0, 11))
    assert values_of(collector, 3) == [0, 777]
    # The same subscription and the same server-side items for tags 1 and 2; a new item for tag 3.
    assert loop.session.sub.subscription_id == subscription
    assert loop.session.item_ids[1] == items_before[1] and loop.session.item_ids[2] == items_before[2]
    assert loop.session.item_ids[3] != items_before[3]
    assert loop.stats()["monitored_items"] == 3 and loop.reconnects == 0


def test_a_new_sampling_interval_modifies_the_item_in_place_and_removed_or_added_tags_follow(sim, backend_loop,
                                                                                             collector):
    for name in VARIABLES:
        sim.set(name, 0)
    loop = backend_loop([point(sim, 1, "Line2.A"), point(sim, 2, "Line2.B")])
    assert step_until(loop, lambda: {1, 2} <= set(collector.latest()))
    count_up(sim, loop, collector, [1, 2])
    items_before = dict(loop.session.item_ids)

    counts = loop.reconfigure([point(sim, 1, "Line2.A"), point(sim, 2, "Line2.B", deadband=0.5),
                               point(sim, 4, "Line2.C")])
    assert counts == {"created": 1, "deleted": 0, "modified": 1}
    assert step_until(loop, lambda: 4 in collector.latest())
    count_up(sim, loop, collector, [3, 4])
    assert loop.session.item_ids[1] == items_before[1] and loop.session.item_ids[2] == items_before[2]
    assert values_of(collector, 2) == [0, 1, 2, 3, 4]  # the modify sent no extra value

    assert loop.reconfigure([point(sim, 1, "Line2.A")]) == {"created": 0, "deleted": 2, "modified": 0}
    assert set(loop.session.item_ids) == {1} and loop.session.item_ids[1] == items_before[1]
    seen = len(values_of(collector, 2))
    sim.set("Line2.A", 5)
    sim.set("Line2.B", 5)
    assert step_until(loop, lambda: collector.latest()[1].value == 5)
    assert len(values_of(collector, 2)) == seen  # no longer monitored: nothing more recorded for it
    assert loop.stats()["tags"] == 1 and loop.stats()["monitored_items"] == 1
