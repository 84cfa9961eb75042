"""Running a batch: start writes parameters through the tag write service; phases; comments; deviations; abort."""

import pytest

from accounts.models import AuditRecord
from batches.choices import BatchStatus, PhaseStatus
from batches.models import Batch, BatchPhase
from batches.services import (
    batch_abort,
    batch_comment_add,
    batch_deviation_add,
    batch_phase_complete,
    batch_start,
    recipe_new_version,
    recipe_retire,
)
from conftest import PASSWORD
from scada.errors import BadRequest, Conflict, NotFound, PermissionDenied, Unprocessable
from tags.live import live_get_many

pytestmark = pytest.mark.django_db


def _start(user, recipe="reactor-heat-cycle", machine_id="reactor-01", lot="L-1", **parameters):
    return batch_start(recipe=recipe, machine_id=machine_id, lot=lot, parameters=parameters, user=user)


def test_it_starts_a_batch_writing_its_parameters_target_tags(approved_recipe, supervisor, reactor_tags):
    batch = _start(supervisor, target_temp=95)
    assert batch.status == BatchStatus.RUNNING and batch.current_phase == 1
    assert live_get_many([reactor_tags["sp"].pk])[reactor_tags["sp"].pk].value == 95.0
    param = batch.parameters.get(name="target_temp")
    assert (param.planned, param.value, param.tag_name) == (80.0, 95.0, "Reactor_Temp_SP")
    write = AuditRecord.objects.get(pk=param.write_audit_id)
    assert write.action == "tag.write" and write.new_value["source"] == f"batch:{batch.pk}"


def test_defaults_fill_the_parameters_not_given(approved_recipe, supervisor):
    batch = _start(supervisor)
    assert batch.parameters.get(name="target_temp").value == 80.0


def test_a_parameter_out_of_range_is_refused_by_name_and_nothing_starts(approved_recipe, supervisor):
    with pytest.raises(Unprocessable, match="target_temp"):
        _start(supervisor, target_temp=500)
    assert not Batch.objects.exists() and not AuditRecord.objects.filter(action="tag.write").exists()


def test_an_unknown_parameter_is_refused_by_name(approved_recipe, supervisor):
    with pytest.raises(Unprocessable, match="speed"):
        _start(supervisor, speed=5)


def test_a_target_tag_the_starter_may_not_write_refuses_the_start(approved_recipe, supervisor, reactor_tags):
    reactor_tags["sp"].write_role = 30
    reactor_tags["sp"].save()
    with pytest.raises(PermissionDenied, match="target_temp"):
        _start(supervisor)
    assert not Batch.objects.exists()
    assert AuditRecord.objects.filter(action="tag.write_refused").count() == 1


def test_a_draft_recipe_does_not_run(draft_recipe, supervisor):
    with pytest.raises(Conflict, match="no approved version"):
        _start(supervisor)


def test_a_retired_recipe_does_not_run_but_a_running_batch_keeps_its_version(approved_recipe, supervisor,
                                                                              engineer):
    batch = _start(supervisor)
    recipe_retire(recipe=approved_recipe, user=engineer)
    with pytest.raises(Conflict):
        _start(supervisor, machine_id="reactor-01", lot="L-2")
    batch.refresh_from_db()
    assert batch.recipe_id == approved_recipe.pk and batch.status == BatchStatus.RUNNING


def test_by_name_the_newest_approved_version_runs(approved_recipe, supervisor, admin_user):
    recipe_new_version(recipe=approved_recipe, user=admin_user)  # v2 stays a draft
    assert _start(supervisor).recipe.version == 1


def test_unknown_recipe_or_machine_is_404(approved_recipe, supervisor):
    with pytest.raises(NotFound, match="Recipe"):
        _start(supervisor, recipe="nope")
    with pytest.raises(NotFound, match="Machine"):
        _start(supervisor, machine_id="nope")
    with pytest.raises(NotFound):
        _start(supervisor, recipe=999999)


def test_a_machine_already_running_a_batch_is_a_conflict(approved_recipe, supervisor):
    first = _start(supervisor)
    with pytest.raises(Conflict, match=f"batch {first.pk}"):
        _start(supervisor, lot="L-2")
    assert Batch.objects.count() == 1


@pytest.mark.parametrize("lot", ["", None, "   ", 5, "a\x00b", "x" * 65])
def test_a_bad_lot_is_a_400(approved_recipe, supervisor, lot):
    with pytest.raises(BadRequest):
        _start(supervisor, lot=lot)


