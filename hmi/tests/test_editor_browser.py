# ruff: noqa: F811 - the browser fixtures are imported from test_browser.py and used as arguments
"""The screen editor in headless Chromium: an engineer draws a screen from the palette, binds it to demo tags
with the tag picker and saves it; an operator opens it and sees the simulated PLC move it (plcsim → drivers
worker → /ws), as the demo plant does. Screenshots under test-output/editor_*.png."""

from __future__ import annotations

import time

from playwright.sync_api import expect

from hmi.models import Screen
from hmi.tests.browser import OUTPUT, Plant, free_port, in_thread
from hmi.tests.test_browser import _sync_orm_beside_playwright, chromium, demo, new_page, server  # noqa: F401
from scada.roles import Role


def shot(page, name: str) -> None:
    OUTPUT.mkdir(exist_ok=True)
    page.screenshot(path=str(OUTPUT / f"editor_{name}.png"), full_page=True)


def pick(page, slot: str, query: str, tag: str) -> None:
    box = page.locator(f"#ed-panel .slot[data-slot={slot}]")
    box.locator(".picker-q").fill(query)
    box.locator(f".picker-row[data-tag='{tag}']").click()
    expect(page.locator(f"#ed-panel .slot[data-slot={slot}] .slot-value")).to_have_text(tag)


def build_tank_farm(page, server) -> None:
    page.goto(server.url + "/screens/")
    page.click("#new-screen")
    expect(page.locator("#ed-palette .ed-sym")).to_have_count(13)
    page.fill("#ed-name", "Tank farm")
    expect(page.locator("#ed-slug")).to_have_value("tank-farm")
    canvas = page.locator("#editor-canvas svg")
    # Drag a tank from the palette onto the grid; the drop point snaps to the 10-unit grid.
    page.locator("[data-symbol=tank]").drag_to(canvas, target_position={"x": 120, "y": 160})
    expect(page.locator("#editor-canvas #tank1")).to_have_count(1)
    pick(page, "level", "tank level", "Tank_Level")
    page.locator("[data-symbol=pump]").drag_to(canvas, target_position={"x": 320, "y": 200})
    pick(page, "running", "pump-01 running", "pump-01.Running")
    page.locator("[data-symbol=value]").drag_to(canvas, target_position={"x": 320, "y": 320})
    pick(page, "value", "pump-01 speed", "pump-01.Speed")


def test_an_engineer_builds_a_screen_and_an_operator_sees_it_move(new_page, demo, server, make_user, monkeypatch):
    from drivers.demo import load_drivers

    port = free_port()
    monkeypatch.setenv("PLCSIM_PORT", str(port))
    in_thread(load_drivers)
    plant = Plant(port)
    try:
        engineer = new_page(make_user("erin-editor", Role.ENGINEER))
        t0 = time.time()
        build_tank_farm(engineer, server)
        # Snapping: the tank's top-left corner is on the grid.
        x, y = (float(v) for v in engineer.locator("#tank1").get_attribute("transform")[10:-1].split())
        assert x % 10 == 0 and y % 10 == 0
        engineer.click("[data-cmd=preview]")
        expect(engineer.locator("#ed-preview-pane #tank1-value")).not_to_have_text("–", timeout=10000)
        shot(engineer, "live_preview")
        engineer.click("[data-cmd=preview]")
        engineer.click("#ed-save")
        expect(engineer.locator("#ed-status")).to_contain_text("Saved version 1")
        built_in = time.time() - t0
        shot(engineer, "built")
        assert engineer.errors == []
        screen = Screen.objects.get(slug="tank-farm")
        assert sorted(screen.tag_names) == ["Tank_Level", "pump-01.Running", "pump-01.Speed"]
        assert {b["kind"] for b in screen.bindings} == {"fill", "text", "color"}

        operator = new_page(demo["operator"])
        operator.goto(server.url + "/screens/tank-farm/")
        expect(operator.locator(".edit-screen")).to_have_count(0)
        level = operator.locator("#tank1-value")
        expect(level).not_to_have_text("–", timeout=10000)
        first = level.text_content()
        # The simulated PLC's process model moves the tank by itself: the operator sees the new screen follow it.
        expect(level).not_to_have_text(first, timeout=20000)
        expect(operator.locator("#pump1-state")).to_have_text("RUNNING")
        shot(operator, "operator_sees_it_move")
        assert operator.errors == []
        print(f"\nengineer built and saved the screen in {built_in:.1f} s (browser automation)")
    finally:
        plant.stop()


