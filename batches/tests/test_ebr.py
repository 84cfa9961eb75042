"""The electronic batch record: parameters through a PLC, evidence inside the batch's window only, the demo recipe."""

from datetime import timedelta

import pytest
from django.core.management import call_command
from django.utils import timezone

from accounts.audit import audit_record
from alarms.models import AlarmEvent
from batches.models import Batch, Recipe
from batches.selectors import batch_ebr, batch_get
from batches.services import batch_close, batch_start
from batches.tests.conftest import signature
from scada.errors import KilnError
from tags.values import Sample, tag_values_record

pytestmark = pytest.mark.django_db


def _start(user, **parameters):
    return batch_start(recipe="reactor-heat-cycle", machine_id="reactor-01", lot="L-9", parameters=parameters,
                       user=user)


def test_a_plc_fed_target_tag_is_written_to_the_plc_and_read_back(approved_recipe, supervisor, reactor_tags,
                                                                  plc_router):
    router = plc_router([reactor_tags["sp"]])
    batch = _start(supervisor, target_temp=70)
    assert router.writes == [("Reactor_Temp_SP", 70.0)]
    assert batch.parameters.get(name="target_temp").confirmed is True


def test_a_failed_plc_write_aborts_the_batch_and_says_so(approved_recipe, supervisor, reactor_tags, plc_router):
    plc_router([reactor_tags["sp"]], fail="connection refused")
    with pytest.raises(KilnError, match="was aborted") as exc:
        _start(supervisor)
    assert exc.value.status_code == 502
    batch = Batch.objects.get()
    assert batch.status == "aborted" and "connection refused" in batch.abort_reason


def test_the_evidence_holds_what_happened_during_the_batch_and_nothing_else(complete_batch, supervisor,
                                                                           reactor_tags):
    batch = batch_get(pk=complete_batch.pk)
    before = batch.started_at - timedelta(minutes=5)
    audit_record(action="tag.write", user=supervisor, object_type="tag", object_id="Reactor_Temp_SP",
                 new_value={"value": 1.0})  # after the batch completed: not in its record
    AlarmEvent.objects.create(ts=before, event="activate", state_before="normal", state_after="active_unacked",
                              active=True, acked=False, key="before", tag_name="Reactor_Temp",
                              machine_id="reactor-01", priority="high")
    AlarmEvent.objects.create(ts=batch.started_at + timedelta(microseconds=1), event="activate",
                              state_before="normal", state_after="active_unacked", active=True, acked=False,
                              key="during", tag_name="Reactor_Temp", machine_id="reactor-01", priority="high")
    evidence = batch_ebr(batch)["evidence"]
    assert [(w["action"], w["object"], w["value"]) for w in evidence["tag_writes"]] == [
        ("tag.write", "Reactor_Temp_SP", 90.0)]
    assert [a["key"] for a in evidence["alarms"]] == ["during"]


def test_the_recorded_tags_are_summarised_with_a_history_link(approved_recipe, supervisor, reactor_tags):
    batch = _start(supervisor)
    now = timezone.now().timestamp()
    tag_values_record(samples=[Sample(tag_id=reactor_tags["pv"].pk, value=v, ts=now + i * 0.001)
                               for i, v in enumerate([50.0, 70.0, 60.0])])
    [row] = batch_ebr(batch_get(pk=batch.pk))["evidence"]["recorded_tags"]
    assert row["tag"] == "Reactor_Temp" and row["history"].startswith("/api/tags/Reactor_Temp/history?start=")


def test_a_closed_batch_shows_the_evidence_it_signed(complete_batch, supervisor):
    batch = batch_close(batch=batch_get(pk=complete_batch.pk), user=supervisor, signature=signature())
    signed = batch.close_signature.content["evidence"]
    # A late entry inside the batch's window (a historian sample, an audit record dated back) changes nothing shown.
    AlarmEvent.objects.create(ts=batch.started_at + timedelta(microseconds=2), event="activate",
                              state_before="normal", state_after="active_unacked", active=True, acked=False,
                              key="late", tag_name="Reactor_Temp", machine_id="reactor-01", priority="high")
    ebr = batch_ebr(batch_get(pk=batch.pk))
    assert ebr["evidence"] == signed and ebr["record_unchanged_since_signing"] is True
    assert all(s["valid"] for s in ebr["signatures"])


def test_the_demo_load_approves_the_demo_recipe_and_it_runs(settings):
    settings.KILN_WRITE_ROUTER = ""  # no simulated PLC in this test: the setpoint is written to the values path
    call_command("demo_load")
    recipe = Recipe.objects.get(name="reactor-heat-cycle")
    assert recipe.status == "approved" and recipe.approval_signature.signer.username == "engineer"
    call_command("demo_load")  # idempotent
    assert Recipe.objects.filter(name="reactor-heat-cycle").count() == 1
    from accounts.models import User

    batch = batch_start(recipe="reactor-heat-cycle", machine_id="reactor-01", lot="DEMO-1",
                        parameters={"target_temp": 85}, user=User.objects.get(username="supervisor"))
    assert batch.parameters.get().tag_name == "Reactor_Temp_SP"
