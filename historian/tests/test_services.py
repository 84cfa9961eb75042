"""Services: a tag's history deleted with it, the "store at least every N minutes" heartbeat, tag retention."""

import time
from datetime import UTC, datetime, timedelta

import pytest

from accounts.models import AuditRecord
from historian.buffer import buffer_decode
from historian.constants import BUFFER_STREAM, HEARTBEAT_LAST
from historian.models import HistorianRollup1h, HistorianStringSample, TagHistorySetting
from historian.rollups import rollups_refresh
from historian.services import historian_heartbeat, historian_retention_apply, history_delete_for_tag
from historian.writer import historian_writer_run
from scada.redis import get_redis
from tags.live import LiveValue, live_set_many

T0 = 1775001600


def _count(tag_id):
    from django.db import connection

    with connection.cursor() as cur:
        cur.execute("SELECT count(*) FROM historian_sample WHERE tag_id = %s", [tag_id])
        return cur.fetchone()[0]


@pytest.mark.postgresql
def test_it_deletes_a_tags_history_and_says_how_many_samples_went(real_tag, make_tag, load_samples):
    other = make_tag("Pump_Speed")
    load_samples(real_tag.pk, [(T0 + i, float(i)) for i in range(50)])
    load_samples(other.pk, [(T0, 1.0)])
    HistorianStringSample.objects.create(tag_id=real_tag.pk, ts=datetime.fromtimestamp(T0, tz=UTC), value="x")
    rollups_refresh(budget_seconds=30)
    assert history_delete_for_tag(real_tag.pk) == 51
    assert _count(real_tag.pk) == 0 and _count(other.pk) == 1
    assert not HistorianRollup1h.objects.filter(tag_id=real_tag.pk).exists()
    assert HistorianRollup1h.objects.filter(tag_id=other.pk).exists()


def _restated():
    entries = get_redis().xrange(BUFFER_STREAM)
    return [buffer_decode(e[1][b"d"]) for e in entries]


def test_it_restates_a_steady_value_after_n_minutes(real_tag, settings):
    settings.KILN_HISTORIAN_STORE_EVERY_MINUTES = 15
    now = time.time()
    live_set_many({real_tag.pk: LiveValue(72.5, "GOOD", None, now - 16 * 60)})
    assert historian_heartbeat(now=now) == 1
    assert _restated() == [([now], [real_tag.pk], [72.5], [0])]
    assert historian_heartbeat(now=now + 60) == 0  # re-stated a minute ago
    assert historian_heartbeat(now=now + 15 * 60) == 1
    assert historian_writer_run().written == 2  # the writer stores re-statements like any sample


def test_it_leaves_a_recently_changed_value_alone(real_tag, settings):
    settings.KILN_HISTORIAN_STORE_EVERY_MINUTES = 15
    now = time.time()
    live_set_many({real_tag.pk: LiveValue(72.5, "GOOD", None, now - 60)})
    assert historian_heartbeat(now=now) == 0


def test_it_restates_quality_and_substatus_too(real_tag, settings):
    settings.KILN_HISTORIAN_STORE_EVERY_MINUTES = 1
    now = time.time()
    live_set_many({real_tag.pk: LiveValue(None, "BAD", "comm_failure", now - 120)})
    historian_heartbeat(now=now)
    assert _restated() == [([now], [real_tag.pk], [None], [201])]


def test_it_uses_a_tags_own_interval_over_the_default(real_tag, make_tag, settings):
    settings.KILN_HISTORIAN_STORE_EVERY_MINUTES = 0  # off by default
    quiet = make_tag("Quiet_Tag")
    TagHistorySetting.objects.create(tag=real_tag, store_every_minutes=5)
    now = time.time()
    live_set_many({real_tag.pk: LiveValue(1.0, "GOOD", None, now - 600),
                   quiet.pk: LiveValue(2.0, "GOOD", None, now - 600)})
    assert historian_heartbeat(now=now) == 1
    assert get_redis().hkeys(HEARTBEAT_LAST) == [str(real_tag.pk).encode()]


def test_it_skips_inactive_tags_and_tags_without_a_value(real_tag, make_tag, settings):
    settings.KILN_HISTORIAN_STORE_EVERY_MINUTES = 1
    inactive = make_tag("Old_Tag", is_active=False)
    live_set_many({inactive.pk: LiveValue(3.0, "GOOD", None, 0)})
    assert historian_heartbeat(now=time.time()) == 0


def test_it_applies_a_shorter_retention_of_one_tag_and_audits_it(real_tag, make_tag, load_samples, settings):
    settings.KILN_HISTORIAN_RETENTION_DAYS = 365
    other = make_tag("Pump_Speed")
    now = datetime.now(tz=UTC)
    old, recent = (now - timedelta(days=20)).timestamp(), (now - timedelta(days=2)).timestamp()
    load_samples(real_tag.pk, [(old, 1.0), (recent, 2.0)])
    load_samples(other.pk, [(old, 1.0)])
    TagHistorySetting.objects.create(tag=real_tag, retention_days=7)
    result = historian_retention_apply(now=now)
    assert result["per_tag"] == {"Reactor_Temp": 1}
    assert _count(real_tag.pk) == 1 and _count(other.pk) == 1
    record = AuditRecord.objects.get(action="historian.retention_delete")
    assert record.object_id == "Reactor_Temp" and record.old_value["samples"] == 1


def test_it_deletes_the_history_when_the_tag_is_deleted_and_audits_the_count(real_tag, admin_user, load_samples,
                                                                            django_capture_on_commit_callbacks):
    from tags.services import tag_delete

    load_samples(real_tag.pk, [(T0 + i, float(i)) for i in range(30)])
    tag_id = real_tag.pk
    with django_capture_on_commit_callbacks(execute=True):
        tag_delete(user=admin_user, tag=real_tag, reason="decommissioned")
    assert _count(tag_id) == 0
    record = AuditRecord.objects.get(action="historian.history_delete")
    assert (record.object_id, record.old_value) == ("Reactor_Temp", {"tag_id": tag_id, "samples": 30})


def test_it_deletes_the_history_of_a_tag_deleted_through_the_api(real_tag, admin_client, load_samples,
                                                                 django_capture_on_commit_callbacks):
    """DELETE /api/tags/... → tags.signals.tag_deleted after commit → historian.signals → samples gone."""
    load_samples(real_tag.pk, [(T0 + i, float(i)) for i in range(5)])
    tag_id = real_tag.pk
    with django_capture_on_commit_callbacks(execute=True):
        r = admin_client.delete(f"/api/tags/{real_tag.machine.machine_id}/{real_tag.name}")
    assert r.status_code == 200
    assert _count(tag_id) == 0


@pytest.mark.postgresql
def test_it_sweeps_the_history_of_tags_deleted_behind_its_back(real_tag, make_tag, load_samples):
    from historian.services import historian_orphans_delete

    gone = make_tag("Gone_Tag")
    load_samples(real_tag.pk, [(T0, 1.0)])
    load_samples(gone.pk, [(T0, 1.0), (T0 + 1, 2.0)])
    rollups_refresh(budget_seconds=30)
    gone_id = gone.pk
    gone.delete()  # not through tags.services: no hook ran
    assert historian_orphans_delete() == {gone_id: 2}
    assert _count(real_tag.pk) == 1
