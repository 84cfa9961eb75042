"""Rough edges a newcomer hit in the HMI (issue 16 §4), each proved in headless Chromium against a real daphne.

Screenshots of what each test checked go to test-output/hmi_edge_*.png.
"""

from __future__ import annotations

import re

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


def shot(page, name: str) -> None:
    base.shot(page, "edge_" + name)


def test_the_journal_csv_button_downloads_the_csv(new_page, demo, server):
    base._tank_alarm()
    base.record("Tank_Level", 20.04321)  # clears: a journal row whose value has more digits than the tag shows
    page = new_page(demo["operator"])
    page.goto(server.url + "/alarms/journal/")
    expect(page.locator("#journal-table tbody")).to_contain_text("activated")
    with page.expect_download() as info:
        page.click("#journal-csv")
    lines = open(info.value.path(), encoding="utf-8").read().splitlines()
    assert lines[0].startswith("ts,event") and any("tank_level_hi" in line for line in lines[1:])
    assert any(",20.0," in line for line in lines) and not any("20.04321" in line for line in lines), lines
    assert page.locator("#journal-error").is_hidden()
    shot(page, "journal_csv")


def test_a_required_ack_reason_is_not_preselected_and_codes_show_as_labels(new_page, demo, server):
    alarm = base._tank_alarm()
    page = new_page(demo["operator"])
    page.goto(server.url + "/alarms/")
    row = page.locator(f'tr[data-alarm="{alarm.pk}"]')
    row.locator(".act-ack").click()
    dialog = page.locator("#ack-dialog")
    select = dialog.locator("select[name=reason_code]")
    assert select.input_value() == ""
    assert select.locator("option").all_text_contents() == ["— choose a reason —", "Checked", "Maintenance"]
    shot(page, "ack_reason_unselected")
    dialog.locator("button[type=submit]").click()
    expect(dialog.locator(".dlg-error")).to_have_text("Choose a reason code.")
    alarm.refresh_from_db()
    assert not alarm.acked
    select.select_option(label="Maintenance")
    dialog.locator("button[type=submit]").click()
    expect(row).to_contain_text("active acked")
    alarm.refresh_from_db()
    assert alarm.acked and "maintenance" in alarm.ack_reason


def test_kilns_404_page_keeps_the_nav_and_alarm_banner(new_page, demo, server):
    base._tank_alarm()
    page = new_page(demo["operator"])
    page.goto(server.url + "/screens/gone/")
    expect(page.locator("h1")).to_have_text("Page not found (404)")
    expect(page.locator('#alarm-banner .ab-count[data-priority="high"]')).to_have_text("1")
    expect(page.locator(".nav a", has_text="Alarms")).to_be_visible()
    shot(page, "404")
    page.goto(server.url + "/admin/")
    expect(page.locator("h1")).to_have_text("Configuration is for engineers")
    shot(page, "admin_denied")
    assert page.errors == []


@pytest.fixture
def paris(monkeypatch):
    """The daphne the test starts reads KILN_PLANT_TIME_ZONE from its environment."""
    monkeypatch.setenv("KILN_PLANT_TIME_ZONE", "Europe/Paris")


def test_times_show_in_the_plant_time_zone_in_one_24_hour_format(paris, new_page, demo, server):
    from datetime import datetime, timedelta
    from zoneinfo import ZoneInfo

    from alarms.models import AlarmEvent

    base._tank_alarm()
    event = AlarmEvent.objects.get(key="tank_level_hi", event="activated")
    paris_ts = event.ts.astimezone(ZoneInfo("Europe/Paris"))
    page = new_page(demo["operator"])
    page.goto(server.url + "/alarms/journal/")
    first = page.locator("#journal-table tbody tr").first
    expect(first.locator("td").first).to_have_text(paris_ts.strftime("%Y-%m-%d %H:%M:%S"))
    expect(first).to_contain_text("Tank Level High")  # the alarm's name, not its key
    expect(page.locator("#clock")).to_contain_text("Europe/Paris")
    expect(page.locator("#journal-form")).to_contain_text("Europe/Paris")
    # The filter's inputs are Paris wall-clock times: one minute after the event leaves nothing.
    later = (paris_ts + timedelta(minutes=2)).strftime("%Y-%m-%d %H:%M")
    page.fill("input[name=start]", later)
    page.click("#journal-form button[type=submit]")
    expect(page.locator("#journal-table tbody")).to_contain_text("No journal entries match.")
    page.fill("input[name=start]", paris_ts.strftime("%Y-%m-%d %H:%M"))
    page.click("#journal-form button[type=submit]")
    expect(first).to_contain_text("activated")
    page.fill("input[name=end]", "06/12/2026 3:04 PM")  # not the one format: refused with how to write it
    page.click("#journal-form button[type=submit]")
    expect(page.locator("#journal-error")).to_contain_text("YYYY-MM-DD HH:MM (24-hour, Europe/Paris)")
    shot(page, "journal_paris")
    page.goto(server.url + "/trends/?tags=Tank_Level&range=1h")
    expect(page.locator("#trend-chart .uplot")).to_be_visible()
    # The time axis is drawn on a canvas: read the tick labels uPlot drew (its axis' _values).
    base.wait_js(page, "Kiln.trend.state.plot && (Kiln.trend.state.plot.axes[0]._values || []).length > 0")
    ticks = page.evaluate("Kiln.trend.state.plot.axes[0]._values.join('|')")
    assert ":" in ticks and "am" not in ticks.lower() and "pm" not in ticks.lower(), ticks
    now_paris = datetime.now(ZoneInfo("Europe/Paris"))
    assert now_paris.strftime("%Y-%m-%d") in ticks or (now_paris - timedelta(hours=1)).strftime("%Y-%m-%d") in ticks
    shot(page, "trend_paris")
    page.goto(server.url + "/alarms/kpis/")
    expect(page.locator("#kpi-top tbody tr").first).to_contain_text("Tank Level High")
    assert page.errors == []


