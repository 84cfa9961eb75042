"""Fixtures and helpers that several apps' tests use, loaded for the whole suite by the root conftest.py
(`pytest_plugins`), so no app's tests import another app's tests package.

- `plc_router`: a fake PLC at the edge of the tag write path (KILN_WRITE_ROUTER), for tags and devices tests;
- `audit_insert_fails`: the audit trail refusing one action's records, for real (a PostgreSQL trigger);
- `recorded_values`: KILN_VALUE_CONSUMERS replaced by recorders, to see where the values path sends a change.

Servers (free ports, a real daphne) are in tests/servers.py.
"""

import contextlib

import pytest

from tags.writers import DriverWriteError, DriverWriteOutcome, get_write_router


class FakePlcRouter:
    """Stands in for the drivers app at the edge: which tags a PLC feeds, and what the PLC answers.

    Built by get_write_router() from settings.KILN_WRITE_ROUTER, so without arguments; `plc_router` sets it up.
    """

    def __init__(self):
        self.tag_ids, self.fail, self.unknown, self.confirmed = set(), None, False, True
        self.writes = []

    def handles(self, tag_id):
        return tag_id in self.tag_ids

    def write(self, *, tag, value):
        from tags.values import Sample, tag_values_record

        if self.fail:
            raise DriverWriteError(self.fail, unknown_outcome=self.unknown)
        self.writes.append((tag.name, value))
        tag_values_record(samples=[Sample(tag_id=tag.pk, value=value)])
        return DriverWriteOutcome(confirmed=self.confirmed, readback=value)


@pytest.fixture
def plc_router(settings):
    """plc_router(tags, fail=...) makes a fake PLC feed those tags: KILN_WRITE_ROUTER names FakePlcRouter for
    this test (the override ends with it, and the drivers app's router is built again)."""

    def install(tags, *, fail: str | None = None, unknown: bool = False, confirmed: bool = True):
        settings.KILN_WRITE_ROUTER = f"{__name__}.FakePlcRouter"  # a fresh instance on every install
        router = get_write_router()
        router.tag_ids, router.fail, router.unknown, router.confirmed = {t.pk for t in tags}, fail, unknown, confirmed
        return router

    return install


@contextlib.contextmanager
def audit_insert_fails(action: str):
    """The audit trail refuses records of one action, for real: a PostgreSQL trigger raises on their INSERT.

    Stands for a full disk, a lost connection or a constraint the trail trips on, at the one point that matters.
    DDL outlives a transactional test's flush, so the trigger is dropped again on the way out.
    """
    import re

    from django.db import connection

    assert re.fullmatch(r"[a-z_.]+", action)  # a trigger argument is a literal: test constants only
    with connection.cursor() as cur:
        cur.execute("""
            CREATE OR REPLACE FUNCTION kiln_test_audit_fails() RETURNS trigger AS $$
            BEGIN
                IF NEW.action = TG_ARGV[0] THEN
                    RAISE EXCEPTION 'test: audit trail refuses %', NEW.action;
                END IF;
                RETURN NEW;
            END $$ LANGUAGE plpgsql""")
        cur.execute("DROP TRIGGER IF EXISTS kiln_test_audit_fails ON accounts_auditrecord")
        cur.execute("CREATE TRIGGER kiln_test_audit_fails BEFORE INSERT ON accounts_auditrecord FOR EACH ROW "
                    f"EXECUTE FUNCTION kiln_test_audit_fails('{action}')")
    try:
        yield
    finally:
        with connection.cursor() as cur:
            cur.execute("DROP TRIGGER IF EXISTS kiln_test_audit_fails ON accounts_auditrecord")


class ValueRecorder:
    """A value consumer for tests (a KILN_VALUE_CONSUMERS entry): keeps every change it is handed."""

    def __init__(self, *, backfill: bool = False):
        self.backfill = backfill  # as historian_buffer_append.backfill: also hand it samples older than live
        self.changes = []

    def __call__(self, changes):
        self.changes.extend(changes)


# Module-level, so a setting can name them by dotted path; `recorded_values` empties them for each test.
push_recorder, historian_recorder, alarms_recorder = ValueRecorder(), ValueRecorder(backfill=True), ValueRecorder()


@pytest.fixture
def recorded_values(settings):
    """For one test, KILN_VALUE_CONSUMERS is three recorders standing in for push, historian (backfill) and
    alarms, in that order; returns them by name."""
    recorders = {"push": push_recorder, "historian": historian_recorder, "alarms": alarms_recorder}
    for recorder in recorders.values():
        recorder.changes.clear()
    settings.KILN_VALUE_CONSUMERS = [f"{__name__}.{name}_recorder" for name in recorders]
    return recorders
