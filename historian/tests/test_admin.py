"""Admin: a tag's history setting is audited on create, change and delete."""

from accounts.models import AuditRecord
from historian.models import TagHistorySetting


def _login(client, user):
    user.is_staff = True
    user.is_superuser = True
    user.save()
    client.force_login(user)


def test_it_audits_a_history_setting_made_and_changed_in_admin(client, admin_user, real_tag):
    _login(client, admin_user)
    r = client.post("/admin/historian/taghistorysetting/add/", {"tag": real_tag.pk, "store_every_minutes": 5,
                                                                "retention_days": ""})
    assert r.status_code == 302, r.content[:500]
    setting = TagHistorySetting.objects.get(tag=real_tag)
    r = client.post(f"/admin/historian/taghistorysetting/{setting.pk}/change/",
                    {"tag": real_tag.pk, "store_every_minutes": 10, "retention_days": 90})
    assert r.status_code == 302
    created, updated = AuditRecord.objects.filter(action__startswith="tag_history_setting.").order_by("id")
    assert (created.action, created.object_id, created.new_value) == (
        "tag_history_setting.create", "Reactor_Temp", {"store_every_minutes": 5, "retention_days": None})
    assert updated.old_value == {"store_every_minutes": 5, "retention_days": None}
    assert updated.new_value == {"store_every_minutes": 10, "retention_days": 90}


def test_it_shows_the_writer_checkpoint_read_only(client, admin_user):
    _login(client, admin_user)
    assert client.get("/admin/historian/historianwritercheckpoint/").status_code == 200
    assert client.get("/admin/historian/historianwritercheckpoint/add/").status_code == 403
