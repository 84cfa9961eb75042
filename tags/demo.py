"""Demo plant tags: site demo-site, the pump.centrifugal type with pump-01/pump-02, reactor-01 and tank-01.

Everything goes through the services (audited, validated) and is idempotent: existing objects are kept as an
engineer may have changed them; only what is missing is created. Initial values are recorded through
tag_values_record, and only for tags that have no value yet.
"""

from __future__ import annotations

from scada.roles import Role
from tags.live import live_get_many
from tags.models import DeviceCommand, DeviceType, DeviceTypeTag, Machine, Site, Tag
from tags.services import machine_create_from_type, machine_sync_from_type, tag_create
from tags.values import Sample, tag_values_record

PUMP_TYPE = ("pump.centrifugal", "1.2.0")

# member, datatype, unit, min, max, writable, write role, description
PUMP_MEMBERS = [
    ("Running", "BOOL", "", None, None, False, Role.SUPERVISOR, "Pump running feedback"),
    ("Faulted", "BOOL", "", None, None, False, Role.SUPERVISOR, "Pump fault (drive trip or protection)"),
    ("Speed", "REAL", "RPM", 0, 3000, False, Role.SUPERVISOR, "Measured shaft speed"),
    ("SpeedSetpoint", "REAL", "RPM", 0, 3000, True, Role.OPERATOR, "Speed setpoint"),
    ("Current", "REAL", "A", 0, 200, False, Role.SUPERVISOR, "Motor current"),
    ("BearingTempDE", "REAL", "°C", -20, 150, False, Role.SUPERVISOR, "Bearing temperature, drive end"),
    ("BearingTempNDE", "REAL", "°C", -20, 150, False, Role.SUPERVISOR, "Bearing temperature, non-drive end"),
    # Command bits the start/stop commands pulse; the PLC answers on Running.
    ("Start", "BOOL", "", None, None, True, Role.OPERATOR, "Start command bit"),
    ("Stop", "BOOL", "", None, None, True, Role.OPERATOR, "Stop command bit"),
]

# Display decimals of the demo's numbers (the rest are automatic): what the instrument resolves, no more.
DECIMALS = {"Speed": 0, "SpeedSetpoint": 0, "Current": 1, "BearingTempDE": 1, "BearingTempNDE": 1,
            "Reactor_Temp": 1, "Reactor_Temp_SP": 1, "Reactor_Pressure": 2, "Temp_PV": 1, "Lab_Viscosity": 0,
            "Tank_Level": 1, "Run_Hours": 0, "Pump_Speed": 0}

PUMP_COMMANDS = [
    ("start", "Start pump", {}, [
        {"condition": "!{tags.Running}", "reason": "Pump is already running"},
        {"condition": "!{tags.Faulted}", "reason": "Pump is faulted; reset the fault first"},
    ], [{"write": "Start", "value": True}]),
    ("stop", "Stop pump", {}, [
        {"condition": "{tags.Running}", "reason": "Pump is not running"},
    ], [{"write": "Stop", "value": True}]),
    ("set_speed", "Set speed", {"speed": {"type": "REAL", "min": 0, "max": 3000, "required": True, "unit": "RPM"}},
     [], [{"write": "SpeedSetpoint", "value": "{params.speed}"}]),
]

PUMPS = [
    ("pump-01", "Pump 1", {"Running": True, "Faulted": False, "Speed": 1485.2, "SpeedSetpoint": 1500.0,
                           "Current": 42.7, "BearingTempDE": 58.3, "BearingTempNDE": 55.1, "Start": False,
                           "Stop": False}),
    ("pump-02", "Pump 2", {"Running": False, "Faulted": False, "Speed": 0.0, "SpeedSetpoint": 0.0, "Current": 0.0,
                           "BearingTempDE": 24.1, "BearingTempNDE": 23.8, "Start": False, "Stop": False}),
]

