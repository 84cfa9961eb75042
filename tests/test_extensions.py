"""Extension points (scada/extensions.py, docs/architecture.md "Extending Kiln"): every entry of each setting
imports, the values path hands batches to the consumers the setting names, in its order, resolved once."""

import pytest
from django.conf import settings as django_settings

from scada.extensions import EXTENSION_BACKENDS, EXTENSION_LISTS, extension_backend, extension_list

calls: list[tuple[str, list]] = []


def first_consumer(changes):
    calls.append(("first", [(c.name, c.value) for c in changes]))


def second_consumer(changes):
    calls.append(("second", [(c.name, c.value) for c in changes]))


@pytest.fixture
def tag(db):
    from tags.models import Machine, Tag

    return Tag.objects.create(machine=Machine.objects.create(machine_id="line-1"), name="Flow", datatype="REAL")


def _record(tag, value):
    from tags.values import Sample, tag_values_record

    return tag_values_record(samples=[Sample(tag_id=tag.pk, value=value)])


@pytest.mark.parametrize("setting", EXTENSION_LISTS)
def test_it_imports_every_entry_of_an_ordered_extension_setting(setting):
    entries = extension_list(setting)
    assert [e.path for e in entries] == list(getattr(django_settings, setting)) and entries
    assert all(callable(e.obj) for e in entries)


@pytest.mark.parametrize("setting", EXTENSION_BACKENDS)
def test_it_imports_each_backend_setting(setting):
    assert getattr(django_settings, setting) and extension_backend(setting) is not None


def test_it_names_the_value_consumers_in_todays_order_with_only_the_historian_taking_backfills():
    from alarms.evaluation import alarms_on_values
    from historian.buffer import historian_buffer_append
    from live.publisher import push_changes

    consumers = [e.obj for e in extension_list("KILN_VALUE_CONSUMERS")]
    assert consumers == [push_changes, historian_buffer_append, alarms_on_values]
    assert [getattr(c, "backfill", False) for c in consumers] == [False, True, False]


def test_it_hands_a_batch_to_a_consumer_added_in_settings(tag, settings):
    extension_list("KILN_VALUE_CONSUMERS")  # resolved (and cached) before the override, as in a running process
    calls.clear()
    settings.KILN_VALUE_CONSUMERS = [*settings.KILN_VALUE_CONSUMERS, f"{__name__}.first_consumer"]
    _record(tag, 4.5)
    assert calls == [("first", [("Flow", 4.5)])]


def test_it_hands_batches_to_the_consumers_in_the_settings_order(tag, settings):
    calls.clear()
    settings.KILN_VALUE_CONSUMERS = [f"{__name__}.second_consumer", f"{__name__}.first_consumer"]
    _record(tag, 1.0)
    assert [name for name, _ in calls] == ["second", "first"]


def test_it_keeps_handing_batches_to_the_rest_when_a_consumer_fails(tag, settings):
    calls.clear()
    settings.KILN_VALUE_CONSUMERS = ["tests.test_extensions.broken_consumer", f"{__name__}.first_consumer"]
    _record(tag, 2.0)
    assert calls == [("first", [("Flow", 2.0)])]


def broken_consumer(changes):
    raise RuntimeError("consumer down")


def test_it_resolves_a_setting_once_and_again_after_it_changes(settings):
    before = extension_list("KILN_VALUE_CONSUMERS")
    assert extension_list("KILN_VALUE_CONSUMERS") is before  # no import_string per batch
    settings.KILN_VALUE_CONSUMERS = [f"{__name__}.first_consumer"]
    assert [e.obj for e in extension_list("KILN_VALUE_CONSUMERS")] == [first_consumer]


def test_it_builds_one_write_router_per_process():
    from tags.writers import get_write_router

    assert get_write_router() is get_write_router()
