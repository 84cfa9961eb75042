"""Walk-through (issue 16 §1): an engineer's task in clicks, keystrokes and minutes, before and after the editor.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/kiln REDIS_URL=redis://127.0.0.1:6379/14 \\
        .venv/bin/python bench/bench_editor_walkthrough.py

It creates a throw-away database next to DATABASE_URL's (bench_walk_<name>, dropped at the end), loads the demo
plant, starts daphne and drives Debian's Chromium (/usr/bin/chromium) through the task twice:

  1. a new Modbus connection (admin), 2. a new tag (admin), 3. that tag bound to a holding register (admin),
  4. a HI alarm on it (admin), 5. its value on the overview screen:
     before: the admin as it was (a machine dropdown, the tag as a numeric id box in the binding and the alarm,
             the engineer looking the id up), then Django admin's screen form, a hand-written <text> element added
             to the SVG markup and a hand-typed JSON binding (what an engineer had to do before the editor);
     after:  the admin's searchable pickers (click, type a few letters, pick) and "Edit" on the screen, a value
             text from the palette, the tag picked by searching, Save.
  The id boxes are gone from the admin (issue 16 §3), so "before" fills the picker's <select> with the id by
  script and counts what the id box took (a field, the id's characters, a decision to look it up).

Every click, every field filled and every character typed is counted as the engineer would have to do it. Time is
given twice: the browser automation's wall clock (no thinking, no reading), and a human estimate by the
keystroke-level model (Card, Moran & Newell): per click P+K = 1.3 s, per field M+P+K = 2.65 s (find it, point,
click), per character K = 0.28 s (an average typist), per page load 1 s, plus M = 1.35 s per decision. The
hand-written SVG also needs reading the drawing for a free spot and an unused id: counted as 3 extra M per screen
edit, which is generous to "before" (the issue's observers took 15-20 minutes). Target: after ≤ 3 minutes.
"""

from __future__ import annotations

import json
import os
import secrets
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

CLICK, FIELD, CHAR, LOAD, THINK = 1.3, 2.65, 0.28, 1.0, 1.35
PASSWORD = "correct-horse-battery"


def setup_django():
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "scada.settings")
    os.environ["DEBUG"] = "0"
    os.environ.setdefault("SECRET_KEY", secrets.token_urlsafe(50))
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    os.environ["KILN_TESTING"] = "1"  # the same settings as the daphne it starts (hashers, no statement timeout)
    import django

    django.setup()


def orm(fn):
    """Database reads in a thread of their own (its connection closed after): Playwright's event loop on this
    thread would otherwise hold a second connection that keeps the bench database from being dropped."""
    from hmi.tests.browser import in_thread

    return in_thread(fn)


class Counter:
    """Wraps a Playwright page: every click, fill and page load the walk-through does is counted."""

    def __init__(self, page):
        self.page, self.clicks, self.fields, self.chars, self.loads, self.thinks = page, 0, 0, 0, 0, 0

    def goto(self, url):
        self.loads += 1
        self.page.goto(url)

    def click(self, selector, **kw):
        self.clicks += 1
        self.page.click(selector, **kw)

    def fill(self, selector, text):
        self.fields += 1
        self.chars += len(text)
        self.page.fill(selector, text)

    def select(self, selector, value):
        self.fields += 1  # open the list, choose: a field
        self.page.select_option(selector, value)

    def id_box(self, selector, pk, label):
        """Before: a numeric id typed into a box (the picker's <select> set by script, counted as the box)."""
        self.fields += 1
        self.chars += len(str(pk))
        self.page.evaluate("([sel, pk, label]) => { const s = document.querySelector(sel);"
                           " s.add(new Option(label, pk, true, true)); }", [selector, str(pk), label])

    def pick(self, selector, search, label):
        """After: the admin's searchable picker: click it, type a few letters, click the match."""
        self.click(f"{selector} + .select2 .select2-selection")
        self.fill(".select2-container--open .select2-search__field", search)
        self.click(f".select2-container--open .select2-results__option:text-is('{label}')")

    def think(self, n=1):
        self.thinks += n

    def human_seconds(self) -> float:
        return (self.clicks * CLICK + self.fields * FIELD + self.chars * CHAR + self.loads * LOAD
                + self.thinks * THINK)


