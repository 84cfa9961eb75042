"""A hypothesis state machine drives random sequences against a small reference model of the ISA-18.2 lifecycle.

Steps: values (with GOOD/BAD quality) recorded through the one values service, an interlock tag that suppresses
the alarm by design, acknowledge, shelve, unshelve, out of service and back, and time passing (time_machine) with
or without the timer task running. After every step the database must agree with the model: flags, the shown
state, activation time (exact on-delay), journal rows per kind, audit records, and the annunciated list.
"""

import itertools
import time

import time_machine
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule, run_state_machine_as_test

from accounts.models import AuditRecord, User
from alarms import services
from alarms.evaluation import alarms_tick, engine
from alarms.models import Alarm, AlarmDefinition, AlarmEvent
from alarms.selectors import alarm_active_queryset
from scada.errors import Conflict
from scada.redis import get_redis
from scada.roles import Role
from tags.models import Machine, Site, Tag
from tags.values import Sample, tag_values_record

SETPOINT, DEADBAND, ON_DELAY = 80.0, 5.0, 3.0
MAX_SHELVE = 120
_ids = itertools.count(1)


def reference_state(m) -> str:
    """The shown state, written independently of alarms.lifecycle."""
    if m.oos:
        return "out_of_service"
    if m.shelved_until is not None:
        return "shelved"
    if m.suppressed:
        return "suppressed"
    if m.active:
        return "active_acked" if m.acked else "active_unacked"
    return "rtn_unacked" if not m.acked else "normal"


class Model:
    def __init__(self):
        self.active = False
        self.acked = True
        self.suppressed = False
        self.shelved_until = None
        self.oos = False
        self.pending = None
        self.activated_at = None
        self.bad_active = False
        self.last = None
        self.interlock = None
        self.events = {}
        self.audits = 0

    def count(self, kind):
        self.events[kind] = self.events.get(kind, 0) + 1


