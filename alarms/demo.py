"""Demo plant alarms that the simulated PLC can drive (manage.py demo_load; order 30, after tags and drivers).

- Reactor_Temp HI (85 °C, 2 s on-delay) and HIHI (95 °C, acknowledgement needs a reason code): write
  Reactor_Temp_SP = 100 and the simulated reactor heats past both within a minute or so.
- pump.centrifugal BearingTempDE HI (65 °C) on the device type, so pump-01 and pump-02 both get it: run a pump
  at SpeedSetpoint 3000 and its drive-end bearing warms past 65 °C.
- pump.centrifugal Speed LO (100 rpm), suppressed by design while the pump is not running.
- Reactor_Temp BAD quality (5 s on-delay): stop the simulated PLC (plcsim) and it annunciates.

Definitions whose tag does not exist yet are skipped (and made on the next run); existing ones are kept as an
engineer may have changed them.
"""

from __future__ import annotations

from django.db import transaction

from accounts.audit import audit_record
from alarms.models import AlarmDefinition
from alarms.services import alarm_instances_sync
from tags.models import DeviceTypeTag, Tag

PUMP_TYPE = "pump.centrifugal"
REASON_CODES = ["operator_action", "process_upset", "instrument_fault", "maintenance"]

DEMO_ALARMS = [
    # key, name, (tag name | (device type, member)), kind, setpoint, extra fields
    ("reactor_temp_hi", "Reactor Temp High", "Reactor_Temp", "HI", 85.0,
     {"deadband": 1.0, "on_delay": 2.0, "priority": "high", "category": "process",
      "message": "Reactor temperature {value} {unit} above {setpoint} {unit}"}),
    ("reactor_temp_hihi", "Reactor Temp High-High", "Reactor_Temp", "HIHI", 95.0,
     {"deadband": 1.0, "priority": "critical", "category": "safety", "ack_requires_reason": True,
      "reason_codes": REASON_CODES, "max_shelve_seconds": 1800, "shelve_requires_reason": True,
      "message": "Reactor temperature {value} {unit} above the {setpoint} {unit} trip limit"}),
    ("reactor_temp_bad", "Reactor Temp Signal Lost", "Reactor_Temp", "BAD", None,
     {"on_delay": 5.0, "priority": "high", "category": "instrument"}),
    ("bearing_temp_high", "Bearing Temp High", (PUMP_TYPE, "BearingTempDE"), "HI", 65.0,
     {"deadband": 2.0, "priority": "medium", "category": "mechanical",
      "message": "Bearing temperature exceeds {setpoint}{unit}"}),
    ("pump_speed_low", "Pump Speed Low", (PUMP_TYPE, "Speed"), "LO", 100.0,
     {"deadband": 20.0, "on_delay": 5.0, "priority": "low", "category": "process",
      "suppress_condition": "!{tags.Running}", "message": "{machine} speed {value} {unit} below {setpoint} {unit}"}),
]


@transaction.atomic
def load_alarms() -> str:
    created, skipped = [], []
    existing = set(AlarmDefinition.objects.values_list("key", flat=True))
    for key, name, target, kind, setpoint, extra in DEMO_ALARMS:
        if key in existing:
            continue
        if isinstance(target, str):
            tag, dtt = Tag.objects.filter(name=target).first(), None
            found = tag is not None
        else:
            tag = None
            dtt = DeviceTypeTag.objects.filter(device_type__type_id=target[0], member=target[1]).first()
            found = dtt is not None
        if not found:
            skipped.append(key)
            continue
        d = AlarmDefinition(key=key, name=name, tag=tag, device_type_tag=dtt, kind=kind, setpoint=setpoint, **extra)
        d.full_clean()
        d.save()
        created.append(key)
    if created:
        audit_record(action="alarm_definition.demo_load", object_type="alarm_definition", object_id="demo",
                     new_value={"created": created}, reason="demo_load")
    made = alarm_instances_sync()
    summary = f"{len(created)} definitions created, {made} alarms made"
    if skipped:
        summary += f", {len(skipped)} skipped (tags not there yet: {', '.join(skipped)})"
    return summary