def _reactor_alarm():
    from alarms.evaluation import engine
    from alarms.models import Alarm, AlarmDefinition
    from alarms.services import alarm_instances_sync
    from tags.models import Tag

    d = AlarmDefinition(key="reactor_hot", name="Reactor Hot", tag=Tag.objects.get(name="Reactor_Temp"), kind="HI",
                        setpoint=90.0, priority="low", reason_codes=["checked"])
    d.full_clean()
    d.save()
    alarm_instances_sync()
    engine.reset()
    base.record("Reactor_Temp", 99.0)
    return Alarm.objects.get(definition=d)


def test_the_alarm_table_filters_sorts_shows_details_and_acknowledges_what_is_shown(new_page, demo, server):
    tank = base._tank_alarm()
    reactor = _reactor_alarm()
    page = new_page(demo["operator"])
    page.goto(server.url + "/alarms/")
    rows = page.locator("#alarm-table tbody tr[data-alarm]")
    expect(rows).to_have_count(2)
    expect(rows.first).to_have_attribute("data-alarm", str(tank.pk))  # high before low
    page.fill("#alarm-filter input[name=q]", "reactor")
    expect(rows).to_have_count(1)
    expect(page.locator("#alarm-total")).to_have_text("1 of 2 shown")
    page.fill("#alarm-filter input[name=q]", "")
    page.select_option("#alarm-filter select[name=priority]", "high")
    expect(rows).to_have_count(1)
    page.select_option("#alarm-filter select[name=priority]", "")
    page.click("#alarm-table th[data-sort=name]")  # A→Z
    expect(rows.first).to_have_attribute("data-alarm", str(reactor.pk))
    page.click("#alarm-table th[data-sort=name]")  # Z→A
    expect(rows.first).to_have_attribute("data-alarm", str(tank.pk))
    rows.first.locator("td").nth(2).click()
    panel = page.locator("#alarm-details")
    expect(panel.locator(".ad-name")).to_have_text("Tank Level High")
    expect(panel).to_contain_text("tank_level_hi")
    expect(panel.locator("a", has_text="Journal")).to_have_attribute("href", "/alarms/journal/?tag=Tank_Level")
    shot(page, "alarm_table_details")
    page.click("#ack-shown")
    dialog = page.locator("#ack-dialog")
    expect(dialog.locator(".ack-name")).to_have_text("2 alarms shown")
    dialog.locator("select[name=reason_code]").select_option(label="Checked")
    dialog.locator("input[name=reason]").fill("walked the plant")
    dialog.locator("button[type=submit]").click()
    expect(dialog).to_be_hidden()
    expect(page.locator("#ack-shown")).to_be_disabled()
    for alarm in (tank, reactor):
        alarm.refresh_from_db()
        assert alarm.acked and "checked" in alarm.ack_reason
    assert page.errors == []


def test_the_horn_can_be_silenced_until_a_new_alarm_sounds(new_page, demo, server):
    page = new_page(demo["operator"])
    page.goto(server.url + "/alarms/")
    page.click("#sound-toggle")  # the station's sound on
    base._tank_alarm()
    silence = page.locator("#silence-horn")
    expect(silence).to_be_visible()
    assert page.evaluate("!!Kiln.banner.audio")
    shot(page, "horn_sounding")
    silence.click()
    expect(silence).to_be_hidden()
    assert page.evaluate("!Kiln.banner.audio")
    expect(page.locator('#alarm-banner .ab-count[data-priority="high"]')).to_have_text("1")  # still unacknowledged
    _reactor_alarm()
    expect(silence).to_be_visible()
    assert page.errors == []