def test_only_engineers_get_the_editor(new_page, demo, server, make_user):
    operator = new_page(demo["operator"])
    operator.goto(server.url + "/screens/")
    expect(operator.locator("#new-screen")).to_have_count(0)
    expect(operator.locator(".edit-screen")).to_have_count(0)
    res = operator.goto(server.url + "/editor/overview/")
    assert res.status == 403
    engineer = new_page(make_user("erin-e2", Role.ENGINEER))
    engineer.goto(server.url + "/screens/overview/")
    engineer.click(".edit-screen")
    expect(engineer).to_have_url(server.url + "/editor/overview/")
    # The imported demo drawing opens with every part selectable; undo brings a moved part back.
    engineer.locator("#editor-canvas #t101-fill").click(position={"x": 6, "y": 6})
    expect(engineer.locator("#ed-panel [data-prop=id]")).to_have_value("t101")
    before = engineer.locator("#t101").get_attribute("transform")
    engineer.keyboard.press("ArrowRight")
    assert engineer.locator("#t101").get_attribute("transform") != before
    engineer.keyboard.press("Control+z")
    assert engineer.locator("#t101").get_attribute("transform") == before
    shot(engineer, "demo_overview_open")
    assert engineer.errors == []


def test_the_editor_arranges_groups_copies_imports_and_undoes(new_page, demo, server, make_user, tmp_path):
    page = new_page(make_user("erin-e3", Role.ENGINEER))
    page.goto(server.url + "/editor/")
    page.fill("#ed-name", "Arranged")
    page.click("[data-symbol=value]")
    pick(page, "value", "reactor temp", "Reactor_Temp")
    page.locator("#editor-canvas #value1-box").click(position={"x": 3, "y": 3})
    for _ in range(4):
        page.keyboard.press("Shift+ArrowLeft")  # 4 × 50 units to the left, out of the next symbol's way
    page.click("[data-symbol=analog]")
    pick(page, "value", "tank level", "Tank_Level")
    # Resize with the handle: the analog indicator's height follows the pointer, snapped to the grid.
    handle = page.locator("#editor-canvas .k-handle").bounding_box()
    page.mouse.move(handle["x"] + 3, handle["y"] + 3)
    page.mouse.down()
    page.mouse.move(handle["x"] + 3, handle["y"] + 60, steps=5)
    page.mouse.up()
    assert float(page.locator("#ed-panel [data-geom=h]").input_value()) > 150
    # Select both, align their left edges, group them, copy and paste the group (bindings follow, new ids).
    page.locator("#editor-canvas #value1-box").click(position={"x": 3, "y": 3}, modifiers=["Shift"])
    page.click("[data-align=left]")
    page.click("[data-cmd=group]")
    expect(page.locator("#editor-canvas #group1")).to_have_count(1)
    page.keyboard.press("Control+c")
    page.keyboard.press("Control+v")
    expect(page.locator("#editor-canvas #group2")).to_have_count(1)
    page.click("[data-cmd=rotate-right]")
    assert "rotate(90" in page.locator("#group2").get_attribute("transform")
    page.keyboard.press("Control+z")
    assert "rotate(90" not in page.locator("#group2").get_attribute("transform")
    page.keyboard.press("Control+y")
    assert "rotate(90" in page.locator("#group2").get_attribute("transform")
    # A rubber band from an empty corner across the whole canvas selects both groups.
    box = page.locator("#editor-canvas svg").bounding_box()
    page.mouse.move(box["x"] + 2, box["y"] + 2)
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] - 2, box["y"] + box["height"] - 2, steps=5)
    page.mouse.up()
    expect(page.locator("#ed-panel h3")).to_have_text("2 objects")
    # Import a drawing: scripts and handlers never reach the page; its part is bindable by id.
    drawing = tmp_path / "valve.svg"
    drawing.write_text('<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 50 50"><script>alert(1)</script>'
                       '<circle id="lamp" cx="25" cy="25" r="20" fill="#ccc" onclick="alert(2)"/></svg>')
    page.set_input_files("#ed-import", str(drawing))
    expect(page.locator("#editor-canvas #lamp")).to_have_count(1)
    assert page.locator("#editor-canvas script").count() == 0
    assert page.locator("#lamp").get_attribute("onclick") is None
    page.select_option("#ed-panel .ed-add-binding select >> nth=1", "visible")
    page.select_option("#ed-panel .ed-add-binding select >> nth=0", "lamp")
    page.click("#ed-panel .ed-add-binding button")
    page.locator("#ed-panel .ed-binding-row .picker-q").fill("inlet valve")
    page.locator("#ed-panel .ed-binding-row .picker-row[data-tag=Inlet_Valve_Open]").click()
    page.click("#ed-save")
    expect(page.locator("#ed-status")).to_contain_text("Saved version 1")
    shot(page, "arranged")
    screen = Screen.objects.get(slug="arranged")
    elements = {b["element"]: b for b in screen.bindings}
    assert {"value1-value", "analog1-bar", "value2-value", "analog2-bar", "lamp"} <= set(elements)
    assert elements["value2-value"]["tag"] == "Reactor_Temp"
    assert elements["lamp"] == {"element": "lamp", "kind": "visible", "tag": "Inlet_Valve_Open", "when": True}
    assert "<script" not in screen.svg
    # A second save from a stale page is refused, not silently overwriting.
    Screen.objects.filter(pk=screen.pk).update(version=5)
    page.click("#ed-save")
    expect(page.locator("#ed-status")).to_contain_text("saved by someone else")
    assert page.errors == []
