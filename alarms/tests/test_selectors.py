"""Alarm selectors other apps read: the analog limits an HMI draws on its indicators and faceplates."""

import pytest

from alarms.selectors import alarm_limits

pytestmark = pytest.mark.django_db


def test_alarm_limits_lists_a_tags_enabled_analog_limits_highest_first(temp, make_tag, make_definition):
    make_definition(temp, "LO", 10.0, key="t_lo", priority="low")
    make_definition(temp, "HIHI", 95.0, key="t_hihi", priority="critical")
    make_definition(temp, "HI", 85.0, key="t_hi", priority="high")
    make_definition(temp, "BAD", None, key="t_bad")  # not a limit
    make_definition(temp, "HI", 50.0, key="t_off", enabled=False)  # disabled: not drawn
    make_definition(make_tag("Other"), "HI", 1.0, key="other_hi")

    limits = alarm_limits(["Reactor_Temp"])

    assert list(limits) == ["Reactor_Temp"]
    assert [(x["kind"], x["setpoint"], x["priority"]) for x in limits["Reactor_Temp"]] == [
        ("HIHI", 95.0, "critical"), ("HI", 85.0, "high"), ("LO", 10.0, "low")]
