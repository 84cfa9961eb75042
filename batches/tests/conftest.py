"""Fixtures for batches: the demo reactor line's tags, a draft recipe, the same recipe approved, personas."""

import pytest

from batches.choices import PhaseRequirement
from batches.models import Recipe, RecipeParameter, RecipePhase
from batches.services import recipe_approve
from conftest import PASSWORD
from scada.roles import Role
from tags.models import Machine, Site, Tag


@pytest.fixture
def site(db):
    return Site.objects.create(site_id="plant-a", name="Plant A")


@pytest.fixture
def reactor(site):
    return Machine.objects.create(machine_id="reactor-01", name="Reactor 1", site=site)


@pytest.fixture
def reactor_tags(reactor):
    sp = Tag.objects.create(name="Reactor_Temp_SP", datatype="REAL", machine=reactor, unit="°C", min_value=0,
                            max_value=150, is_writable=True, write_role=Role.SUPERVISOR)
    pv = Tag.objects.create(name="Reactor_Temp", datatype="REAL", machine=reactor, unit="°C")
    return {"sp": sp, "pv": pv}


@pytest.fixture
def draft_recipe(reactor_tags, reactor, admin_user):
    """reactor-heat-cycle v1 as an engineer (here: ada, the admin) drafts it: heat, hold (confirm), cool (value)."""
    recipe = Recipe.objects.create(name="reactor-heat-cycle", version=1, title="Reactor heat cycle",
                                   created_by=admin_user)
    recipe.machines.add(reactor)
    recipe.recorded_tags.add(reactor_tags["pv"])
    RecipeParameter.objects.create(recipe=recipe, position=1, name="target_temp", datatype="REAL", unit="°C",
                                   min_value=20, max_value=120, default=80.0, target_tag=reactor_tags["sp"])
    RecipeParameter.objects.create(recipe=recipe, position=2, name="operator_note", datatype="STRING", default="")
    RecipePhase.objects.create(recipe=recipe, position=1, name="heat", instructions="Heat to target.",
                               requirement=PhaseRequirement.CONFIRM)
    RecipePhase.objects.create(recipe=recipe, position=2, name="hold", instructions="Hold 10 minutes.",
                               requirement=PhaseRequirement.CONFIRM)
    RecipePhase.objects.create(recipe=recipe, position=3, name="cool", instructions="Cool; enter the reading.",
                               requirement=PhaseRequirement.VALUE, value_label="Final temperature",
                               value_unit="°C", value_min=0, value_max=60)
    return recipe


@pytest.fixture
def approved_recipe(draft_recipe, engineer):
    return recipe_approve(recipe=draft_recipe, user=engineer, password=PASSWORD, meaning="Approved",
                          reason="QA release")


@pytest.fixture
def complete_batch(approved_recipe, supervisor, operator):
    """A batch of the approved recipe run through all its phases (status complete, awaiting its signature)."""
    from batches.services import batch_phase_complete, batch_start

    batch = batch_start(recipe="reactor-heat-cycle", machine_id="reactor-01", lot="L-100",
                        parameters={"target_temp": 90}, user=supervisor)
    batch_phase_complete(batch=batch, position=1, user=operator, action="confirm")
    batch_phase_complete(batch=batch, position=2, user=operator, action="confirm")
    return batch_phase_complete(batch=batch, position=3, user=operator, action="enter", value=40)


def signature(password=PASSWORD, meaning="Reviewed and released", reason="End of batch review"):
    return {"password": password, "meaning": meaning, "reason": reason}


@pytest.fixture
def admin_client_api(admin_user):
    from conftest import client_for

    return client_for(admin_user)