def admin_steps(c: Counter, url: str, n: int, pickers: bool) -> None:
    """Steps 1-4 in Django admin; `pickers`: the searchable pickers of today, else the id boxes of before."""
    from tags.models import Machine, Tag

    c.goto(f"{url}/admin/drivers/connection/add/")
    c.fill("#id_name", f"line{n}-plc")
    c.fill("#id_host", "127.0.0.1")
    c.fill("#id_port", "5020")
    c.click("input[name=_save]")
    c.goto(f"{url}/admin/tags/tag/add/")
    machine = orm(lambda: Machine.objects.get(machine_id="tank-01"))
    if pickers:
        c.pick("#id_machine", "tank", str(machine))
    else:
        c.fields += 1  # a dropdown of machines: open it, choose
        c.page.evaluate("([pk, label]) => { const s = document.querySelector('#id_machine');"
                        " s.add(new Option(label, pk, true, true)); }", [str(machine.pk), str(machine)])
    c.fill("#id_name", f"Line{n}_Pressure")
    c.select("#id_datatype", "REAL")
    c.fill("#id_unit", "bar")
    c.fill("#id_min_value", "0")
    c.fill("#id_max_value", "10")
    c.click("input[name=_save]")
    tag = orm(lambda: Tag.objects.select_related("machine").get(name=f"Line{n}_Pressure"))
    c.goto(f"{url}/admin/drivers/tagbinding/add/")
    if pickers:
        c.pick("#id_tag", f"line{n}", str(tag))
    else:
        c.id_box("#id_tag", tag.pk, str(tag))
        c.think()  # the engineer looks the new tag's id up
    c.select("#id_connection", c.page.locator("#id_connection option", has_text=f"line{n}-plc").get_attribute("value"))
    c.fill("#id_address", str(40 + n))
    c.select("#id_data_type", "float32")
    c.click("input[name=_save]")
    c.goto(f"{url}/admin/alarms/alarmdefinition/add/")
    c.fill("#id_key", f"line{n}-pressure-hi")
    c.fill("#id_name", f"Line {n} pressure high")
    if pickers:
        c.pick("#id_tag", f"line{n}", str(tag))
    else:
        c.id_box("#id_tag", tag.pk, str(tag))
    c.select("#id_kind", "HI")
    c.fill("#id_setpoint", "8")
    c.select("#id_priority", "high")
    c.click("input[name=_save]")
    from alarms.models import AlarmDefinition
    from drivers.models import TagBinding

    assert orm(lambda: TagBinding.objects.filter(tag=tag, connection__name=f"line{n}-plc").exists()), c.page.url
    assert orm(lambda: AlarmDefinition.objects.filter(key=f"line{n}-pressure-hi", tag=tag).exists()), c.page.url


def before_screen(c: Counter, url: str, n: int) -> None:
    """Step 5 before the editor: hand-written SVG and hand-typed JSON in the admin's screen form."""
    from hmi.models import Screen

    screen = orm(lambda: Screen.objects.get(slug="overview"))
    c.goto(f"{url}/admin/hmi/screen/{screen.pk}/change/")
    c.think(3)  # read the drawing: a free spot, its coordinates, an unused id
    svg = c.page.input_value("#id_svg")
    element = f'<text id="line{n}-p" x="620" y="{60 + 20 * n}" font-size="15">–</text>'
    c.fill("#id_svg", svg.replace("</svg>", element + "</svg>"))
    c.chars -= len(svg)  # the existing markup is kept, not retyped: only the new element counts
    bindings = json.loads(c.page.input_value("#id_bindings"))
    new = {"element": f"line{n}-p", "kind": "text", "tag": f"Line{n}_Pressure", "decimals": 1}
    text = json.dumps(bindings + [new])
    c.fill("#id_bindings", text)
    c.chars -= len(text) - len(json.dumps(new)) - 2
    c.click("input[name=_save]")
    assert f"line{n}-p" in orm(lambda: Screen.objects.get(slug="overview").svg)


