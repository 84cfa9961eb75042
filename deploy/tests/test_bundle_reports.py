"""Report definitions in bundles (reports/configsection.py): their kind, defaults, tags and least role."""

import copy

import pytest

from deploy.bundle import bundle_plan
from deploy.services import config_import
from reports.models import ReportDefinition
from scada.errors import Unprocessable

pytestmark = pytest.mark.django_db


def _definition(bundle, slug):
    return next(d for d in bundle["sections"]["report_definitions"] if d["slug"] == slug)


def test_it_exports_definitions_with_their_tags_by_name(exported):
    shift = _definition(exported, "shift")
    stored = ReportDefinition.objects.get(slug="shift")
    assert shift["tags"] == sorted(stored.tags.values_list("name", flat=True)) != []
    assert shift["kind"] == stored.kind and shift["min_role"] == "operator"


def test_an_import_replaces_a_definitions_tags_and_defaults(exported):
    bundle = copy.deepcopy(exported)
    shift = _definition(bundle, "shift")
    kept = shift["tags"][:2]
    shift["tags"] = [kept[1], kept[0]]  # order does not matter: tags are a set
    shift["title"] = "Night shift"

    result = config_import(bundle=bundle, user=None)

    assert result["sections"]["report_definitions"]["changed"] == [
        {"key": "shift", "fields": {"title": {"old": _definition(exported, "shift")["title"], "new": "Night shift"},
                                    "tags": {"old": _definition(exported, "shift")["tags"], "new": kept}}}]
    stored = ReportDefinition.objects.get(slug="shift")
    assert stored.title == "Night shift" and sorted(stored.tags.values_list("name", flat=True)) == kept
    assert config_import(bundle=bundle, user=None)["changes"] == 0


def test_a_kind_not_installed_unknown_defaults_and_a_missing_tag_are_each_refused(exported):
    bundle = copy.deepcopy(exported)
    first, second = bundle["sections"]["report_definitions"][:2]
    first["kind"] = "no-such-kind"
    second["defaults"] = {"nope": 1}
    second["tags"] = ["No_Such_Tag"]

    with pytest.raises(Unprocessable) as exc:
        bundle_plan(bundle)

    problems = {(p["key"], p["problem"].split(":")[0]) for p in exc.value.extra["problems"]}
    assert problems == {(first["slug"], "kind"), (second["slug"], "defaults"), (second["slug"], "tags")}
