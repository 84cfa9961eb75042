"""Fixtures for reports: a plant with history and alarm journal rows, a reports directory per test."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection

from alarms.models import AlarmEvent

# The batches app's own recipe and batch fixtures, for the shift and batch-record reports.
from batches.tests.conftest import (  # noqa: F401
    approved_recipe,
    complete_batch,
    draft_recipe,
    reactor,
    reactor_tags,
    site,
)
from historian.constants import quality_code
from tags.models import Machine, Site, Tag

T0 = datetime(2026, 3, 2, 6, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def reports_dir(settings, tmp_path):
    settings.KILN_REPORTS_DIR = tmp_path / "reports"
    settings.KILN_RATE_LIMIT_ENABLED = False
    return settings.KILN_REPORTS_DIR


@pytest.fixture
def plant(db):
    plant_site = Site.objects.create(site_id="plant-1", name="Plant 1")
    machine = Machine.objects.create(machine_id="reactor-1", name="Reactor 1", site=plant_site)
    temp = Tag.objects.create(machine=machine, name="Reactor_Temp", datatype="REAL", unit="°C")
    press = Tag.objects.create(machine=machine, name="Reactor_Press", datatype="REAL", unit="bar")
    return {"machine": machine, "temp": temp, "press": press}


@pytest.fixture
def load_samples():
    """load_samples(tag, [(datetime, value)...]): straight into the historian's tables (test setup only)."""
    from historian.partitions import partitions_ensure_for_times

    def load(tag, rows):
        partitions_ensure_for_times([r[0].timestamp() for r in rows])
        with connection.cursor() as cur:
            cur.executemany("INSERT INTO historian_sample (ts, value, tag_id, quality) VALUES (%s, %s, %s, %s)",
                            [(ts, value, tag.pk, quality_code("GOOD", None)) for ts, value in rows])
            cur.execute("INSERT INTO historian_historiandirtyrange (ts_from, ts_to) VALUES (%s, %s)",
                        [min(r[0] for r in rows), max(r[0] for r in rows)])

    return load


@pytest.fixture
def history(plant, load_samples):
    """One hour of one-minute samples for both tags from T0."""
    load_samples(plant["temp"], [(T0 + timedelta(minutes=i), 20.0 + i) for i in range(60)])
    load_samples(plant["press"], [(T0 + timedelta(minutes=i), 1.0 + i / 100) for i in range(60)])
    return plant


def make_event(ts, *, event="activated", priority="high", message="Reactor too hot", tag="Reactor_Temp",
               username=""):
    return AlarmEvent.objects.create(
        ts=ts, event=event, state_before="normal", state_after="active_unacked", active=True, acked=False,
        key=f"{tag}.HI", tag_name=tag, machine_id="reactor-1", priority=priority, value=90.5, quality="GOOD",
        message=message, username=username)


@pytest.fixture
def journal(db):
    rows = [make_event(T0 + timedelta(minutes=i), priority=p)
            for i, p in enumerate(["critical", "high", "high", "medium", "low"])]
    rows.append(make_event(T0 + timedelta(minutes=10), message="=HYPERLINK(\"http://evil\")", priority="low"))
    return rows
