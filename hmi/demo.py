"""Demo screens: the plant overview (tank, pumps, reactor) and the pump station, bound to the demo tags.

Loaded by `manage.py demo_load` after the tags (order 40). Idempotent: an existing screen is left as the
engineer may have edited it. Tags that do not exist (yet) are shown as unresolved on the page.
"""

from pathlib import Path

from hmi.models import Screen
from hmi.services import screen_save

SCREENS_DIR = Path(__file__).resolve().parent / "screens"

RUNNING = {"true": "#2e7d32", "false": "#9e9e9e"}


def _pump(prefix: str, device: str) -> list[dict]:
    return [
        {"element": f"{prefix}-body", "kind": "color", "tag": f"{device}.Running", "states": RUNNING},
        {"element": f"{prefix}-rotor", "kind": "rotate", "tag": f"{device}.Speed", "min": 0, "max": 3000,
         "degrees": 360},
        {"element": f"{prefix}-speed", "kind": "text", "tag": f"{device}.Speed", "decimals": 0},
        {"element": f"{prefix}-sp", "kind": "text", "tag": f"{device}.SpeedSetpoint", "decimals": 0},
        {"element": f"{prefix}-sp", "kind": "click", "action": "write", "tag": f"{device}.SpeedSetpoint"},
        {"element": prefix, "kind": "click", "action": "device", "device": device},
    ]


OVERVIEW_BINDINGS = [
    {"element": "t101-fill", "kind": "fill", "tag": "Tank_Level", "min": 0, "max": 100},
    {"element": "t101-fill", "kind": "color", "tag": "Tank_Level", "ranges": [
        {"below": 10, "color": "#c62828"}, {"below": 90, "color": "#4f8fcf"}, {"color": "#ef6c00"}]},
    {"element": "t101-level", "kind": "text", "tag": "Tank_Level", "decimals": 1},
    {"element": "t101", "kind": "click", "action": "trend", "tag": "Tank_Level"},
    {"element": "v101-body", "kind": "color", "tag": "Inlet_Valve_Open", "states": RUNNING},
    {"element": "v101-body2", "kind": "color", "tag": "Inlet_Valve_Open", "states": RUNNING},
    {"element": "v101-state", "kind": "text", "tag": "Inlet_Valve_Open", "labels": {"true": "OPEN", "false": "CLOSED"}},
    {"element": "v101", "kind": "click", "action": "write", "tag": "Inlet_Valve_Open"},
    *_pump("p01", "pump-01"),
    *_pump("p02", "pump-02"),
    {"element": "r201-temp", "kind": "text", "tag": "Reactor_Temp", "decimals": 1},
    {"element": "r201-tbar", "kind": "fill", "tag": "Reactor_Temp", "min": 0, "max": 150},
    {"element": "r201-body", "kind": "color", "tag": "Reactor_Temp", "attribute": "stroke", "ranges": [
        {"below": 90, "color": "#555555"}, {"below": 110, "color": "#ef6c00"}, {"color": "#c62828"}]},
    {"element": "r201-sp", "kind": "text", "tag": "Reactor_Temp_SP", "decimals": 1},
    {"element": "r201-sp", "kind": "click", "action": "write", "tag": "Reactor_Temp_SP"},
    {"element": "nav-pumps", "kind": "click", "action": "screen", "screen": "pump-station"},
]


def _station(prefix: str, device: str) -> list[dict]:
    return [
        {"element": f"{prefix}-run", "kind": "color", "tag": f"{device}.Running", "states": RUNNING},
        {"element": f"{prefix}-run-text", "kind": "text", "tag": f"{device}.Running",
         "labels": {"true": "RUNNING", "false": "STOPPED"}},
        {"element": f"{prefix}-speed", "kind": "text", "tag": f"{device}.Speed", "decimals": 0},
        {"element": f"{prefix}-bar", "kind": "fill", "tag": f"{device}.Speed", "min": 0, "max": 3000,
         "direction": "right"},
        {"element": f"{prefix}-sp", "kind": "text", "tag": f"{device}.SpeedSetpoint", "decimals": 0},
        {"element": f"{prefix}-sp", "kind": "click", "action": "write", "tag": f"{device}.SpeedSetpoint"},
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


def load_screens():
    created = 0
    for slug, name, description, filename, bindings, is_home, order in DEMO_SCREENS:
        if Screen.objects.filter(slug=slug).exists():
            continue
        screen_save(actor=None, data={"name": name, "slug": slug, "description": description, "is_home": is_home,
                                      "sort_order": order, "svg": (SCREENS_DIR / filename).read_text(),
                                      "bindings": bindings},
                    # The two demo screens link to each other, so the first cannot find the second yet.
                    check_references=False)
        created += 1
    return f"{created} created, {len(DEMO_SCREENS) - created} existing"
