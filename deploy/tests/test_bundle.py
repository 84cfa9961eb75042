"""Bundles: export, validation, the dry-run diff and import, through the sections of KILN_CONFIG_SECTIONS."""

import copy

import pytest

from accounts.models import AuditRecord
from alarms.models import Alarm, AlarmDefinition
from batches.models import Batch, BatchParameter, BatchPhase, Recipe
from deploy.bundle import bundle_export, bundle_plan, bundle_read_path, bundle_write_dir
from deploy.services import config_import
from drivers.models import Connection, TagBinding
from hmi.models import Screen
from scada.errors import BadRequest, Conflict, Unprocessable
from tags.models import DeviceType, Machine, Site, Tag

pytestmark = pytest.mark.django_db


def _item(bundle, section, key_field, key):
    return next(i for i in bundle["sections"][section] if i[key_field] == key)


def _empty(bundle):
    return {**bundle, "sections": {name: [] for name in bundle["sections"]}}


def test_it_exports_every_section_in_key_order(exported):
    sections = exported["sections"]
    assert list(sections) == ["sites", "device_types", "device_members", "device_commands", "machines", "tags",
                              "connections", "bindings", "nodes", "metrics", "topics", "alarm_definitions", "screens",
                              "recipes", "report_definitions"]
    names = [t["name"] for t in sections["tags"]]
    assert names == sorted(names) and len(names) == Tag.objects.count()
    assert len(sections["bindings"]) == TagBinding.objects.count() > 0
    assert len(sections["alarm_definitions"]) == AlarmDefinition.objects.count() > 0
    assert len(sections["screens"]) == Screen.objects.count() > 0


def test_an_unchanged_bundle_says_no_changes(exported):
    result = config_import(bundle=exported, user=None)
    assert result == {"changes": 0, "detail": "no changes", "sections": {}, "applied": False}


def test_removing_a_tag_that_a_recipe_uses_is_a_409_naming_the_recipe_and_changes_nothing(exported):
    with pytest.raises(Conflict, match="still in use by recipe parameter 'reactor-heat-cycle v1"):
        config_import(bundle=_empty(exported), user=None)
    assert Tag.objects.count() == len(exported["sections"]["tags"])


def test_export_import_into_an_empty_database_and_export_again_is_identical(exported):
    # A recipe left out of a bundle is retired, not deleted, and still refers to its tags (PROTECT): remove it.
    BatchPhase.objects.all().delete()
    BatchParameter.objects.all().delete()
    Batch.objects.all().delete()
    Recipe.objects.all().delete()
    emptied = config_import(bundle=_empty(exported), user=None)
    assert emptied["applied"] and not Tag.objects.exists() and not Connection.objects.exists()
    assert not Site.objects.exists() and not DeviceType.objects.exists() and not Screen.objects.exists()

    restored = config_import(bundle=exported, user=None)

    assert restored["applied"]
    again = bundle_export()
    assert again["sections"] == exported["sections"]
    # Runtime alarms exist again for every restored definition (evaluation finds them without a restart).
    assert Alarm.objects.count() >= AlarmDefinition.objects.count() > 0


def test_the_dry_run_shows_field_level_changes_and_changes_nothing(exported):
    bundle = copy.deepcopy(exported)
    tag = bundle["sections"]["tags"][0]
    old_description = tag["description"]
    tag["description"] = "changed on test"
    bundle["sections"]["alarm_definitions"].pop()
    removed_key = exported["sections"]["alarm_definitions"][-1]["key"]

    diff = config_import(bundle=bundle, user=None, dry_run=True)

    assert diff["applied"] is False and diff["changes"] == 2
    assert diff["sections"]["tags"] == {"added": [], "removed": [], "changed": [
        {"key": tag["name"], "fields": {"description": {"old": old_description, "new": "changed on test"}}}]}
    assert diff["sections"]["alarm_definitions"]["removed"] == [removed_key]
    assert Tag.objects.get(name=tag["name"]).description == old_description
    assert AlarmDefinition.objects.filter(key=removed_key).exists()


def test_an_import_applies_the_change_and_audits_each_object(exported, admin_user):
    bundle = copy.deepcopy(exported)
    tag = bundle["sections"]["tags"][0]
    tag["deadband"] = 0.5

    result = config_import(bundle=bundle, user=admin_user, reason="tighter deadband")

    assert result["applied"] and result["changes"] == 1
    assert Tag.objects.get(name=tag["name"]).deadband == 0.5
    record = AuditRecord.objects.get(action="config.change", object_id=tag["name"])
    assert record.object_type == "tags" and record.new_value == {"deadband": 0.5}
    assert record.reason == "tighter deadband" and record.username == admin_user.username
    assert AuditRecord.objects.filter(action="config.import").count() == 1


def test_a_bundle_with_one_bad_object_changes_nothing_and_names_it(exported):
    bundle = copy.deepcopy(exported)
    good = bundle["sections"]["tags"][0]
    good["description"] = "would be changed"
    bad = next(t for t in bundle["sections"]["tags"] if t["datatype"] == "REAL")
    bad["min_value"], bad["max_value"] = 10.0, 5.0

    with pytest.raises(Unprocessable) as exc:
        config_import(bundle=bundle, user=None)

    assert f"tags '{bad['name']}': min_value" in exc.value.detail
    assert exc.value.extra["problems"][0]["file"] == "tags.json"
    assert Tag.objects.get(name=good["name"]).description != "would be changed"


