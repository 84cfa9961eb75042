"""HMI batch pages: what each role is offered, the EBR on screen, signatures shown invalid after an edit."""

import pytest
from django.test import Client

from batches.models import BatchPhase
from batches.selectors import batch_get
from batches.services import batch_close, batch_start
from batches.tests.conftest import signature

pytestmark = pytest.mark.django_db


def _client(user):
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def running(approved_recipe, supervisor):
    return batch_start(recipe="reactor-heat-cycle", machine_id="reactor-01", lot="L-55", parameters={},
                       user=supervisor)


def test_the_pages_need_a_login(running):
    response = Client().get("/batches/")
    assert response.status_code == 302 and "/login/" in response["Location"]


def test_the_list_shows_the_batches_and_offers_start_to_a_supervisor(running, supervisor, operator):
    page = _client(supervisor).get("/batches/").content.decode()
    assert "L-55" in page and 'id="start-batch"' in page
    assert 'id="start-batch"' not in _client(operator).get("/batches/").content.decode()


def test_the_start_form_fills_defaults_and_limits(approved_recipe, supervisor):
    page = _client(supervisor).get(f"/batches/start/?recipe={approved_recipe.pk}").content.decode()
    assert 'name="parameters.target_temp"' in page and 'value="80.0"' in page and 'max="120.0"' in page
    assert 'data-api="/api/batches/start"' in page


def test_an_operator_sees_the_start_form_refused(approved_recipe, operator):
    page = _client(operator).get(f"/batches/start/?recipe={approved_recipe.pk}").content.decode()
    assert "needs the supervisor role" in page


def test_the_batch_page_offers_the_active_phase_only(running, operator):
    page = _client(operator).get(f"/batches/{running.pk}/").content.decode()
    assert f"/api/batches/{running.pk}/phases/1/confirm" in page
    assert f"/api/batches/{running.pk}/phases/2/" not in page
    assert 'data-live-tag="Reactor_Temp"' in page and 'id="abort-form"' not in page
    assert '"Reactor_Temp": {"id": ' in page  # its configuration: the live value shows with decimals and unit


def test_an_unknown_batch_page_is_404(supervisor):
    assert _client(supervisor).get("/batches/999999/").status_code == 404


def test_the_review_page_shows_the_record_above_the_close_form(complete_batch, supervisor):
    page = _client(supervisor).get(f"/batches/{complete_batch.pk}/review/").content.decode()
    assert page.index('id="ebr-phases"') < page.index('id="close-form"')
    assert 'name="signature.password"' in page and "Reactor_Temp_SP" in page


def test_the_review_page_shows_a_signature_invalid_after_an_edit(complete_batch, supervisor):
    batch_close(batch=batch_get(pk=complete_batch.pk), user=supervisor, signature=signature())
    BatchPhase.objects.filter(batch=complete_batch, position=3).update(value=12)
    page = _client(supervisor).get(f"/batches/{complete_batch.pk}/review/").content.decode()
    assert "INVALID: the record changed after signing" in page and 'id="close-form"' not in page
