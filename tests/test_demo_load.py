"""manage.py demo_load, as `make run` calls it: idempotent, and a fresh database starts from clean Redis state."""

import pytest
from django.core.management import call_command

from scada.redis import get_redis
from tags.live import live_get_many
from tags.models import Tag

pytestmark = pytest.mark.django_db


def test_it_forgets_redis_state_an_earlier_database_left_when_the_database_is_fresh(capsys):
    from django.db import connection

    r = get_redis()
    with connection.cursor() as cur:  # the ids the demo's tags are about to get
        cur.execute("SELECT last_value FROM tags_tag_id_seq")
        next_id = cur.fetchone()[0] + 1
    # What an earlier demo database left behind: live values under the tag ids the new database will reuse,
    # a queued drivers task, a config version; and a key that is not Kiln's.
    r.hset("kiln:live", mapping={str(i): b'[82.52, "GOOD", null, 1700000000.0]'
                                 for i in range(next_id, next_id + 200)})
    r.rpush("drivers", b"{stale task}")
    r.set("kiln:tags:config_version", "old")
    r.set("someone-else:key", "keep")

    call_command("demo_load", "--fresh-database")

    out = capsys.readouterr().out
    assert "Redis keys left by an earlier database removed" in out
    assert r.llen("drivers") == 0 and r.get("someone-else:key") == b"keep"
    lab = Tag.objects.get(name="Lab_Viscosity")
    assert live_get_many([lab.pk])[lab.pk].value == 1250.0  # the demo's own initial value, not a stale one


def test_it_keeps_the_plant_as_it_is_when_loaded_again():
    call_command("demo_load")
    lab = Tag.objects.get(name="Lab_Viscosity")
    from tags.live import LiveValue, live_set_many

    live_set_many({lab.pk: LiveValue(1300.0, "GOOD", None, 1_800_000_000.0)})
    tags = Tag.objects.count()
    call_command("demo_load")
    assert Tag.objects.count() == tags
    assert live_get_many([lab.pk])[lab.pk].value == 1300.0  # a restart does not reset what the plant is doing
