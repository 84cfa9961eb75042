"""ISA-101 graphics operators can trust (issue 16 §2), in headless Chromium against a real daphne: the demo
screens grey with colour only for abnormal states, analog indicators with their limits and setpoint, and
faceplates for tags and devices that offer writing only to those who may write.

Screenshots of what each test checked go to test-output/hmi_isa101_*.png.
"""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from hmi.tests import test_browser as base

# The browser, demo plant, server and login fixtures of test_browser.py, shared rather than copied.
_sync_orm_beside_playwright = base._sync_orm_beside_playwright
chromium = base.chromium
demo = base.demo
server = base.server
new_page = base.new_page
pytestmark = pytest.mark.timeout(180)

# Every visible fill and stroke on the screen that is not a grey (channels within 24 of each other, so the
# blue-grey greys count) nor the setpoint blue: what the operator would read as a colour.
COLOURS_SHOWN = """(() => {
  const out = [];
  for (const e of document.querySelectorAll('#screen svg *')) {
    if (!(e instanceof SVGGeometryElement || e instanceof SVGTextElement) || !e.getClientRects().length) continue;
    const cs = getComputedStyle(e);
    if (cs.visibility === 'hidden') continue;
    for (const p of ['fill', 'stroke']) {
      const m = /^rgb\\((\\d+), (\\d+), (\\d+)\\)$/.exec(cs[p]);
      if (!m || cs[p] === 'rgb(31, 95, 158)') continue;
      const c = [+m[1], +m[2], +m[3]];
      if (Math.max(...c) - Math.min(...c) > 24) out.push((e.id || e.closest('[id]').id) + ' ' + p + ' ' + cs[p]);
    }
  }
  return out;
})()"""


# An analog indicator as the screen editor draws it (editor-symbols.js), with design-time L/H/SP marks.
EDITOR_ANALOG = """<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 200 220">
  <g id="ai1" class="k-sym k-analog" transform="translate(60,20)">
    <rect id="ai1-scale" x="0" y="0" width="34" height="150" fill="#f4f4f4"/>
    <rect class="k-design-limits" x="1" y="40" width="32" height="60" fill="#cfd8cf"/>
    <rect id="ai1-bar" x="10" y="0" width="14" height="150" fill="#9e9e9e"/>
    <path class="k-design-limits" d="M34 40 l8 -5 l0 10 Z"/><text class="k-design-limits" x="44" y="44">H</text>
    <path class="k-design-sp" d="M0 70 l-9 -6 l0 12 Z"/>
    <text id="ai1-value" x="17" y="168">-</text><text id="ai1-sp" x="17" y="184"></text>
  </g>
</svg>"""


def shot(page, name: str) -> None:
    base.shot(page, "isa101_" + name)


@pytest.fixture
def demo_alarms(demo):
    """The demo's alarm definitions (Reactor_Temp HI 85 / HIHI 95, pump Speed LO 100, bearing HI 65)."""
    from alarms.demo import load_alarms
    from alarms.evaluation import engine

    base.in_thread(load_alarms)
    engine.reset()
    return demo


INDICATOR_COVERS_A_LIMIT_LABEL = """(() => {
  const i = document.querySelector('g.alarm-ind[data-alarm-for="Reactor_Temp"]').getBoundingClientRect();
  return Array.from(document.querySelectorAll('.k-limit-label')).some(l => { const r = l.getBoundingClientRect();
    return r.right > i.left && r.left < i.right && r.bottom > i.top && r.top < i.bottom; });
})()"""

def test_screens_are_grey_with_live_analog_limits_and_setpoints_and_colour_only_when_abnormal(new_page, demo_alarms,
                                                                                              server):
    page = new_page(demo_alarms["operator"])
    # Running / stopped by fill and text, not green / red.
    expect(page.locator("#p01-state")).to_have_text("RUNNING")
    expect(page.locator("#p02-state")).to_have_text("STOPPED")
    fills = page.evaluate("['p01-body', 'p02-body'].map(id => getComputedStyle(document.getElementById(id)).fill)")
    assert fills == ["rgb(92, 92, 92)", "rgb(244, 244, 244)"]
    expect(page.locator("#t101-level")).to_have_text("63.5 %")  # the tag's decimals and unit
    assert page.evaluate(COLOURS_SHOWN) == []
    # The reactor's temperature indicator: normal band below HI, HH and H ticks, the setpoint (75 °C) marked.
    r201 = page.locator("#r201")
    expect(r201).to_have_attribute("data-limits", "2")
    assert r201.locator(".k-limit-label").all_text_contents() == ["HH", "H"]
    band = r201.locator(".k-normal-band")
    assert float(band.get_attribute("y")) == pytest.approx(170 + 200 - 85 / 150 * 200, abs=0.1)
    expect(r201.locator(".k-sp-mark")).to_have_attribute("transform", "translate(0,270.0)")
    shot(page, "overview_normal")

    base.record("Reactor_Temp", 96.0)  # past HIHI (critical, no delay)
    base.record("pump-01.Faulted", True)
    expect(page.locator("#r201-temp")).to_have_text("96.0 °C")
    expect(page.locator('g.alarm-ind[data-alarm-for="Reactor_Temp"]').first).to_have_attribute(
        "data-priority", "critical")
    assert not page.evaluate(INDICATOR_COVERS_A_LIMIT_LABEL)  # the mark moves right of the box, clear of "HH"
    expect(page.locator("#p01-fault")).to_be_visible()
    shown = page.evaluate(COLOURS_SHOWN)
    assert any(s.startswith("r201-body stroke rgb(198, 40, 40)") for s in shown), shown
    assert any(s.startswith("p01-fault fill") for s in shown), shown
    shot(page, "overview_abnormal")
    page.click("#nav-pumps")  # the pump station: horizontal speed indicators, Speed LO at 100 RPM marked
    ind = page.locator("#ps-p01-ai")
    expect(ind).to_have_attribute("data-limits", "1")
    expect(ind.locator(".k-sp-mark")).to_have_attribute("transform", "translate(420.0,0)")  # SP 1500 of 0-3000
    expect(page.locator("#ps-p02-run-text")).to_have_text("STOPPED")
    assert page.evaluate(COLOURS_SHOWN) == ["ps-p01-fault fill rgb(239, 108, 0)"]  # pump 1 is still faulted
    shot(page, "pump_station")

    # An analog indicator drawn in the screen editor: live limits and setpoint replace its design-time marks.
    from hmi.services import screen_save

    screen_save(actor=None, data={"name": "AI", "slug": "ai", "svg": EDITOR_ANALOG, "bindings": [
        {"element": "ai1-bar", "kind": "fill", "tag": "Reactor_Temp"},
        {"element": "ai1-value", "kind": "text", "tag": "Reactor_Temp"},
        {"element": "ai1-sp", "kind": "text", "tag": "Reactor_Temp_SP"}]})
    page.goto(server.url + "/screens/ai/")
    g = page.locator("#ai1")
    expect(g).to_have_attribute("data-limits", "2")
    assert g.locator(".k-design-limits, .k-design-sp").count() == 0
    assert g.locator(".k-limit-label").all_text_contents() == ["HH", "H"]
    expect(g.locator(".k-sp-mark")).to_have_attribute("transform", "translate(0,75.0)")  # 75 of 0-150 on 150 px
    assert page.errors == []