# machine id, name, [(tag, datatype, unit, min, max, writable, write role, description, initial value)]
MACHINES = [
    ("reactor-01", "Reactor 1", [
        ("Reactor_Temp", "REAL", "°C", 0, 150, False, Role.SUPERVISOR, "Main reactor temperature", 72.4),
        ("Reactor_Temp_SP", "REAL", "°C", 0, 150, True, Role.SUPERVISOR, "Reactor temperature setpoint", 75.0),
        ("Reactor_Pressure", "REAL", "bar", 0, 10, False, Role.SUPERVISOR, "Reactor pressure", 2.4),
        ("Temp_PV", "REAL", "°C", 0, 150, False, Role.SUPERVISOR, "Jacket temperature (process value)", 68.9),
        # No PLC feeds it: LIMS (or a supervisor) writes the lab result with the sample's own time and quality,
        # so seed 003's write example, quality and timestamp included, can be tried as written.
        ("Lab_Viscosity", "REAL", "cP", 0, 10000, True, Role.SUPERVISOR, "Viscosity of the last lab sample", 1250.0),
    ]),
    ("tank-01", "Tank 1", [
        ("Tank_Level", "REAL", "%", 0, 100, False, Role.SUPERVISOR, "Tank level", 63.5),
        ("Inlet_Valve_Open", "BOOL", "", None, None, True, Role.SUPERVISOR, "Inlet valve open command", True),
        ("Run_Hours", "INT", "h", 0, None, False, Role.SUPERVISOR, "Transfer pump run hours", 1287),
        ("Status_Text", "STRING", "", None, None, False, Role.SUPERVISOR, "Tank status message", "Filling"),
        ("Pump_Speed", "REAL", "RPM", 0, 3000, False, Role.SUPERVISOR, "Transfer pump speed", 1420.0),
    ]),
]


def _pump_type() -> DeviceType:
    device_type, _ = DeviceType.objects.get_or_create(
        type_id=PUMP_TYPE[0], version=PUMP_TYPE[1],
        defaults={"name": "Centrifugal pump", "description": "Variable-speed centrifugal pump with bearing RTDs"},
    )
    for member, datatype, unit, lo, hi, writable, role, description in PUMP_MEMBERS:
        DeviceTypeTag.objects.get_or_create(
            device_type=device_type, member=member,
            defaults={"datatype": datatype, "unit": unit, "min_value": lo, "max_value": hi, "is_writable": writable,
                      "write_role": role, "description": description, "decimals": DECIMALS.get(member)},
        )
    for command_id, name, parameters, preconditions, actions in PUMP_COMMANDS:
        DeviceCommand.objects.get_or_create(
            device_type=device_type, command_id=command_id,
            defaults={"name": name, "parameters": parameters, "preconditions": preconditions, "actions": actions,
                      "min_role": Role.OPERATOR},
        )
    return device_type


def _record_initial(values: dict[str, object]) -> int:
    """Initial values for tags that have none yet (a restart must not reset what the plant is doing)."""
    tags = dict(Tag.objects.filter(name__in=values).values_list("name", "id"))
    live = live_get_many(tags.values())
    samples = [Sample(tag_id=tid, value=values[name]) for name, tid in tags.items() if live.get(tid) is None]
    return len(tag_values_record(samples=samples, force=True))


def load_plant() -> str:
    site, _ = Site.objects.get_or_create(site_id="demo-site", defaults={"name": "Demo site",
                                                                        "description": "Kiln demo plant"})
    device_type = _pump_type()
    created_machines = created_tags = 0
    initial: dict[str, object] = {}
    for machine_id, name, values in PUMPS:
        machine = Machine.objects.filter(machine_id=machine_id).first()
        if machine is None:
            machine_create_from_type(machine_id=machine_id, device_type=device_type, site=site, name=name,
                                     location="Sump Room North", process_id="demo-pump-station")
            created_machines += 1
            created_tags += len(PUMP_MEMBERS)
        elif machine.device_type_id == device_type.pk:
            created_tags += len(machine_sync_from_type(machine=machine))
        initial.update({f"{machine_id}.{member}": value for member, value in values.items()})
    for machine_id, name, tags in MACHINES:
        machine, made = Machine.objects.get_or_create(machine_id=machine_id, defaults={"name": name, "site": site})
        created_machines += int(made)
        existing = set(machine.tags.values_list("name", flat=True))
        for tag_name, datatype, unit, lo, hi, writable, role, description, value in tags:
            initial[tag_name] = value
            if tag_name in existing or Tag.objects.filter(name=tag_name).exists():
                continue
            tag_create(user=None, machine_id=machine_id, name=tag_name, datatype=datatype, unit=unit, min_value=lo,
                       max_value=hi, is_writable=writable, write_role=role, description=description,
                       decimals=DECIMALS.get(tag_name))
            created_tags += 1
    recorded = _record_initial(initial)
    return f"{created_machines} machines and {created_tags} tags created, {recorded} initial values recorded"
