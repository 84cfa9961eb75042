"""Screen services: sanitized, validated, audited; bad input changes nothing."""

import pytest
from django.db import transaction

from accounts.models import AuditRecord
from hmi.models import Screen
from hmi.services import screen_delete, screen_save, screens_references_check
from hmi.tests.conftest import BINDINGS, SVG
from scada.errors import BadRequest, Unprocessable


def test_it_stores_the_sanitized_drawing_and_audits_it(plant, engineer):
    svg = SVG.replace("<circle", '<script>alert(1)</script><circle onclick="x()"')
    screen, removed = screen_save(actor=engineer, data={"name": "Overview", "slug": "overview", "svg": svg,
                                                        "bindings": BINDINGS})
    screen.refresh_from_db()
    assert "script" not in screen.svg and "onclick" not in screen.svg
    assert len(removed) == 2
    record = AuditRecord.objects.get(action="screen.create")
    assert record.username == engineer.username and record.object_id == str(screen.pk)
    assert "sanitized" in record.reason


def test_it_lists_the_tags_a_screen_uses(screen):
    assert screen.tag_names == ["Tank_Level", "pump-01.Running", "pump-01.SpeedSetpoint"]


def test_it_refuses_bindings_to_missing_elements_and_saves_nothing(plant, engineer):
    with pytest.raises(BadRequest, match="no element with id 'ghost'"):
        screen_save(actor=engineer, data={"name": "X", "slug": "x", "svg": SVG,
                                          "bindings": [{"element": "ghost", "kind": "text", "tag": "Tank_Level"}]})
    assert not Screen.objects.exists()
    assert not AuditRecord.objects.filter(action__startswith="screen.").exists()


def test_it_refuses_an_entity_bomb(plant, engineer):
    bomb = '<!DOCTYPE svg [<!ENTITY a "aaaa">]><svg xmlns="http://www.w3.org/2000/svg"><text>&a;</text></svg>'
    with pytest.raises(BadRequest, match="svg: The SVG was refused"):
        screen_save(actor=engineer, data={"name": "X", "slug": "x", "svg": bomb, "bindings": []})
    assert not Screen.objects.exists()


def test_it_keeps_one_home_screen(screen, engineer):
    other, _ = screen_save(actor=engineer, data={"name": "Other", "slug": "other", "svg": SVG, "bindings": [],
                                                 "is_home": True})
    screen.refresh_from_db()
    assert other.is_home and not screen.is_home


def test_it_audits_updates_with_old_and_new_values(screen, engineer):
    screen_save(actor=engineer, screen=screen, data={"name": "Plant overview"})
    record = AuditRecord.objects.get(action="screen.update")
    assert record.old_value["name"] == "Overview" and record.new_value["name"] == "Plant overview"


def test_it_audits_deletes(screen, engineer):
    pk = screen.pk
    screen_delete(actor=engineer, screen=screen)
    assert not Screen.objects.filter(pk=pk).exists()
    assert AuditRecord.objects.get(action="screen.delete").old_value["slug"] == "overview"


def test_deferred_references_are_checked_before_the_transaction_commits_and_a_missing_tag_rolls_it_back(
        plant, engineer):
    bindings = [*BINDINGS, {"element": "level", "kind": "color", "tag": "Ghost_Tag", "states": {"true": "#f00"}}]
    with pytest.raises(Unprocessable, match="screen 'x': unknown tag\\(s\\): Ghost_Tag"):
        with transaction.atomic():
            screen_save(actor=engineer, data={"name": "X", "slug": "x", "svg": SVG, "bindings": bindings},
                        defer_references=True)
            screens_references_check()
    assert not Screen.objects.exists()

