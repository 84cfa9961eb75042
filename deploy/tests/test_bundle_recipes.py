"""Recipes in bundles (batches/configsection.py): a definition travels, its approval does not."""

import copy

import pytest

from batches.choices import RecipeStatus
from batches.models import Recipe
from deploy.bundle import bundle_plan
from deploy.services import config_import
from scada.errors import Unprocessable

pytestmark = pytest.mark.django_db

NAME = "reactor-heat-cycle"


def _recipe(bundle):
    return next(r for r in bundle["sections"]["recipes"] if r["name"] == NAME)


def _versions():
    return list(Recipe.objects.filter(name=NAME).order_by("version").values_list("version", "status"))


def test_it_exports_the_definition_with_tags_and_machines_by_name_and_no_approval(exported):
    recipe = _recipe(exported)
    assert recipe["machines"] == ["reactor-01"] and recipe["phases"]
    assert all(p["target_tag"] is None or isinstance(p["target_tag"], str) for p in recipe["parameters"])
    assert not {"version", "status", "approval_signature", "approved_at"} & set(recipe)


def test_a_changed_definition_arrives_as_a_new_draft_and_the_approved_version_keeps_running(exported, admin_user):
    bundle = copy.deepcopy(exported)
    _recipe(bundle)["phases"][0]["name"] = "Charge the reactor (revised)"

    result = config_import(bundle=bundle, user=admin_user)

    assert result["sections"]["recipes"]["changed"][0]["key"] == NAME
    assert _versions() == [(1, RecipeStatus.APPROVED), (2, RecipeStatus.DRAFT)]
    draft = Recipe.objects.get(name=NAME, version=2)
    assert draft.created_by == admin_user and draft.approval_signature is None
    assert draft.phases.order_by("position").first().name == "Charge the reactor (revised)"
    assert config_import(bundle=bundle, user=admin_user)["changes"] == 0  # the pending draft is what it says


def test_going_back_to_the_approved_definition_discards_the_draft_and_needs_no_new_approval(exported):
    changed = copy.deepcopy(exported)
    _recipe(changed)["title"] = "Something else"
    config_import(bundle=changed, user=None)

    result = config_import(bundle=exported, user=None)

    assert result["sections"]["recipes"]["changed"][0]["key"] == NAME
    assert _versions() == [(1, RecipeStatus.APPROVED)]


def test_a_recipe_left_out_is_retired_not_deleted(exported):
    bundle = copy.deepcopy(exported)
    bundle["sections"]["recipes"] = []

    config_import(bundle=bundle, user=None)

    assert _versions() == [(1, RecipeStatus.RETIRED)]


def test_a_parameter_on_a_missing_tag_and_a_bad_phase_are_refused_with_the_recipe(exported):
    bundle = copy.deepcopy(exported)
    recipe = _recipe(bundle)
    recipe["parameters"][0]["target_tag"] = "No_Such_Tag"
    recipe["phases"].append({"position": recipe["phases"][0]["position"], "name": "dup"})

    with pytest.raises(Unprocessable) as exc:
        bundle_plan(bundle)

    problems = [p["problem"] for p in exc.value.extra["problems"] if p["key"] == NAME]
    assert any("target_tag: no tags item 'No_Such_Tag'" in p for p in problems)
    assert any("phases[" in p and "exactly" in p for p in problems)
    assert _versions() == [(1, RecipeStatus.APPROVED)]
