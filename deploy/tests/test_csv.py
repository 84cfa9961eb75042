"""CSV bulk editing of tags, bindings and alarm definitions: export, edit, dry-run diff, import, all audited."""

import csv
import io

import pytest
from django.core.management import call_command

from accounts.models import AuditRecord
from alarms.models import AlarmDefinition
from conftest import client_for
from deploy.csvbulk import csv_export, csv_import
from drivers.models import TagBinding
from scada.errors import BadRequest, NotFound, Unprocessable
from tags.models import Tag

pytestmark = pytest.mark.django_db


def _table(text):
    return list(csv.DictReader(io.StringIO(text)))


def _write(rows, columns):
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue()


def test_the_tags_csv_has_one_row_per_tag_with_every_field(demo_plant):
    rows = _table(csv_export(section="tags"))
    assert len(rows) == Tag.objects.count()
    assert list(rows[0]) == ["name", "machine", "member", "datatype", "description", "unit", "decimals", "min_value",
                             "max_value", "deadband", "is_writable", "is_active", "write_role", "requires_signature"]


def test_an_unedited_csv_imports_as_no_changes(demo_plant):
    for section in ("tags", "bindings", "alarm_definitions"):
        assert csv_import(section=section, text=csv_export(section=section), user=None)["changes"] == 0


def test_a_csv_of_two_columns_edits_only_those_fields(demo_plant, admin_user):
    tag = Tag.objects.order_by("name").first()
    text = _write([{"name": tag.name, "description": "from the spreadsheet"}], ["name", "description"])

    diff = csv_import(section="tags", text=text, user=admin_user, dry_run=True)
    assert diff["sections"]["tags"]["changed"] == [{"key": tag.name, "fields": {"description": {
        "old": tag.description, "new": "from the spreadsheet"}}}]
    tag.refresh_from_db()
    assert tag.description != "from the spreadsheet"

    result = csv_import(section="tags", text=text, user=admin_user)

    tag.refresh_from_db()
    assert result["applied"] and tag.description == "from the spreadsheet"
    assert AuditRecord.objects.filter(action="config.change", object_id=tag.name).exists()
    assert Tag.objects.count() > 1  # the other tags had no row and stay


def test_new_rows_add_tags_with_defaults_for_missing_columns(demo_plant):
    machine = Tag.objects.first().machine.machine_id
    text = _write([{"name": f"Bulk_{i}", "machine": machine, "datatype": "REAL", "max_value": "100"}
                   for i in range(50)], ["name", "machine", "datatype", "max_value"])

    result = csv_import(section="tags", text=text, user=None)

    assert len(result["sections"]["tags"]["added"]) == 50
    tag = Tag.objects.get(name="Bulk_7")
    assert tag.max_value == 100.0 and tag.min_value is None and tag.write_role == 20 and tag.is_active


def test_remove_missing_removes_the_alarm_definitions_without_a_row(demo_plant):
    rows = _table(csv_export(section="alarm_definitions"))
    kept = rows[:1]

    result = csv_import(section="alarm_definitions", text=_write(kept, list(rows[0])), user=None,
                        remove_missing=True)

    assert sorted(result["sections"]["alarm_definitions"]["removed"]) == sorted(r["key"] for r in rows[1:])
    assert list(AlarmDefinition.objects.values_list("key", flat=True)) == [kept[0]["key"]]


def test_a_bad_cell_is_a_422_naming_the_row_and_nothing_changes(demo_plant):
    rows = _table(csv_export(section="bindings"))
    rows[0]["address"] = "forty"
    rows[1]["scan_period"] = "1000"
    rows[1]["table"] = "holding"

    with pytest.raises(Unprocessable) as exc:
        csv_import(section="bindings", text=_write(rows, list(rows[0])), user=None)

    assert exc.value.extra["problems"][0]["key"] == f"row 2 ({rows[0]['tag']})"
    assert exc.value.extra["problems"][0]["problem"] == "address: must be a number"
    assert TagBinding.objects.count() == len(rows)


def test_a_formula_guarded_on_export_comes_back_as_the_text_it_was(demo_plant):
    tag = Tag.objects.order_by("name").first()
    tag.description = "=1+2 is not a formula"
    tag.save()
    text = csv_export(section="tags")
    assert "'=1+2 is not a formula" in text

    assert csv_import(section="tags", text=text, user=None)["changes"] == 0


@pytest.mark.parametrize("text", ["", "nope\n1\n", "description\nx\n", "name,name\nA,B\n", "a\x00b"])
def test_a_csv_that_cannot_be_read_as_tags_is_a_400(demo_plant, text):
    with pytest.raises(BadRequest):
        csv_import(section="tags", text=text, user=None)


def test_sections_without_csv_are_a_404(demo_plant):
    with pytest.raises(NotFound, match="CSV bulk editing covers tags, bindings, alarm_definitions"):
        csv_export(section="screens")


def test_an_engineer_exports_and_dry_runs_a_csv_over_the_api(demo_plant, engineer):
    client = client_for(engineer)
    response = client.get("/api/config/csv/tags")
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    rows = _table(response.content.decode())
    rows[0]["unit"] = "bar"

    diff = client.post("/api/config/csv/tags", {"csv": _write(rows, list(rows[0])), "dry_run": True},
                       format="json")

    assert diff.status_code == 200 and diff.json()["detail"] == "tags: 1 changed"


def test_an_operator_may_not_use_the_csv(demo_plant, operator):
    assert client_for(operator).get("/api/config/csv/tags").status_code == 403


def test_the_csv_command_exports_and_dry_runs(demo_plant, tmp_path, capsys):
    path = tmp_path / "tags.csv"
    call_command("config_csv", "export", "tags", str(path))
    rows = _table(path.read_text())
    rows[0]["unit"] = "psi"
    path.write_text(_write(rows, list(rows[0])))

    call_command("config_csv", "import", "tags", str(path), "--dry-run")

    out = capsys.readouterr().out
    assert f"~ {rows[0]['name']} unit:" in out and "tags: 1 changed (not applied)" in out
