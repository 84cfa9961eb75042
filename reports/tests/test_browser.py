"""The Reports page in a real browser (headless Chromium against a real daphne, PostgreSQL and Redis): pick a
report, see its defaults, get a small CSV at once, follow a large PDF's progress bar until its download."""

from __future__ import annotations

from datetime import timedelta

import pytest
from playwright.sync_api import expect, sync_playwright

from hmi.tests.browser import CHROMIUM, CHROMIUM_ARGS, OUTPUT, DaphneServer, in_thread
from reports.models import ReportRun
from reports.services import report_run_execute
from scada.roles import Role

from .conftest import T0, make_event

PASSWORD = "correct-horse-battery"


@pytest.fixture(autouse=True)
def _sync_orm_beside_playwright(monkeypatch):
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")


@pytest.fixture
def page(transactional_db, make_user, reports_dir, monkeypatch):
    from django.core.management import call_command

    # transactional_db flushes the built-in definitions: put them back as migrate did.
    in_thread(call_command, "migrate", "reports", "0001", verbosity=0)
    in_thread(call_command, "migrate", "reports", verbosity=0)
    monkeypatch.setenv("KILN_REPORTS_DIR", str(reports_dir))  # the server writes and serves where the test looks
    user = make_user("olivia", Role.OPERATOR)
    for i in range(3):
        in_thread(make_event, T0 + timedelta(minutes=i))
    server = DaphneServer()
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            context = browser.new_context(viewport={"width": 1280, "height": 900}, accept_downloads=True)
            pg = context.new_page()
            pg.errors = []
            pg.on("pageerror", lambda exc: pg.errors.append(str(exc)))
            pg.goto(server.url + "/login/")
            pg.fill("input[name=username]", user.username)
            pg.fill("input[name=password]", PASSWORD)
            pg.click("button[type=submit]")
            pg.wait_for_url(server.url + "/")
            pg.goto(server.url + "/reports/?report=alarm-journal")
            yield server, pg
            browser.close()
    finally:
        server.stop()


def test_the_reports_page_generates_a_small_csv_and_follows_a_pdf_to_its_download(page):
    server, pg = page
    expect(pg.locator("#param-start")).to_have_value("now-24h")  # the definition's defaults, filled in
    options = pg.locator("#report-select option").all_inner_texts()
    assert "Alarm journal" in options and "Audit trail extract" not in options  # an operator's list
    pg.fill("#param-start", "2026-03-02T06:00:00Z")
    pg.fill("#param-end", "2026-03-02T07:00:00Z")
    pg.check("input[name=format][value=csv]")
    with pg.expect_download() as download:
        pg.click("#report-generate")
    csv_text = open(download.value.path()).read()
    assert csv_text.count("\n") == 4 and download.value.suggested_filename.startswith("alarm-journal-")
    expect(pg.locator("#report-ok")).to_contain_text("Saved alarm-journal-")

    pg.check("input[name=format][value=pdf]")
    pg.click("#report-generate")
    expect(pg.locator("#job-status")).to_have_text("queued", timeout=10_000)
    run = in_thread(lambda: ReportRun.objects.get(format="pdf"))
    # What the reports worker does: report progress, then finish.
    in_thread(lambda: ReportRun.objects.filter(pk=run.pk).update(status="running", progress=40))
    expect(pg.locator("#job-percent")).to_have_text("40 %", timeout=10_000)
    pg.screenshot(path=str(OUTPUT / "reports-progress.png"))
    in_thread(lambda: ReportRun.objects.filter(pk=run.pk).update(status="queued", progress=0))
    in_thread(report_run_execute, run_id=run.pk)
    expect(pg.locator("#job-download")).to_be_visible(timeout=10_000)
    pg.screenshot(path=str(OUTPUT / "reports-done.png"))
    with pg.expect_download() as download:
        pg.click("#job-download")
    assert open(download.value.path(), "rb").read(5) == b"%PDF-"
    expect(pg.locator("#runs-table tbody tr")).to_have_count(2)
    pg.screenshot(path=str(OUTPUT / "reports-page.png"), full_page=True)
    assert pg.errors == []


def test_the_reports_page_shows_the_apis_refusal_of_a_bad_parameter(page):
    _server, pg = page
    pg.fill("#param-start", "yesterday-ish")
    pg.click("#report-generate")
    expect(pg.locator("#report-error")).to_contain_text("parameters.start:")
    assert in_thread(ReportRun.objects.count) == 0
