"""Recipe approval by e-signature (Part 11), freezing, retiring and new versions."""

import pytest

from accounts.models import AuditRecord, Signature
from accounts.signatures import signature_content_hash, signature_verify
from batches.choices import RecipeStatus
from batches.models import Recipe, RecipeParameter
from batches.services import (
    parameter_value_check,
    recipe_approve,
    recipe_assert_editable,
    recipe_content,
    recipe_new_version,
    recipe_retire,
)
from conftest import PASSWORD
from scada.errors import Conflict, PermissionDenied, Unprocessable

pytestmark = pytest.mark.django_db


def _approve(recipe, user, password=PASSWORD):
    return recipe_approve(recipe=recipe, user=user, password=password, meaning="Approved", reason="QA release")


def test_it_approves_a_draft_with_a_signature_bound_to_its_content(draft_recipe, engineer):
    recipe = _approve(draft_recipe, engineer)
    assert recipe.status == RecipeStatus.APPROVED and recipe.approved_at is not None
    signature = recipe.approval_signature
    assert signature.signer == engineer and signature.meaning == "Approved"
    assert signature.content_hash == signature_content_hash(recipe_content(recipe))
    assert signature_verify(signature=signature, content=recipe_content(recipe))


def test_it_audits_the_approval_and_the_signature(draft_recipe, engineer):
    _approve(draft_recipe, engineer)
    approve = AuditRecord.objects.get(action="recipe.approve")
    assert approve.username == "erin" and approve.object_id == "reactor-heat-cycle@1"
    assert approve.new_value["signature_id"] == AuditRecord.objects.get(action="signature.sign").new_value[
        "signature_id"]


def test_a_wrong_password_approves_nothing_and_is_audited(draft_recipe, engineer):
    with pytest.raises(PermissionDenied):
        _approve(draft_recipe, engineer, password="wrong")
    draft_recipe.refresh_from_db()
    assert draft_recipe.status == RecipeStatus.DRAFT and not Signature.objects.exists()
    assert AuditRecord.objects.filter(action="signature.refused").count() == 1


def test_the_author_cannot_approve_their_own_recipe(draft_recipe, admin_user):
    with pytest.raises(PermissionDenied, match="second person"):
        _approve(draft_recipe, admin_user)
    assert Recipe.objects.get(pk=draft_recipe.pk).status == RecipeStatus.DRAFT


def test_a_supervisor_cannot_approve(draft_recipe, supervisor):
    with pytest.raises(PermissionDenied, match="engineer"):
        _approve(draft_recipe, supervisor)


def test_an_approved_version_cannot_be_approved_again(approved_recipe, engineer):
    with pytest.raises(Conflict):
        _approve(approved_recipe, engineer)
    assert Signature.objects.count() == 1


def test_an_approved_version_is_frozen(approved_recipe):
    with pytest.raises(Conflict, match="new version"):
        recipe_assert_editable(approved_recipe)


def test_a_draft_without_phases_is_refused_naming_the_problem(draft_recipe, engineer):
    draft_recipe.phases.all().delete()
    with pytest.raises(Unprocessable, match="no phases"):
        _approve(draft_recipe, engineer)
    assert not Signature.objects.exists()


def test_a_default_out_of_range_is_refused(draft_recipe, engineer):
    RecipeParameter.objects.filter(name="target_temp").update(default=500)
    with pytest.raises(Unprocessable, match="target_temp"):
        _approve(draft_recipe, engineer)


def test_a_target_tag_of_another_datatype_is_refused(draft_recipe, engineer):
    RecipeParameter.objects.filter(name="target_temp").update(datatype="INT", default=80)
    with pytest.raises(Unprocessable, match="Reactor_Temp_SP"):
        _approve(draft_recipe, engineer)


def test_retiring_an_approved_version_keeps_its_signature(approved_recipe, engineer):
    recipe = recipe_retire(recipe=approved_recipe, user=engineer, reason="superseded")
    assert recipe.status == RecipeStatus.RETIRED and recipe.approval_signature_id is not None
    assert AuditRecord.objects.filter(action="recipe.retire").exists()


def test_a_draft_cannot_be_retired(draft_recipe, engineer):
    with pytest.raises(Conflict):
        recipe_retire(recipe=draft_recipe, user=engineer)


def test_a_new_version_is_a_draft_copy_with_the_next_number(approved_recipe, engineer):
    draft = recipe_new_version(recipe=approved_recipe, user=engineer)
    assert (draft.version, draft.status, draft.created_by) == (2, RecipeStatus.DRAFT, engineer)
    old, new = recipe_content(approved_recipe), recipe_content(draft)
    assert {**old, "version": 2} == new


@pytest.mark.parametrize(("datatype", "value", "expected"), [
    ("REAL", 80, 80.0), ("REAL", 20.5, 20.5), ("INT", 7.0, 7), ("BOOL", True, True), ("STRING", "x", "x")])
def test_parameter_values_are_taken_as_their_datatype(draft_recipe, datatype, value, expected):
    parameter = RecipeParameter(recipe=draft_recipe, name="p", datatype=datatype)
    assert parameter_value_check(parameter, value) == expected


@pytest.mark.parametrize("value", ["80", True, None, 1e400, 10**400, 121, 19.9, [1], {"a": 1}])
def test_parameter_values_of_wrong_type_or_out_of_range_are_refused_by_name(draft_recipe, value):
    parameter = draft_recipe.parameters.get(name="target_temp")
    with pytest.raises(Unprocessable, match="target_temp"):
        parameter_value_check(parameter, value)
