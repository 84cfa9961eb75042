"""docs/drivers.md's register map of the simulated PLC is the one plcsim serves (drivers.plcsim.DEMO_MAP)."""

import re
from pathlib import Path

from drivers.plcsim import DEMO_MAP

DOC = Path(__file__).resolve().parents[2] / "docs" / "drivers.md"


def test_the_documented_register_map_is_the_simulators():
    text = DOC.read_text()
    section = text[text.index("## The simulated PLC's register map"):]
    rows = re.findall(r"^\| `([^`]+)` \| (\w+) \| (\d+) \| (\d+) \| (\w+) \|", section, re.M)
    documented = [(tag, table, int(address), int(count), dtype) for tag, table, address, count, dtype in rows]
    served = [(e.tag, e.table, e.address, e.codec().count, e.data_type) for e in DEMO_MAP]
    assert documented == served
