"""The engineer's admin (issue 16 §3): searchable pickers instead of numeric-id boxes; saving says what reloads."""

import pytest
from django.test import Client

from conftest import PASSWORD

PAGES = ["/admin/drivers/tagbinding/add/", "/admin/drivers/nodebinding/add/", "/admin/drivers/metricbinding/add/",
         "/admin/alarms/alarmdefinition/add/",
         "/admin/tags/tag/add/", "/admin/historian/taghistorysetting/add/"]


@pytest.fixture
def engineer_web(engineer):
    client = Client()
    assert client.login(username=engineer.username, password=PASSWORD)
    return client


@pytest.mark.parametrize("path", PAGES)
def test_no_configuration_form_asks_for_a_numeric_id(engineer_web, path):
    res = engineer_web.get(path)
    if res.status_code == 404:
        pytest.fail(f"{path} is not an admin page any more: update this list")
    body = res.content.decode()
    assert res.status_code == 200
    assert "vForeignKeyRawIdAdminField" not in body  # Django's numeric-id box
    assert "admin-autocomplete" in body


def test_the_tag_picker_finds_tags_by_machine_and_description(engineer_web):
    from tags.models import Machine, Tag

    machine = Machine.objects.create(machine_id="reactor-01")
    Tag.objects.create(machine=machine, name="Reactor_Temp", datatype="REAL", description="jacket outlet temperature")
    Tag.objects.create(machine=Machine.objects.create(machine_id="tank-01"), name="Tank_Level", datatype="REAL")
    for term in ("reactor-01", "jacket", "Reactor_T"):
        res = engineer_web.get("/admin/autocomplete/", {"app_label": "alarms", "model_name": "alarmdefinition",
                                                        "field_name": "tag", "term": term})
        assert res.status_code == 200, res.content[:300]
        assert [r["text"] for r in res.json()["results"]] == ["Reactor_Temp"], term


class _Form:
    """What AuditedModelAdmin.save_model reads of a bound admin form: one field changed."""

    def __init__(self, field, old, new):
        self.changed_data, self.fields = [field], {field: None}
        self.initial, self.cleaned_data = {field: old}, {field: new}


def _request(user):
    from django.contrib.messages.storage.fallback import FallbackStorage
    from django.test import RequestFactory

    request = RequestFactory().post("/admin/")
    request.user, request.session = user, {}
    request._messages = FallbackStorage(request)
    return request


def _said(request) -> str:
    return " ".join(str(m) for m in request._messages)


def test_saving_a_connection_says_the_poll_loops_pick_it_up(engineer):
    from django.contrib import admin

    from drivers.models import Connection

    conn = Connection.objects.create(name="plc-1", host="127.0.0.1")
    conn.description = "line 1"
    request = _request(engineer)
    admin.site._registry[Connection].save_model(request, conn, _Form("description", "", "line 1"), True)
    assert "poll loops re-plan with this configuration" in _said(request)


def test_saving_an_alarm_definition_says_evaluation_reloads_it(engineer):
    from django.contrib import admin

    from alarms.models import AlarmDefinition
    from tags.models import Machine, Tag

    tag = Tag.objects.create(machine=Machine.objects.create(machine_id="r1"), name="T1", datatype="REAL")
    d = AlarmDefinition(key="t1_hi", name="T1 High", tag=tag, kind="HI", setpoint=5.0)
    request = _request(engineer)
    admin.site._registry[AlarmDefinition].save_model(request, d, _Form("name", "", "T1 High"), False)
    assert "Alarm definitions reloaded" in _said(request) and d.alarms.count() == 1
