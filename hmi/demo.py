"""Demo screens: the plant overview (tank, pumps, reactor) and the pump station, bound to the demo tags.

Loaded by `manage.py demo_load` after the tags (order 40). Idempotent: an existing screen is left as the
engineer may have edited it. Every tag, device and screen the bindings name must exist once both are saved.
"""

from pathlib import Path

from django.db import transaction

from hmi.models import Screen
from hmi.services import screen_save, screens_references_check

SCREENS_DIR = Path(__file__).resolve().parent / "screens"

# ISA-101: running / open is a filled dark grey body, stopped / closed a hollow one, and the text says which;
# green and red are not used for normal states. Colour is kept for abnormal ones (a fault flag, alarms, BAD).
RUNNING = {"true": "#5c5c5c", "false": "#f4f4f4"}
RUN_LABELS = {"true": "RUNNING", "false": "STOPPED"}
RUN_TEXT = {"true": "#ffffff", "false": "#1d2125"}  # the state's text, readable on either fill
# The reactor's outline takes the alarm priority colours (the banner's) only past its alarm limits (85/95 °C).
REACTOR_OUTLINE = [{"below": 85, "color": "#4d4d4d"}, {"below": 95, "color": "#ef6c00"}, {"color": "#c62828"}]


def _pump(prefix: str, device: str) -> list[dict]:
    return [
        {"element": f"{prefix}-body", "kind": "color", "tag": f"{device}.Running", "states": RUNNING},
        {"element": f"{prefix}-state", "kind": "text", "tag": f"{device}.Running", "labels": RUN_LABELS},
        {"element": f"{prefix}-fault", "kind": "visible", "tag": f"{device}.Faulted", "when": True},
        # Decimals and units come from the tags (Tag.decimals, Tag.unit).
        {"element": f"{prefix}-speed", "kind": "text", "tag": f"{device}.Speed"},
        {"element": f"{prefix}-sp", "kind": "text", "tag": f"{device}.SpeedSetpoint"},
        {"element": f"{prefix}-sp", "kind": "click", "action": "write", "tag": f"{device}.SpeedSetpoint"},
        {"element": prefix, "kind": "click", "action": "device", "device": device},
    ]


OVERVIEW_BINDINGS = [
    {"element": "t101-fill", "kind": "fill", "tag": "Tank_Level", "min": 0, "max": 100},
    {"element": "t101-level", "kind": "text", "tag": "Tank_Level"},
    {"element": "t101", "kind": "click", "action": "faceplate", "tag": "Tank_Level"},
    {"element": "v101-body", "kind": "color", "tag": "Inlet_Valve_Open", "states": RUNNING},
    {"element": "v101-body2", "kind": "color", "tag": "Inlet_Valve_Open", "states": RUNNING},
    {"element": "v101-state", "kind": "text", "tag": "Inlet_Valve_Open", "labels": {"true": "OPEN", "false": "CLOSED"}},
    {"element": "v101", "kind": "click", "action": "write", "tag": "Inlet_Valve_Open"},
    *_pump("p01", "pump-01"),
    *_pump("p02", "pump-02"),
    {"element": "r201-temp", "kind": "text", "tag": "Reactor_Temp"},
    # r201 is an analog indicator (class k-analog): its normal range, HI/HIHI limits and the setpoint mark of
    # r201-sp's tag are drawn by the page (static/hmi/js/analog.js).
    {"element": "r201-bar", "kind": "fill", "tag": "Reactor_Temp", "min": 0, "max": 150},
    {"element": "r201-body", "kind": "color", "tag": "Reactor_Temp", "attribute": "stroke",
     "ranges": REACTOR_OUTLINE},
    {"element": "r201-body", "kind": "click", "action": "faceplate", "tag": "Reactor_Temp"},
    {"element": "r201-sp", "kind": "text", "tag": "Reactor_Temp_SP"},
    {"element": "r201-sp", "kind": "click", "action": "write", "tag": "Reactor_Temp_SP"},
    {"element": "nav-pumps", "kind": "click", "action": "screen", "screen": "pump-station"},
]


def _station(prefix: str, device: str) -> list[dict]:
    return [
        {"element": f"{prefix}-run", "kind": "color", "tag": f"{device}.Running", "states": RUNNING},
        {"element": f"{prefix}-run-text", "kind": "text", "tag": f"{device}.Running", "labels": RUN_LABELS},
        {"element": f"{prefix}-run-text", "kind": "color", "tag": f"{device}.Running", "states": RUN_TEXT},
        {"element": f"{prefix}-fault", "kind": "visible", "tag": f"{device}.Faulted", "when": True},
        {"element": f"{prefix}-speed", "kind": "text", "tag": f"{device}.Speed"},
        {"element": f"{prefix}-ai-bar", "kind": "fill", "tag": f"{device}.Speed", "min": 0, "max": 3000,
         "direction": "right"},
        {"element": f"{prefix}-ai-sp", "kind": "text", "tag": f"{device}.SpeedSetpoint"},
        {"element": f"{prefix}-ai-sp", "kind": "click", "action": "write", "tag": f"{device}.SpeedSetpoint"},
        {"element": prefix, "kind": "click", "action": "device", "device": device},
    ]


PUMP_STATION_BINDINGS = [
    *_station("ps-p01", "pump-01"),
    *_station("ps-p02", "pump-02"),
    {"element": "ps-back", "kind": "click", "action": "screen", "screen": "overview"},
]

DEMO_SCREENS = [
    ("overview", "Overview", "The demo plant: tank, pumps and reactor.", "overview.svg", OVERVIEW_BINDINGS, True, 10),
    ("pump-station", "Pump station", "Both pumps of the demo plant.", "pump-station.svg", PUMP_STATION_BINDINGS,
     False, 20),
]


@transaction.atomic
def load_screens():
    created = 0
    for slug, name, description, filename, bindings, is_home, order in DEMO_SCREENS:
        if Screen.objects.filter(slug=slug).exists():
            continue
        screen_save(actor=None, data={"name": name, "slug": slug, "description": description, "is_home": is_home,
                                      "sort_order": order, "svg": (SCREENS_DIR / filename).read_text(),
                                      "bindings": bindings},
                    # The two demo screens link to each other, so the first cannot find the second yet: both are
                    # checked once both exist, in this transaction.
                    defer_references=True)
        created += 1
    screens_references_check()
    return f"{created} created, {len(DEMO_SCREENS) - created} existing"
