"""The diff validates added and changed items in full; unchanged items are compared by their stored canonical
form, and are checked again when something they refer to changes."""

import copy

import pytest

from deploy.bundle import bundle_plan
from scada.errors import Unprocessable
from tags.models import Tag

pytestmark = pytest.mark.django_db


def test_an_unchanged_alarm_on_a_tag_turned_bool_is_refused_even_when_the_bundle_has_only_tags(exported):
    alarm = next(a for a in exported["sections"]["alarm_definitions"]
                 if a["tag"] and a["kind"] == "HI")
    tags = copy.deepcopy(exported["sections"]["tags"])
    tag = next(t for t in tags if t["name"] == alarm["tag"])
    tag.update(datatype="BOOL", min_value=None, max_value=None, deadband=0.0)

    with pytest.raises(Unprocessable) as exc:
        bundle_plan({**exported, "sections": {"tags": tags}})

    assert f"alarm_definitions '{alarm['key']}': kind: A limit alarm needs an INT or REAL tag" in exc.value.detail
    assert Tag.objects.get(name=tag["name"]).datatype != "BOOL"


def test_an_item_equal_to_the_stored_one_but_for_a_json_type_gets_the_shape_check(exported):
    bundle = copy.deepcopy(exported)
    tag = bundle["sections"]["tags"][0]
    tag["is_active"] = int(tag["is_active"])  # 1 == True in Python, not in the schema

    with pytest.raises(Unprocessable) as exc:
        bundle_plan(bundle)

    assert f"tags '{tag['name']}': is_active: must be true or false" in exc.value.detail


def test_an_unchanged_export_plans_no_change(exported):
    assert bundle_plan(copy.deepcopy(exported)).count == 0
