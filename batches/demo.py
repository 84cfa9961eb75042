"""Demo recipe (manage.py demo_load, after the plant's tags): reactor-heat-cycle v1 on reactor-01, approved.

`target_temp` (default 80 °C, 20..120) writes Reactor_Temp_SP; phases heat (confirm), hold (confirm), cool (enter
the final reading, 0..60 °C); Reactor_Temp is recorded. Drafted by the demo admin and approved with the demo
engineer's e-signature, so `make run` can run a batch at once. Idempotent: an existing recipe is left alone.
"""

from __future__ import annotations

from accounts.models import User
from batches.choices import PhaseRequirement
from batches.models import Recipe, RecipeParameter, RecipePhase
from batches.services import recipe_approve
from scada.demo import DEMO_USERS
from tags.models import Machine, Tag

NAME = "reactor-heat-cycle"
PHASES = [
    (1, "heat", "Check the jacket valve is open, then confirm: the reactor heats to the target temperature.",
     PhaseRequirement.CONFIRM, {}),
    (2, "hold", "Hold at the target temperature for 10 minutes; confirm when the hold time is over.",
     PhaseRequirement.CONFIRM, {}),
    (3, "cool", "Cool the reactor, then enter the final temperature reading.", PhaseRequirement.VALUE,
     {"value_label": "Final temperature", "value_unit": "°C", "value_min": 0, "value_max": 60}),
]


def load_recipes() -> str:
    if Recipe.objects.filter(name=NAME).exists():
        return "existing"
    machine = Machine.objects.filter(machine_id="reactor-01").first()
    sp, pv = Tag.objects.filter(name="Reactor_Temp_SP").first(), Tag.objects.filter(name="Reactor_Temp").first()
    passwords = {username: password for username, _role, password in DEMO_USERS}
    author, approver = User.objects.filter(username="admin").first(), User.objects.filter(username="engineer").first()
    if None in (machine, sp, pv, author, approver):
        return "skipped (the demo plant or users are missing)"
    recipe = Recipe.objects.create(name=NAME, version=1, title="Reactor heat cycle", created_by=author,
                                   description="Heat the reactor to a target, hold, cool down.")
    recipe.machines.add(machine)
    recipe.recorded_tags.add(pv)
    RecipeParameter.objects.create(recipe=recipe, position=1, name="target_temp", datatype="REAL", unit="°C",
                                   min_value=20, max_value=120, default=80.0, target_tag=sp,
                                   description="Reactor temperature setpoint for the cycle")
    for position, name, instructions, requirement, extra in PHASES:
        RecipePhase.objects.create(recipe=recipe, position=position, name=name, instructions=instructions,
                                   requirement=requirement, **extra)
    recipe_approve(recipe=recipe, user=approver, password=passwords["engineer"], meaning="Approved",
                   reason="Demo recipe released for the demo plant")
    return f"{NAME} v1 approved"