def test_on_a_phone_the_nav_collapses_screens_are_a_menu_and_a_long_press_opens_the_trend(chromium, demo, server):
    from hmi.services import screen_save

    svg = '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 10 10"><text id="t">-</text></svg>'
    for i in range(5):  # seven screens in all: too many for a row of links
        screen_save(actor=None, data={"name": f"Area {i}", "slug": f"area-{i}", "svg": svg, "bindings": []})
    ctx = chromium.new_context(viewport={"width": 390, "height": 844}, has_touch=True, is_mobile=True)
    try:
        page = ctx.new_page()
        errors = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.goto(server.url + "/login/")
        page.fill("input[name=username]", demo["operator"].username)
        page.fill("input[name=password]", base.PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_url(server.url + "/")
        nav = page.locator("#main-nav")
        expect(nav).to_be_hidden()
        shot(page, "phone_nav_closed")
        page.click("#nav-toggle")
        expect(nav).to_be_visible()
        expect(page.locator("#nav-toggle")).to_have_attribute("aria-expanded", "true")
        page.click("#screens-menu summary")
        menu = page.locator("#screens-menu .nav-menu-list")
        expect(menu.locator("a")).to_have_count(8)  # seven screens and "All screens (7)"
        expect(menu).to_contain_text("All screens (7)")
        shot(page, "phone_nav_screens_menu")
        page.click("#nav-toggle")
        page.goto(server.url + "/tags/")
        value = page.locator('tr[data-tag="Tank_Level"] .v')
        expect(value).to_be_visible()
        box = value.bounding_box()
        point = {"pointerType": "touch", "clientX": box["x"] + 2, "clientY": box["y"] + 2, "bubbles": True}
        value.dispatch_event("pointerdown", point)
        page.wait_for_url("**/trends/?tags=Tank_Level", timeout=5000)
        assert errors == []
    finally:
        ctx.close()


def test_with_few_screens_they_stay_links_in_the_nav(new_page, demo, server):
    page = new_page(demo["operator"])
    expect(page.locator("#main-nav > a", has_text="Pump station")).to_be_visible()
    assert page.locator("#screens-menu").count() == 0
    expect(page.locator("#nav-toggle")).to_be_hidden()  # wide screen: no menu button


def test_a_value_in_alarm_gets_an_indicator_with_the_priority_by_colour_and_shape_blinking_until_acked(
        new_page, demo, server):
    from alarms.services import alarm_acknowledge

    page = new_page(demo["operator"])  # the overview: Tank_Level and Reactor_Temp values on it
    assert page.evaluate("Kiln.alarmIndicators.count()") > 0
    ind = page.locator('g.alarm-ind[data-alarm-for="Tank_Level"]').first
    expect(ind).to_be_hidden()
    tank = base._tank_alarm()
    _reactor_alarm()
    expect(ind).to_be_visible()
    expect(ind).to_have_attribute("data-priority", "high")
    expect(ind).to_have_class(re.compile(r"\bunacked\b"))
    assert ind.locator("text").text_content() == "2"
    high_colour = page.evaluate("getComputedStyle(document.querySelector('g.alarm-ind[data-priority=high] path')).fill")
    banner_colour = page.evaluate("getComputedStyle(document.documentElement).getPropertyValue('--p-high').trim()")
    assert high_colour == "rgb(239, 108, 0)" and banner_colour == "#ef6c00"
    low = page.locator('g.alarm-ind[data-alarm-for="Reactor_Temp"]').first
    expect(low).to_have_attribute("data-priority", "low")  # a circle, where high is a triangle
    assert low.locator("path").get_attribute("d").count("A") == 2  # two arcs: a circle
    assert ind.locator("path").get_attribute("d").count("L") == 2  # two lines and a close: a triangle
    shot(page, "alarm_indicators")
    base.in_thread(alarm_acknowledge, alarm=tank, user=demo["operator"], reason_code="checked")
    expect(ind).not_to_have_class(re.compile(r"\bunacked\b"))
    expect(ind).to_be_visible()  # still active: still marked, no longer blinking
    assert page.errors == []


def test_setpoints_look_like_setpoints_and_writable_only_to_those_who_may_write(new_page, demo, server):
    op = new_page(demo["operator"])  # Reactor_Temp_SP is a Supervisor's setpoint
    sp = op.locator('text[data-tag="Reactor_Temp_SP"].kind-text').first
    pv = op.locator('text[data-tag="Reactor_Temp"].kind-text').first
    expect(sp).to_have_class(re.compile(r"\bsetpoint\b"))
    assert "setpoint" not in (pv.get_attribute("class") or "")
    assert "writable" not in (sp.get_attribute("class") or "")
    assert op.evaluate("getComputedStyle(document.querySelector('text.setpoint')).fill") != \
        op.evaluate("getComputedStyle(document.querySelector('text[data-tag=Reactor_Temp].kind-text')).fill")
    sup = new_page(demo["supervisor"])
    expect(sup.locator('text[data-tag="Reactor_Temp_SP"].kind-text').first).to_have_class(re.compile(r"\bwritable\b"))
    shot(sup, "setpoint_writable_supervisor")
    assert op.errors == [] and sup.errors == []