def test_it_lists_every_problem_of_a_bundle(exported):
    bundle = copy.deepcopy(exported)
    bundle["sections"]["tags"][0]["datatype"] = "COMPLEX"
    bundle["sections"]["tags"][1]["is_writable"] = "yes"
    bundle["sections"]["connections"][0]["port"] = 70000

    with pytest.raises(Unprocessable) as exc:
        bundle_plan(bundle)

    problems = [(p["section"], p["problem"].split(":")[0]) for p in exc.value.extra["problems"]]
    assert problems == [("tags", "datatype"), ("tags", "is_writable"), ("connections", "port")]


def test_a_binding_to_a_tag_the_bundle_removes_is_refused(exported):
    bundle = copy.deepcopy(exported)
    bound = bundle["sections"]["bindings"][0]["tag"]
    bundle["sections"]["tags"] = [t for t in bundle["sections"]["tags"] if t["name"] != bound]

    with pytest.raises(Unprocessable) as exc:
        bundle_plan(bundle)

    assert f"bindings '{bound}': tag: no tags item '{bound}' in the bundle" in exc.value.detail


def test_overlapping_bindings_are_refused(exported):
    bundle = copy.deepcopy(exported)
    first, second = [b for b in bundle["sections"]["bindings"] if b["table"] == "holding"][:2]
    second["connection"], second["address"] = first["connection"], first["address"]

    with pytest.raises(Unprocessable) as exc:
        bundle_plan(bundle)

    assert "overlap" in exc.value.detail


def test_an_alarm_on_a_bool_tag_with_a_limit_kind_is_refused(exported):
    bundle = copy.deepcopy(exported)
    bool_tag = next(t["name"] for t in bundle["sections"]["tags"] if t["datatype"] == "BOOL")
    alarm = next(a for a in bundle["sections"]["alarm_definitions"] if a["tag"] and a["setpoint"] is not None)
    alarm["tag"], alarm["kind"] = bool_tag, "HI"

    with pytest.raises(Unprocessable) as exc:
        bundle_plan(bundle)

    assert f"alarm_definitions '{alarm['key']}': kind: A limit alarm needs an INT or REAL tag" in exc.value.detail


@pytest.mark.parametrize("bundle", [None, [], "x", {"format": "other"}, {"format": "kiln-config", "version": 2},
                                    {"format": "kiln-config", "version": 1, "sections": []},
                                    {"format": "kiln-config", "version": 1, "sections": {"nope": []}}])
def test_something_that_is_not_a_bundle_is_a_400(db, bundle):
    with pytest.raises(BadRequest):
        bundle_plan(bundle)


def test_a_section_left_out_of_the_bundle_is_left_as_it_is(exported):
    bundle = {**exported, "sections": {"sites": exported["sections"]["sites"]}}
    assert config_import(bundle=bundle, user=None)["changes"] == 0
    assert Tag.objects.count() == len(exported["sections"]["tags"])


def test_a_directory_bundle_reads_back_as_written(exported, tmp_path):
    files = bundle_write_dir(exported, tmp_path / "cfg")
    assert {f.name for f in files} >= {"kiln-bundle.json", "tags.json", "bindings.json"}
    assert bundle_read_path(tmp_path / "cfg") == exported


def test_a_new_machine_and_tag_are_created_from_the_bundle(exported):
    bundle = copy.deepcopy(exported)
    bundle["sections"]["machines"].append({"machine_id": "mixer-9", "name": "Mixer 9"})
    bundle["sections"]["tags"].append({"name": "Mixer9_Speed", "machine": "mixer-9", "datatype": "REAL",
                                       "min_value": 0, "max_value": 100})

    result = config_import(bundle=bundle, user=None)

    assert result["sections"]["tags"]["added"] == ["Mixer9_Speed"]
    tag = Tag.objects.get(name="Mixer9_Speed")
    assert tag.machine == Machine.objects.get(machine_id="mixer-9") and tag.max_value == 100.0


def test_a_tags_decimals_travel_in_the_bundle_and_an_older_bundle_without_them_clears_them(exported):
    item = _item(exported, "tags", "name", "Reactor_Temp")
    assert item["decimals"] == 1 and list(item).index("decimals") == list(item).index("unit") + 1
    bundle = copy.deepcopy(exported)
    del _item(bundle, "tags", "name", "Reactor_Temp")["decimals"]  # a bundle written before the field existed

    config_import(bundle=bundle, user=None)

    assert Tag.objects.get(name="Reactor_Temp").decimals is None


def test_a_bundle_with_decimals_out_of_range_is_refused(exported):
    bundle = copy.deepcopy(exported)
    _item(bundle, "tags", "name", "Reactor_Temp")["decimals"] = 7
    with pytest.raises(Unprocessable, match="decimals"):
        config_import(bundle=bundle, user=None)
    assert Tag.objects.get(name="Reactor_Temp").decimals == 1
