"""The demo screens bind the demo plant's tags and load idempotently."""

import pytest

from hmi.demo import load_screens
from hmi.models import Screen
from scada.errors import Unprocessable
from tags.demo import load_plant


def test_it_loads_the_overview_bound_to_the_demo_tags(db):
    load_plant()
    assert load_screens() == "2 created, 0 existing"
    overview = Screen.objects.get(slug="overview")
    assert overview.is_home
    for name in ("Tank_Level", "Inlet_Valve_Open", "pump-01.Speed", "pump-01.Running", "pump-01.SpeedSetpoint",
                 "pump-02.Speed", "pump-02.Running", "Reactor_Temp", "Reactor_Temp_SP"):
        assert name in overview.tag_names
    assert load_screens() == "0 created, 2 existing"


def test_without_the_demo_tags_it_refuses_naming_them_and_saves_no_screen(db):
    with pytest.raises(Unprocessable, match="screen 'overview': unknown tag\\(s\\): Inlet_Valve_Open"):
        load_screens()
    assert not Screen.objects.exists()
