"""The one audited admin base and the read-only base, driven through Django admin as an engineer would."""

import pytest
from django.contrib import admin as django_admin
from django.test import Client

from accounts.admin_base import AuditedModelAdmin
from accounts.models import AuditRecord
from scada.admin import ReadOnlyModelAdmin
from tags.models import Site

pytestmark = pytest.mark.django_db


@pytest.fixture
def web(engineer):
    client = Client()
    client.force_login(engineer)
    return client


def test_it_audits_a_create_with_the_submitted_fields(web):
    r = web.post("/admin/tags/site/add/", {"site_id": "north", "name": "North plant", "description": ""})
    assert r.status_code == 302, r.content.decode()[:1000]
    rec = AuditRecord.objects.get(action="site.create")
    assert (rec.username, rec.object_type, rec.object_id, rec.reason) == ("erin", "site", "north",
                                                                           "Django admin")
    assert rec.new_value["site_id"] == "north" and rec.old_value is None


def test_it_audits_an_update_with_old_and_new_values_of_the_changed_fields_only(web):
    site = Site.objects.create(site_id="north", name="North plant")
    r = web.post(f"/admin/tags/site/{site.pk}/change/", {"site_id": "north", "name": "North", "description": ""})
    assert r.status_code == 302
    rec = AuditRecord.objects.get(action="site.update")
    assert (rec.old_value, rec.new_value) == ({"name": "North plant"}, {"name": "North"})


def test_it_writes_no_record_for_a_save_that_changes_nothing(web):
    site = Site.objects.create(site_id="north", name="North plant")
    web.post(f"/admin/tags/site/{site.pk}/change/", {"site_id": "north", "name": "North plant", "description": ""})
    assert not AuditRecord.objects.filter(action="site.update").exists()


def test_it_audits_a_delete_with_what_the_row_held(web):
    site = Site.objects.create(site_id="north", name="North plant")
    r = web.post(f"/admin/tags/site/{site.pk}/delete/", {"post": "yes"})
    assert r.status_code == 302
    rec = AuditRecord.objects.get(action="site.delete")
    assert rec.old_value["site_id"] == "north" and not Site.objects.filter(pk=site.pk).exists()


def test_it_audits_each_row_of_a_bulk_delete(web):
    sites = [Site.objects.create(site_id=f"s{i}", name=f"Site {i}") for i in range(3)]
    r = web.post("/admin/tags/site/", {"action": "delete_selected", "post": "yes",
                                       "_selected_action": [s.pk for s in sites]})
    assert r.status_code == 302
    assert AuditRecord.objects.filter(action="site.delete").count() == 3


def test_every_admin_that_edits_configuration_is_audited_or_read_only():
    """A new ModelAdmin must choose: audited (AuditedModelAdmin), read-only, or a service that audits."""
    service_audited = {"UserAdmin", "ScreenAdmin", "GroupAdmin"}
    loose = [type(ma).__name__ for ma in django_admin.site._registry.values()
             if not isinstance(ma, AuditedModelAdmin | ReadOnlyModelAdmin)
             and type(ma).__name__ not in service_audited]
    assert loose == []


def test_read_only_admins_refuse_add_change_and_delete(engineer):
    client = Client()
    client.force_login(engineer)
    assert client.get("/admin/alarms/alarmevent/add/").status_code == 403


def test_admin_shows_api_keys_but_never_edits_or_deletes_them(engineer, admin_user):
    """Keys are made and revoked through the API's audited services; an admin form would save without a record."""
    from accounts.services import api_key_create

    key, _secret = api_key_create(actor=admin_user, user=engineer, name="LIMS")
    client = Client()
    client.force_login(admin_user)
    page = f"/admin/accounts/apikey/{key.pk}/change/"
    before = AuditRecord.objects.count()
    assert client.post(page, {"name": "renamed"}).status_code == 403
    assert client.post(f"/admin/accounts/apikey/{key.pk}/delete/", {"post": "yes"}).status_code == 403
    key.refresh_from_db()
    assert key.name == "LIMS" and AuditRecord.objects.count() == before