class AlarmLifecycle(RuleBasedStateMachine):
    def __init__(self):
        super().__init__()
        get_redis().flushdb()
        engine.reset()
        n = next(_ids)
        self.clock = time_machine.travel(1_800_000_000.0 + n * 100_000, tick=False)
        self.coords = self.clock.start()
        site, _ = Site.objects.get_or_create(site_id="sm-site", defaults={"name": "SM"})
        machine = Machine.objects.create(machine_id=f"sm-{n}", site=site)
        self.temp = Tag.objects.create(machine=machine, name=f"SM_Temp_{n}", datatype="REAL", unit="°C")
        self.interlock = Tag.objects.create(machine=machine, name=f"SM_Interlock_{n}", datatype="BOOL")
        d = AlarmDefinition(key=f"sm_hi_{n}", name="SM high", tag=self.temp, kind="HI", setpoint=SETPOINT,
                            deadband=DEADBAND, on_delay=ON_DELAY, max_shelve_seconds=MAX_SHELVE,
                            suppress_condition="{tags." + self.interlock.name + "} == true")
        d.full_clean()
        d.save()
        bad = AlarmDefinition(key=f"sm_bad_{n}", name="SM bad", tag=self.temp, kind="BAD")
        bad.save()
        services.alarm_instances_sync()
        self.alarm = Alarm.objects.get(definition=d)
        self.bad_alarm = Alarm.objects.get(definition=bad)
        self.supervisor = User.objects.create(username=f"sup{n}", role=Role.SUPERVISOR)
        self.engineer = User.objects.create(username=f"eng{n}", role=Role.ENGINEER)
        self.m = Model()

    def teardown(self):
        self.clock.stop()
        engine.reset()

    # --- the plant -----------------------------------------------------------------------------------------

    @rule(value=st.sampled_from([50.0, 76.0, 79.0, 81.0, 95.0]), quality=st.sampled_from(["GOOD", "GOOD", "BAD"]))
    def record_value(self, value, quality):
        now = time.time()
        tag_values_record(samples=[Sample(tag_id=self.temp.pk, value=value, quality=quality, ts=now)])
        m = self.m
        if m.last == (value, quality):
            return  # not a change: nothing reaches the alarms
        m.last = (value, quality)
        self._delay_ran_out(now)  # any batch ends a delay that ran out, at the moment it ran out
        bad = quality == "BAD"
        if bad != m.bad_active:
            m.bad_active = bad
        if bad:
            return  # a BAD value holds the limit alarm
        cond = value > (SETPOINT - DEADBAND if m.active else SETPOINT)
        if cond == m.active:
            m.pending = None
        elif cond:
            if m.pending is None:
                m.pending = now
        else:
            m.active, m.pending = False, None  # no off-delay
            m.count("cleared")

    def _delay_ran_out(self, now):
        if self.m.pending is not None and now >= self.m.pending + ON_DELAY:
            self._activate(self.m.pending + ON_DELAY)

    def _activate(self, at):
        m = self.m
        m.active, m.acked, m.pending, m.activated_at = True, False, None, at
        m.count("activated")

    @rule(on=st.booleans())
    def record_interlock(self, on):
        tag_values_record(samples=[Sample(tag_id=self.interlock.pk, value=on, ts=time.time())])
        m = self.m
        if m.interlock == on:
            return
        m.interlock = on
        self._delay_ran_out(time.time())
        if m.suppressed != on:
            m.suppressed = on
            m.count("suppressed" if on else "unsuppressed")

    @rule(seconds=st.sampled_from([0.5, 1.0, 2.0, 3.0, 30.0, 121.0]), timers=st.booleans())
    def time_passes(self, seconds, timers):
        self.coords.shift(seconds)
        if not timers:
            return
        alarms_tick()
        services.alarm_shelves_expire()
        now = time.time()
        m = self.m
        self._delay_ran_out(now)
        if m.shelved_until is not None and m.shelved_until <= now:
            m.shelved_until = None
            m.count("shelve_expired")

    # --- people ----------------------------------------------------------------------------------------------

    def _fresh(self):
        return Alarm.objects.select_related("definition", "tag__machine").get(pk=self.alarm.pk)

    @rule()
    def acknowledge(self):
        alarm = self._fresh()
        was_active = alarm.active
        try:
            alarm = services.alarm_acknowledge(alarm=alarm, user=self.supervisor, comment="seen")
        except Conflict:
            assert self.m.acked
            return
        assert not self.m.acked
        assert alarm.active == was_active  # acknowledging never changes whether it is active
        self.m.acked = True
        self.m.count("acknowledged")
        self.m.audits += 1

    @rule(duration=st.sampled_from([30, 60, MAX_SHELVE]))
    def shelve(self, duration):
        try:
            services.alarm_shelve(alarm=self._fresh(), user=self.supervisor, duration_seconds=duration, reason="r")
        except Conflict:
            assert self.m.shelved_until is not None or self.m.oos
            return
        assert self.m.shelved_until is None and not self.m.oos
        self.m.shelved_until = time.time() + duration
        self.m.count("shelved")
        self.m.audits += 1

    @rule()
    def unshelve(self):
        try:
            services.alarm_unshelve(alarm=self._fresh(), user=self.supervisor)
        except Conflict:
            assert self.m.shelved_until is None
            return
        self.m.shelved_until = None
        self.m.count("unshelved")
        self.m.audits += 1

    @precondition(lambda self: not self.m.oos)
    @rule()
    def remove_from_service(self):
        services.alarm_remove_from_service(alarm=self._fresh(), user=self.engineer, reason="maintenance")
        self.m.oos, self.m.shelved_until = True, None
        self.m.count("removed_from_service")
        self.m.audits += 1

    @precondition(lambda self: self.m.oos)
    @rule()
    def return_to_service(self):
        services.alarm_return_to_service(alarm=self._fresh(), user=self.engineer)
        self.m.oos = False
        self.m.count("returned_to_service")
        self.m.audits += 1

    # --- invariants ------------------------------------------------------------------------------------------

    @invariant()
    def database_agrees_with_the_model(self):
        a = Alarm.objects.get(pk=self.alarm.pk)
        m = self.m
        got = (a.active, a.acked, a.suppressed, a.shelved_until is not None, a.out_of_service, a.state)
        want = (m.active, m.acked, m.suppressed, m.shelved_until is not None, m.oos, reference_state(m))
        assert got == want
        if m.shelved_until is not None:
            assert abs(a.shelved_until.timestamp() - m.shelved_until) < 1e-3
        if m.activated_at is not None:
            assert abs(a.activated_at.timestamp() - m.activated_at) < 1e-3  # the on-delay is exact
        assert Alarm.objects.get(pk=self.bad_alarm.pk).active == m.bad_active

    @invariant()
    def journal_has_one_row_per_transition(self):
        counts = {}
        for kind in AlarmEvent.objects.filter(alarm_id=self.alarm.pk).values_list("event", flat=True):
            counts[kind] = counts.get(kind, 0) + 1
        assert counts == self.m.events

    @invariant()
    def people_are_audited(self):
        assert AuditRecord.objects.filter(object_type="alarm", object_id=str(self.alarm.pk)).count() == self.m.audits

    @invariant()
    def only_annunciated_states_are_listed(self):
        listed = alarm_active_queryset().filter(pk=self.alarm.pk, state__in=(
            "active_unacked", "active_acked", "rtn_unacked")).exists()
        assert listed == (reference_state(self.m) in ("active_unacked", "active_acked", "rtn_unacked"))


def test_it_keeps_the_lifecycle_invariants_under_random_sequences(db, _clean_redis):
    run_state_machine_as_test(AlarmLifecycle, settings=settings(
        max_examples=30, stateful_step_count=30, deadline=None, database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture]))
