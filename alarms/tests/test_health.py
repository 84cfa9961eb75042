"""manage.py health alarms: the timer task (beat + a default worker) ran within the last seconds."""

import time

from alarms.runtime import TIMERS_RAN_KEY
from alarms.selectors import alarms_health
from alarms.tasks import alarms_timers_task
from scada.redis import get_redis


def test_the_alarms_are_unhealthy_until_the_timer_task_runs_and_again_once_it_stops(db):
    assert not alarms_health().ok  # never ran: no beat or no default worker
    alarms_timers_task()
    health = alarms_health()
    assert health.ok and health.facts["timers_last_run_age_seconds"] < 5
    get_redis().set(TIMERS_RAN_KEY, repr(time.time() - 60))  # a beat that died a minute ago
    health = alarms_health()
    assert not health.ok and "beat or the default worker is down" in health.detail