def test_faceplates_show_value_limits_alarms_and_trend_and_offer_writes_only_to_those_allowed(
        new_page, demo_alarms, server):
    base.record("Reactor_Temp", 96.0)
    op = new_page(demo_alarms["operator"])
    op.click("#r201-temp")  # a value with no click of its own: its faceplate
    fp = op.locator("#tag-dialog")
    expect(fp).to_be_visible()
    expect(fp.locator(".fp-name")).to_have_text("Reactor_Temp")
    expect(fp.locator(".fp-value")).to_have_text("96.0 °C")
    expect(fp.locator(".fp-quality")).to_have_text("GOOD")
    expect(fp.locator("dd[data-field=range]")).to_have_text("0.0 °C … 150.0 °C")
    expect(fp.locator("dd[data-field=alarm-limits]")).to_have_text("HH 95.0 °C · H 85.0 °C")
    expect(fp.locator(".fp-alarm[data-priority=critical]")).to_contain_text("Reactor Temp High-High")
    expect(fp.locator(".fp-trend")).to_have_attribute("data-state", "ready")
    assert int(fp.locator(".fp-trend").get_attribute("data-points")) >= 1
    expect(fp.locator(".fp-write")).to_be_hidden()
    base.record("Reactor_Temp", 97.25)
    expect(fp.locator(".fp-value")).to_have_text("97.3 °C")  # live, with the tag's decimals
    shot(op, "tag_faceplate")
    op.keyboard.press("Escape")

    # The device faceplate: status as text, key values with their decimals, alarms; a member opens its own.
    op.click("#p01-body")
    dev = op.locator("#device-dialog")
    expect(dev.locator(".dd-status")).to_have_text("RUNNING")
    expect(dev.locator('.dd-member[data-tag="pump-01.Speed"] .dd-mval')).to_have_text("1485 RPM")
    expect(dev.locator(".fp-no-alarm")).to_be_visible()
    shot(op, "device_faceplate")
    dev.locator('.dd-member[data-tag="pump-01.Speed"] .dd-mname').click()
    expect(fp.locator(".fp-name")).to_have_text("pump-01.Speed")
    expect(fp.locator("dd[data-field=alarm-limits]")).to_have_text("L 100 RPM")
    op.keyboard.press("Escape")

    # A setpoint the operator may not write: the click shows its faceplate, read-only.
    op.click("#r201-sp")
    expect(fp.locator(".fp-name")).to_have_text("Reactor_Temp_SP")
    expect(fp.locator(".fp-write")).to_be_hidden()
    assert not op.locator("#write-dialog").is_visible()
    # A supervisor may: the faceplate offers the write dialog that already exists.
    sup = new_page(demo_alarms["supervisor"])
    sup.evaluate("Kiln.openFaceplate('Reactor_Temp_SP')")
    sup.locator("#tag-dialog .fp-write").click()
    expect(sup.locator("#write-dialog")).to_be_visible()
    expect(sup.locator("#write-dialog .wd-tag")).to_have_text("Reactor_Temp_SP [°C]")
    expect(sup.locator("#write-dialog .wd-value")).to_have_text("75.0 °C")
    sup.keyboard.press("Escape")
    # The faceplate's Trend: the tag's alarm limits drawn on the chart too.
    sup.evaluate("Kiln.openFaceplate('Reactor_Temp')")
    sup.locator("#tag-dialog .fp-trend-btn").click()
    sup.wait_for_url("**/trends/?tags=Reactor_Temp")
    base.wait_js(sup, "window.Kiln.trend && Kiln.trend.state.limitsDrawn === 2")
    shot(sup, "trend_limits")
    assert op.errors == [] and sup.errors == []
