"""Screens in a bundle: every tag, device and screen their bindings name must exist once the import is applied."""

import copy

import pytest

from deploy.bundle import bundle_plan
from deploy.services import config_import
from hmi.models import Screen
from scada.errors import Unprocessable
from tags.models import Tag

pytestmark = pytest.mark.django_db


def _screen_with_a_tag(bundle):
    for screen in bundle["sections"]["screens"]:
        for binding in screen["bindings"]:
            if binding.get("tag"):
                return screen, binding
    raise AssertionError("the demo has a screen bound to a tag")


def test_a_screen_naming_a_tag_that_does_not_exist_is_refused_with_the_name_and_nothing_changes(exported):
    bundle = copy.deepcopy(exported)
    screen, binding = _screen_with_a_tag(bundle)
    binding["tag"] = "No_Such_Tag"
    screen["description"] = "would change"

    with pytest.raises(Unprocessable) as exc:
        config_import(bundle=bundle, user=None)

    assert exc.value.status_code == 422
    assert f"screens '{screen['slug']}': bindings: unknown tag(s) in the bundle: No_Such_Tag" in exc.value.detail
    assert Screen.objects.get(slug=screen["slug"]).description != "would change"


def test_removing_a_tag_a_screen_shows_is_refused_naming_the_screen_even_without_the_screens_section(exported):
    screen, binding = _screen_with_a_tag(exported)
    tags = [t for t in exported["sections"]["tags"] if t["name"] != binding["tag"]]

    with pytest.raises(Unprocessable) as exc:
        bundle_plan({**exported, "sections": {"tags": tags}})

    problems = [(p["section"], p["key"], p["problem"]) for p in exc.value.extra["problems"]]
    assert ("screens", screen["slug"], f"bindings: unknown tag(s) in the bundle: {binding['tag']}") in problems
    assert Tag.objects.filter(name=binding["tag"]).exists()