def after_screen(c: Counter, url: str, n: int) -> None:
    """Step 5 with the editor: Edit, a value text from the palette, search the tag, Save."""
    from playwright.sync_api import expect

    from hmi.models import Screen

    c.goto(f"{url}/screens/overview/")
    c.click(".edit-screen")
    c.click("[data-symbol=value]")
    c.fill("#ed-panel .slot[data-slot=value] .picker-q", f"line{n} pressure")
    c.click(f"#ed-panel .picker-row[data-tag=Line{n}_Pressure]")
    c.click("#ed-save")
    expect(c.page.locator("#ed-status")).to_contain_text("Saved version")
    assert any(b.get("tag") == f"Line{n}_Pressure" for b in orm(lambda: Screen.objects.get(slug="overview").bindings))


def main():
    setup_django()
    from django.conf import settings
    from django.db import connection, connections
    from playwright.sync_api import sync_playwright

    original = settings.DATABASES["default"]["NAME"]
    settings.DATABASES["default"].setdefault("TEST", {})["NAME"] = f"bench_walk_{original}"
    connection.creation.create_test_db(verbosity=0, autoclobber=True, serialize=False)
    from accounts.models import User
    from hmi.demo import load_screens
    from hmi.tests.browser import CHROMIUM, CHROMIUM_ARGS, DaphneServer
    from scada.roles import Role
    from tags.demo import load_plant

    load_plant()
    load_screens()
    User.objects.create_user(username="walk-engineer", password=PASSWORD, role=Role.ENGINEER)
    server = DaphneServer()
    results = {}
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            for n, (name, screen_step) in enumerate((("before", before_screen), ("after", after_screen)), start=1):
                page = browser.new_context(viewport={"width": 1400, "height": 900}).new_page()
                page.goto(server.url + "/login/")
                page.fill("input[name=username]", "walk-engineer")
                page.fill("input[name=password]", PASSWORD)
                page.click("button[type=submit]")
                try:
                    page.wait_for_url(server.url + "/", timeout=15000)
                except Exception:
                    page.screenshot(path=str(ROOT / "test-output" / "walk_login.png"))
                    raise
                c = Counter(page)
                t0 = time.perf_counter()
                admin_steps(c, server.url, n, pickers=name == "after")
                admin = (c.clicks, c.fields, c.chars, c.human_seconds())
                screen_step(c, server.url, n)
                results[name] = {"clicks": c.clicks, "fields": c.fields, "chars": c.chars, "loads": c.loads,
                                 "wall": time.perf_counter() - t0, "human": c.human_seconds(),
                                 "screen_human": c.human_seconds() - admin[3], "screen_clicks": c.clicks - admin[0],
                                 "screen_chars": c.chars - admin[2]}
            browser.close()
    finally:
        server.stop()
        connections.close_all()
        for attempt in range(20):  # daphne's database session ends a moment after the process
            try:
                connection.creation.destroy_test_db(original, verbosity=0)
                break
            except Exception:
                if attempt == 19:
                    raise
                time.sleep(0.5)
    load = Path("/proc/loadavg").read_text().split()[:3]
    print(f"load average {' '.join(load)}")
    print(f"{'':28}{'before (SVG + JSON)':>22}{'after (editor)':>18}")
    b, a = results["before"], results["after"]
    rows = [("clicks (whole task)", "clicks"), ("fields filled", "fields"), ("characters typed", "chars"),
            ("page loads", "loads")]
    for label, key in rows:
        print(f"{label:28}{b[key]:>22}{a[key]:>18}")
    print(f"{'screen step: clicks':28}{b['screen_clicks']:>22}{a['screen_clicks']:>18}")
    print(f"{'screen step: characters':28}{b['screen_chars']:>22}{a['screen_chars']:>18}")
    print(f"{'screen step: human (KLM)':28}{b['screen_human'] / 60:>20.1f} m{a['screen_human'] / 60:>16.1f} m")
    print(f"{'whole task: human (KLM)':28}{b['human'] / 60:>20.1f} m{a['human'] / 60:>16.1f} m")
    print(f"{'whole task: automation':28}{b['wall']:>20.1f} s{a['wall']:>16.1f} s")
    print("target (issue 16): the whole task in ≤ 3 minutes after:", "met" if a["human"] <= 180 else "NOT met")


if __name__ == "__main__":
    main()