def test_phases_advance_in_order_and_the_last_completes_the_batch(approved_recipe, supervisor, operator):
    batch = _start(supervisor)
    batch = batch_phase_complete(batch=batch, position=1, user=operator, action="confirm")
    assert batch.current_phase == 2
    batch = batch_phase_complete(batch=batch, position=2, user=operator, action="confirm")
    batch = batch_phase_complete(batch=batch, position=3, user=operator, action="enter", value=41.5)
    assert batch.status == BatchStatus.COMPLETE and batch.current_phase is None
    cool = BatchPhase.objects.get(batch=batch, position=3)
    assert (cool.value, cool.completed_by, cool.status) == (41.5, operator, PhaseStatus.DONE)
    assert AuditRecord.objects.filter(action="batch.phase_complete").count() == 3


def test_only_the_active_phase_can_be_completed(approved_recipe, supervisor, operator):
    batch = _start(supervisor)
    with pytest.raises(Conflict, match="not the active phase"):
        batch_phase_complete(batch=batch, position=2, user=operator, action="confirm")


def test_the_wrong_action_names_the_right_one(approved_recipe, supervisor, operator):
    batch = _start(supervisor)
    with pytest.raises(Conflict, match="/phases/1/confirm"):
        batch_phase_complete(batch=batch, position=1, user=operator, action="enter", value=1)


def test_an_entered_value_out_of_its_limits_is_refused(approved_recipe, supervisor, operator):
    batch = _start(supervisor)
    batch_phase_complete(batch=batch, position=1, user=operator, action="confirm")
    batch_phase_complete(batch=batch, position=2, user=operator, action="confirm")
    for value in (61, -1, "40", True, None, 1e400):
        with pytest.raises(Unprocessable, match="Final temperature"):
            batch_phase_complete(batch=batch, position=3, user=operator, action="enter", value=value)
    assert BatchPhase.objects.get(batch=batch, position=3).status == PhaseStatus.ACTIVE


def test_a_signature_phase_takes_the_operators_signature(approved_recipe, supervisor, operator):
    approved_recipe.phases.filter(position=2).update(requirement="signature")
    batch = _start(supervisor)
    batch_phase_complete(batch=batch, position=1, user=operator, action="confirm")
    with pytest.raises(PermissionDenied):
        batch_phase_complete(batch=batch, position=2, user=operator, action="sign",
                             signature={"password": "bad", "meaning": "Performed", "reason": "hold done"})
    batch_phase_complete(batch=batch, position=2, user=operator, action="sign",
                         signature={"password": PASSWORD, "meaning": "Performed", "reason": "hold done"})
    phase = BatchPhase.objects.get(batch=batch, position=2)
    assert phase.signature.signer == operator and phase.signature.meaning == "Performed"


def test_comments_and_deviations_are_recorded_and_audited(approved_recipe, supervisor, operator):
    batch = _start(supervisor)
    batch_comment_add(batch=batch, user=operator, text="Jacket valve sticky", phase=1)
    batch_deviation_add(batch=batch, user=operator, description="Heated 2 min late", severity="minor")
    assert batch.comments.get().text == "Jacket valve sticky"
    assert batch.deviations.get().severity == "minor"
    assert AuditRecord.objects.filter(action__in=["batch.comment", "batch.deviation"]).count() == 2


@pytest.mark.parametrize("text", ["", "  ", None, 3, "a\x00"])
def test_an_empty_or_bad_comment_is_a_400(approved_recipe, supervisor, operator, text):
    batch = _start(supervisor)
    with pytest.raises(BadRequest):
        batch_comment_add(batch=batch, user=operator, text=text)
    assert not batch.comments.exists()


def test_a_deviation_with_an_unknown_severity_is_a_400(approved_recipe, supervisor, operator):
    batch = _start(supervisor)
    with pytest.raises(BadRequest, match="severity"):
        batch_deviation_add(batch=batch, user=operator, description="x", severity="huge")


def test_abort_needs_a_reason_and_marks_open_phases_not_reached(approved_recipe, supervisor):
    batch = _start(supervisor)
    with pytest.raises(BadRequest):
        batch_abort(batch=batch, user=supervisor, reason="")
    batch = batch_abort(batch=batch, user=supervisor, reason="Agitator tripped")
    assert batch.status == BatchStatus.ABORTED and batch.abort_reason == "Agitator tripped"
    assert set(batch.phases.values_list("status", flat=True)) == {PhaseStatus.SKIPPED}
    with pytest.raises(Conflict):
        batch_abort(batch=batch, user=supervisor, reason="again")


def test_an_aborted_batch_frees_its_machine(approved_recipe, supervisor):
    batch_abort(batch=_start(supervisor), user=supervisor, reason="test")
    assert _start(supervisor, lot="L-2").status == BatchStatus.RUNNING
