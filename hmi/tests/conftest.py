"""HMI fixtures: a small plant (machine, tags, device with commands) and a screen bound to it."""

import pytest

from hmi.services import screen_save
from scada.roles import Role

SVG = """<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 200 100">
  <rect id="tank-fill" x="10" y="10" width="40" height="80" fill="#4f8fcf"/>
  <text id="level" x="60" y="50">-</text>
  <text id="sp" x="60" y="80">-</text>
  <circle id="pump" cx="150" cy="50" r="20" fill="#999"/>
</svg>"""

BINDINGS = [
    {"element": "tank-fill", "kind": "fill", "tag": "Tank_Level", "min": 0, "max": 100},
    {"element": "level", "kind": "text", "tag": "Tank_Level", "decimals": 1},
    {"element": "sp", "kind": "text", "tag": "pump-01.SpeedSetpoint", "decimals": 0},
    {"element": "sp", "kind": "click", "action": "write", "tag": "pump-01.SpeedSetpoint"},
    {"element": "pump", "kind": "color", "tag": "pump-01.Running", "states": {"true": "#2e7d32", "false": "#999"}},
    {"element": "pump", "kind": "click", "action": "device", "device": "pump-01"},
]


@pytest.fixture
def plant(db):
    """Tank_Level (read-only), Reactor_Temp_SP (Supervisor write), pump-01 with Running/SpeedSetpoint and start."""
    from tags.models import DeviceCommand, DeviceType, Machine, Site, Tag
    from tags.values import tag_config_changed

    site = Site.objects.create(site_id="demo-site", name="Demo")
    pump_type = DeviceType.objects.create(type_id="pump.centrifugal", version="1.2.0", name="Pump")
    DeviceCommand.objects.create(device_type=pump_type, command_id="start", name="Start pump",
                                 preconditions=[{"condition": "!{tags.Running}", "reason": "Pump is already running"}],
                                 actions=[{"write": "Start", "value": True}], min_role=Role.OPERATOR)
    DeviceCommand.objects.create(device_type=pump_type, command_id="reset", name="Reset", min_role=Role.SUPERVISOR)
    tank = Machine.objects.create(machine_id="tank-01", site=site)
    pump = Machine.objects.create(machine_id="pump-01", site=site, device_type=pump_type, name="Pump 1")
    reactor = Machine.objects.create(machine_id="reactor-01", site=site)
    tags = {
        "Tank_Level": Tag.objects.create(machine=tank, name="Tank_Level", datatype="REAL", unit="%", min_value=0,
                                         max_value=100),
        "Reactor_Temp_SP": Tag.objects.create(machine=reactor, name="Reactor_Temp_SP", datatype="REAL", unit="°C",
                                              min_value=0, max_value=150, is_writable=True,
                                              write_role=Role.SUPERVISOR),
        "pump-01.Running": Tag.objects.create(machine=pump, name="pump-01.Running", member="Running",
                                              datatype="BOOL"),
        "pump-01.SpeedSetpoint": Tag.objects.create(machine=pump, name="pump-01.SpeedSetpoint",
                                                    member="SpeedSetpoint", datatype="REAL", unit="RPM", min_value=0,
                                                    max_value=3000, is_writable=True, write_role=Role.OPERATOR),
        "pump-01.Start": Tag.objects.create(machine=pump, name="pump-01.Start", member="Start", datatype="BOOL",
                                            is_writable=True, write_role=Role.OPERATOR),
    }
    tag_config_changed()
    return tags


@pytest.fixture
def screen(plant):
    s, _ = screen_save(actor=None, data={"name": "Overview", "slug": "overview", "svg": SVG, "bindings": BINDINGS,
                                         "is_home": True})
    return s
