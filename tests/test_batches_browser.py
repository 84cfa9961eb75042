"""Batches in a real browser (headless Chromium against a real daphne, PostgreSQL and Redis): a supervisor starts
the demo recipe, an operator follows its phases (pushed over /ws to the supervisor's open page), the supervisor
reviews the EBR and closes it with an e-signature after a wrong password is refused. Every form goes through the
REST API, as the pages' script sends it.
"""

from __future__ import annotations

import pytest
from playwright.sync_api import expect, sync_playwright

from hmi.tests.browser import CHROMIUM, CHROMIUM_ARGS, OUTPUT, DaphneServer, in_thread
from scada.roles import Role

PASSWORD = "correct-horse-battery"


@pytest.fixture(autouse=True)
def _sync_orm_beside_playwright(monkeypatch):
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")


@pytest.fixture
def plant(transactional_db, make_user):
    """The demo plant's tags, the demo recipe approved by the demo loaders, and a supervisor and an operator."""
    from accounts.demo import load_users
    from batches.demo import load_recipes
    from tags.demo import load_plant

    in_thread(load_plant)
    in_thread(load_users)
    assert in_thread(load_recipes).endswith("approved")
    return {"supervisor": make_user("sam", Role.SUPERVISOR), "operator": make_user("olivia", Role.OPERATOR)}


@pytest.fixture
def browser_pages(plant):
    server = DaphneServer()
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)

        def login(user):
            page = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
            page.errors = []
            page.on("pageerror", lambda exc: page.errors.append(str(exc)))
            page.goto(server.url + "/login/")
            page.fill("input[name=username]", user.username)
            page.fill("input[name=password]", PASSWORD)
            page.click("button[type=submit]")
            page.wait_for_url(server.url + "/")
            return page

        yield server, login
        browser.close()
    server.stop()


def test_a_batch_is_started_followed_and_closed_with_a_signature_in_the_browser(browser_pages, plant):
    from batches.models import Batch, Recipe

    server, login = browser_pages
    recipe = Recipe.objects.get(name="reactor-heat-cycle")
    sup = login(plant["supervisor"])
    sup.goto(f"{server.url}/batches/start/?recipe={recipe.pk}")
    sup.fill("input[name=lot]", "LOT-CHROME-1")
    sup.fill("input[name='parameters.target_temp']", "85")
    sup.keyboard.press("Enter")  # keyboard usable: Enter submits the form
    sup.wait_for_url(f"{server.url}/batches/*/")
    expect(sup.locator("#conn")).to_have_text("live", timeout=5000)
    batch = Batch.objects.get(lot="LOT-CHROME-1")
    assert batch.parameters.get(name="target_temp").value == 85.0

    op = login(plant["operator"])
    op.goto(f"{server.url}/batches/{batch.pk}/")
    expect(op.locator("#abort-form")).to_have_count(0)  # an operator is not offered what the API would refuse
    for position in (1, 2):
        op.click(f"#phase-{position} button[type=submit]")
        expect(op.locator(f"#phase-{position} .phase-status")).to_have_text("done", timeout=5000)
    # The supervisor's page of the same batch follows it over /ws: the operator's phases show without a reload.
    expect(sup.locator("#phase-2 .phase-status")).to_have_text("done", timeout=5000)
    op.fill("#phase-3 input[name=value]", "75")  # above the 60 °C limit: refused with the API's detail
    op.click("#phase-3 button[type=submit]")
    expect(op.locator("#phase-3 .form-error")).to_contain_text("above the maximum", timeout=5000)
    op.fill("#phase-3 input[name=value]", "41.5")
    op.click("#phase-3 button[type=submit]")
    expect(op.locator("#batch-status")).to_have_text("complete", timeout=5000)

    sup.goto(f"{server.url}/batches/{batch.pk}/review/")
    expect(sup.locator("#ebr-writes")).to_contain_text("Reactor_Temp_SP")
    sup.fill("input[name='signature.reason']", "Batch reviewed")
    sup.fill("input[name='signature.password']", "not-my-password")
    sup.click("#close-form button[type=submit]")
    expect(sup.locator("#close-form .form-error")).to_contain_text("wrong password", timeout=5000)
    assert Batch.objects.get(pk=batch.pk).status == "complete"
    sup.fill("input[name='signature.reason']", "Batch reviewed")
    sup.fill("input[name='signature.password']", PASSWORD)
    sup.click("#close-form button[type=submit]")
    expect(sup.locator("#batch-status")).to_have_text("closed", timeout=5000)
    expect(sup.locator("#ebr-signatures")).to_contain_text("Reviewed and released")
    expect(sup.locator("#ebr-signatures .sig-valid")).to_have_text("valid")
    OUTPUT.mkdir(exist_ok=True)
    sup.screenshot(path=str(OUTPUT / "batches_review_closed.png"), full_page=True)
    assert Batch.objects.get(pk=batch.pk).status == "closed"
    assert sup.errors == [] and op.errors == []
