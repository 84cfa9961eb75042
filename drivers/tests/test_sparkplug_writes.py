"""Writes to Sparkplug B metrics through the one write service / router → NCMD/DCMD at QoS 1 on the real broker,
confirmed by the metric's next value or reported unconfirmed, never retried; the attempt audited before publish."""

import pytest

from accounts.models import AuditRecord
from drivers.tests.conftest import live
from tags.writers import DriverWriteError, get_write_router
from tests.servers import wait_for

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_write_goes_out_as_an_ncmd_and_the_nodes_new_value_confirms_it(edge, sp_plant):
    _, tags, _ = sp_plant
    router = get_write_router()
    assert router.handles(tags["TempSP"].pk)
    outcome = router.write(tag=tags["TempSP"], value=81.3)
    assert (outcome.confirmed, outcome.readback) == (True, 81.3)  # a Float metric, at float32 precision
    assert edge.writes == [("", "TempSP", pytest.approx(81.3))]
    assert live(tags["TempSP"]).value == 81.3


def test_a_device_metric_is_written_by_dcmd(edge, sp_plant):
    _, tags, _ = sp_plant
    assert get_write_router().write(tag=tags["Count"], value=-12).readback == -12
    assert get_write_router().write(tag=tags["Running"], value=True).confirmed is True
    assert [(d, n, v) for d, n, v in edge.writes] == [("pump-01", "Count", -12), ("pump-01", "Running", True)]


def test_a_clamped_value_is_reported_unconfirmed_with_what_came_back_and_sent_once(edge, sp_plant):
    _, tags, _ = sp_plant
    edge.clamp[("", "TempSP")] = (0.0, 100.0)
    outcome = get_write_router().write(tag=tags["TempSP"], value=150.0)
    assert (outcome.confirmed, outcome.readback) == (False, 100.0)
    assert len([m for _, m in edge.commands if m.name == "TempSP"]) == 1  # never retried


def test_a_node_that_never_answers_leaves_the_write_unconfirmed_not_retried(edge, sp_plant):
    _, tags, _ = sp_plant
    edge.ignore_writes = True
    outcome = get_write_router().write(tag=tags["TempSP"], value=90.0)
    assert (outcome.confirmed, outcome.readback) == (False, None)
    assert len([m for _, m in edge.commands if m.name == "TempSP"]) == 1


def test_a_value_the_metric_cannot_hold_is_refused_and_nothing_is_sent(edge, sp_plant):
    _, tags, _ = sp_plant
    with pytest.raises(DriverWriteError) as exc:
        get_write_router().write(tag=tags["Count"], value=40000)  # beyond Int16
    assert "outside Int16" in str(exc.value) and exc.value.unknown_outcome is False
    assert edge.commands == [] or all(m.name == "Node Control/Rebirth" for _, m in edge.commands)


def test_a_write_to_a_dead_node_fails_and_nothing_is_sent(edge, sp_plant):
    _, tags, _ = sp_plant
    edge.crash()
    assert wait_for(lambda: live(tags["TempSP"]).quality == "BAD", timeout=15)
    with pytest.raises(DriverWriteError) as exc:
        get_write_router().write(tag=tags["TempSP"], value=80.0)
    assert "offline" in str(exc.value) and exc.value.unknown_outcome is False


def test_the_node_never_sees_a_write_whose_attempt_cannot_be_audited(edge, sp_plant, supervisor):
    from scada.errors import KilnError
    from tags.services import tag_write
    from tests.fixtures import audit_insert_fails

    _, tags, _ = sp_plant
    tag = tags["TempSP"]
    with audit_insert_fails("tag.write_attempt"), pytest.raises(KilnError) as exc:
        tag_write(tag=tag, value=90.0, user=supervisor)
    assert exc.value.status_code == 503
    assert [m for _, m in edge.commands if m.name == "TempSP"] == []
    result = tag_write(tag=tag, value=90.0, user=supervisor)
    attempt, outcome = AuditRecord.objects.filter(object_id="SP_Temp_SP").order_by("id")
    assert (attempt.action, outcome.action, result.confirmed) == ("tag.write_attempt", "tag.write", True)
