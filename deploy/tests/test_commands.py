"""manage.py config_export / config_import: a directory bundle, the diff printed, --dry-run changes nothing."""

import json

import pytest
from django.core.management import CommandError, call_command

from tags.models import Tag

pytestmark = pytest.mark.django_db


def test_export_writes_one_file_per_section_and_import_dry_run_prints_the_diff(demo_plant, tmp_path, capsys):
    call_command("config_export", str(tmp_path / "cfg"))
    tags_file = tmp_path / "cfg" / "tags.json"
    tags = json.loads(tags_file.read_text())
    tags[0]["description"] = "edited in git"
    tags_file.write_text(json.dumps(tags))
    capsys.readouterr()

    call_command("config_import", str(tmp_path / "cfg"), "--dry-run")

    out = capsys.readouterr().out
    assert f"~ tags {tags[0]['name']} description:" in out and "'edited in git'" in out
    assert "tags: 1 changed (dry run)" in out
    assert Tag.objects.get(name=tags[0]["name"]).description != "edited in git"


def test_import_applies_the_directory(demo_plant, tmp_path, capsys):
    call_command("config_export", str(tmp_path / "cfg"))
    tags_file = tmp_path / "cfg" / "tags.json"
    tags = json.loads(tags_file.read_text())
    tags[0]["description"] = "edited in git"
    tags_file.write_text(json.dumps(tags))

    call_command("config_import", str(tmp_path / "cfg"))

    assert Tag.objects.get(name=tags[0]["name"]).description == "edited in git"
    assert "(applied)" in capsys.readouterr().out


def test_import_of_a_bad_bundle_lists_the_problem_with_its_file_and_fails(demo_plant, tmp_path, capsys):
    call_command("config_export", str(tmp_path / "cfg.json"))
    bundle = json.loads((tmp_path / "cfg.json").read_text())
    bundle["sections"]["tags"][0]["datatype"] = "COMPLEX"
    (tmp_path / "cfg.json").write_text(json.dumps(bundle))

    with pytest.raises(CommandError, match="Bundle refused, nothing changed"):
        call_command("config_import", str(tmp_path / "cfg.json"))

    assert f"tags.json: {bundle['sections']['tags'][0]['name']}: datatype" in capsys.readouterr().err


def test_export_then_import_of_the_same_directory_says_no_changes(demo_plant, tmp_path, capsys):
    call_command("config_export", str(tmp_path / "cfg"))
    call_command("config_import", str(tmp_path / "cfg"))
    assert "no changes (nothing to apply)" in capsys.readouterr().out
