"""Tag API (seeds 000 and 003): shapes, filters, errors and CRUD over HTTP (writes: test_api_writes.py)."""


import pytest

from accounts.models import AuditRecord
from scada.roles import Role
from tags.live import live_get_many
from tags.models import Machine, Tag

pytestmark = pytest.mark.django_db

LIST_KEYS = {"machine_id", "name", "datatype", "value", "timestamp", "description", "unit", "quality", "substatus",
             "is_writable", "is_active"}
DETAIL_KEYS = {"machine_id", "name", "datatype", "value", "value_text", "timestamp", "description", "unit",
               "decimals", "min_value", "max_value", "quality", "substatus", "is_writable", "is_active",
               "write_role", "requires_signature", "deadband", "member", "last_write_by", "last_write_at",
               "write_count", "created_at", "updated_at"}


# --- list -------------------------------------------------------------------------------------------------------

def test_it_lists_tags_with_live_values_as_a_json_list(operator_client, temp_sensor, make_tag, set_live):
    motor = make_tag("Motor_Running", datatype="BOOL", description="Motor running status", is_writable=True)
    set_live(temp_sensor, 85.7, ts=1724668215.0)
    set_live(motor, True)
    r = operator_client.get("/api/tags")
    assert r.status_code == 200
    body = r.json()
    assert isinstance(body, list) and [t["name"] for t in body] == ["Motor_Running", "Temperature_Sensor_01"]
    assert set(body[1]) == LIST_KEYS
    assert body[1] | {} == {
        "machine_id": "machine_001", "name": "Temperature_Sensor_01", "datatype": "REAL", "value": 85.7,
        "timestamp": "2024-08-26T10:30:15Z", "description": "Main reactor temperature sensor", "unit": "°C",
        "quality": "GOOD", "substatus": None, "is_writable": False, "is_active": True,
    }
    assert body[0]["value"] is True


def test_it_keeps_the_list_item_shape_and_its_schema_serializer_in_step():
    from tags.api.serializers import TagListItemSerializer

    assert set(TagListItemSerializer().fields) == LIST_KEYS | {"decimals", "value_text"}  # these two: formatted=true


def test_it_leaves_values_out_when_asked(operator_client, temp_sensor, set_live):
    set_live(temp_sensor, 85.7)
    item = operator_client.get("/api/tags?include_values=false").json()[0]
    assert "value" not in item and "quality" not in item and item["name"] == "Temperature_Sensor_01"


def test_it_shows_null_values_for_tags_never_written(operator_client, temp_sensor):
    item = operator_client.get("/api/tags").json()[0]
    assert (item["value"], item["timestamp"], item["quality"]) == (None, None, None)


def test_it_filters_by_machine_datatype_writable_and_search(operator_client, make_tag, site):
    other = Machine.objects.create(machine_id="machine_002", site=site)
    make_tag("A_Real", description="reactor jacket")
    make_tag("B_Bool", datatype="BOOL", is_writable=True)
    make_tag("C_Int", datatype="INT", machine=other)

    def names(qs):
        r = operator_client.get(f"/api/tags?{qs}")
        assert r.status_code == 200, r.content
        return [t["name"] for t in r.json()]

    assert names("machine_id=machine_002") == ["C_Int"]
    assert names("datatype=BOOL") == ["B_Bool"]
    assert names("datatype=int") == ["C_Int"]
    assert names("writable_only=true") == ["B_Bool"]
    assert names("search=JACKET") == ["A_Real"]
    assert names("search=c_i") == ["C_Int"]


def test_it_shows_only_active_tags_unless_asked(operator_client, make_tag):
    make_tag("Live_Tag")
    make_tag("Retired_Tag", is_active=False)
    assert [t["name"] for t in operator_client.get("/api/tags").json()] == ["Live_Tag"]
    assert len(operator_client.get("/api/tags?active_only=false").json()) == 2


def test_it_filters_by_live_quality(operator_client, make_tag, set_live):
    good, bad, _never = make_tag("G"), make_tag("B"), make_tag("N")
    set_live(good, 1.0)
    set_live(bad, 0.0, quality="BAD", substatus="comm_failure")
    assert [t["name"] for t in operator_client.get("/api/tags?quality=BAD").json()] == ["B"]
    assert operator_client.get("/api/tags?quality=BAD").json()[0]["substatus"] == "comm_failure"
    assert [t["name"] for t in operator_client.get("/api/tags?quality=good").json()] == ["G"]
    assert [t["name"] for t in operator_client.get("/api/tags?quality=NULL").json()] == ["N"]


def test_it_pages_with_limit_and_offset(operator_client, make_tag):
    for i in range(5):
        make_tag(f"T{i}")
    assert [t["name"] for t in operator_client.get("/api/tags?limit=2&offset=1").json()] == ["T1", "T2"]
    assert operator_client.get("/api/tags?offset=10").json() == []


@pytest.mark.parametrize(("qs", "detail"), [
    ("datatype=INVALID", "Invalid datatype: 'INVALID' not in ['BOOL', 'INT', 'REAL', 'STRING']"),
    ("limit=1001", "limit must be between 1 and 1000"),
    ("limit=0", "limit must be between 1 and 1000"),
    ("limit=ten", "limit and offset must be integers"),
    ("offset=-1", "offset must be 0 or more"),
    ("active_only=maybe", "active_only must be true or false, not 'maybe'"),
    ("include_values=2", "include_values must be true or false, not '2'"),
    ("quality=SHINY", "Invalid quality: 'SHINY' not in ['GOOD', 'UNCERTAIN', 'BAD']"),
])
def test_it_answers_400_for_bad_list_parameters(operator_client, qs, detail):
    r = operator_client.get(f"/api/tags?{qs}")
    assert r.status_code == 400 and r.json() == {"detail": detail}


def test_it_lists_with_a_constant_number_of_queries(operator_client, make_tag, set_live, django_assert_num_queries):
    for i in range(30):
        set_live(make_tag(f"Q{i:02d}"), float(i))
    # One SQL query for the page, whatever its size; authentication costs none.
    with django_assert_num_queries(1):
        assert len(operator_client.get("/api/tags?limit=5").json()) == 5
    with django_assert_num_queries(1):
        assert len(operator_client.get("/api/tags?limit=1000").json()) == 30
    with django_assert_num_queries(2):  # a quality filter reads the ids first, then the page
        assert len(operator_client.get("/api/tags?quality=GOOD&limit=1000").json()) == 30


def test_it_serves_a_repeated_list_page_without_sql_and_with_fresh_values(operator_client, make_tag, set_live,
                                                                         django_assert_num_queries):
    tags = [make_tag(f"Q{i:02d}") for i in range(3)]
    for tag in tags:
        set_live(tag, 1.0)
    with django_assert_num_queries(1):
        operator_client.get("/api/tags?limit=2")
    set_live(tags[0], 99.5)  # values are never cached, only configuration rows
    with django_assert_num_queries(0):
        body = operator_client.get("/api/tags?limit=2").json()
    assert [(t["name"], t["value"]) for t in body] == [("Q00", 99.5), ("Q01", 1.0)]
    with django_assert_num_queries(1):  # another page or filter is another cache entry
        assert [t["name"] for t in operator_client.get("/api/tags?limit=2&offset=1").json()] == ["Q01", "Q02"]


def test_it_lists_a_configuration_change_at_once_however_it_was_made(operator_client, engineer_client, make_tag,
                                                                    machine):
    tag = make_tag("Q00", description="before")
    assert operator_client.get("/api/tags").json()[0]["description"] == "before"
    # Through the API (the service announces the change)...
    assert engineer_client.put("/api/tags/Q00", {"description": "via API"}, format="json").status_code == 200
    assert operator_client.get("/api/tags").json()[0]["description"] == "via API"
    # ...through a plain save (admin, shell: the save signal announces it)...
    tag.refresh_from_db()
    tag.description = "via save"
    tag.save()
    assert operator_client.get("/api/tags").json()[0]["description"] == "via save"
    # ...and a renamed machine, which changes every one of its tags' machine_id.
    machine.machine_id = "machine_renamed"
    machine.save()
    assert operator_client.get("/api/tags").json()[0]["machine_id"] == "machine_renamed"
    tag.delete()
    assert operator_client.get("/api/tags").json() == []


def test_it_bounds_the_list_page_cache_by_rows_dropping_the_least_recently_used():
    from tags.selectors import _ListPages

    pages = _ListPages()
    pages.max_rows = 10
    pages.put(b"v1", "a", [(1,)] * 4)
    pages.put(b"v1", "b", [(2,)] * 4)
    assert pages.get("a")[1] is not None  # "a" is now the most recently used
    pages.put(b"v1", "c", [(3,)] * 4)  # 12 rows > 10: the least recently used page ("b") goes
    assert pages.get("b") == (b"v1", None) and pages.rows == 8
    pages.put(b"v1", "big", [(4,)] * 50)  # a page above the budget on its own is still kept, alone
    assert list(pages.pages) == ["big"] and pages.rows == 50
    pages.put(b"v2", "a", [(1,)])  # a new version drops everything else
    assert list(pages.pages) == ["a"] and pages.rows == 1 and pages.version == b"v2"


def test_it_rereads_the_list_when_another_process_changed_the_configuration(operator_client, make_tag,
                                                                           django_assert_num_queries):
    from scada.redis import get_redis
    from tags.values import CONFIG_VERSION_KEY

    make_tag("Q00")
    operator_client.get("/api/tags")
    get_redis().set(CONFIG_VERSION_KEY, "set-by-another-process")
    with django_assert_num_queries(1):
        operator_client.get("/api/tags")
    get_redis().delete(CONFIG_VERSION_KEY)  # Redis restarted or flushed: the version is gone, the cache too
    with django_assert_num_queries(1):
        operator_client.get("/api/tags")
    with django_assert_num_queries(0):
        operator_client.get("/api/tags")


# --- detail, create, update, delete ------------------------------------------------------------------------------

def test_it_gets_one_tag_by_name_and_by_machine_and_name(operator_client, temp_sensor, set_live):
    set_live(temp_sensor, 85.7, ts=1724668215.0)
    by_name = operator_client.get("/api/tags/Temperature_Sensor_01").json()
    by_machine = operator_client.get("/api/tags/machine_001/Temperature_Sensor_01").json()
    assert by_name == by_machine
    assert set(by_name) == DETAIL_KEYS
    assert (by_name["value"], by_name["min_value"], by_name["max_value"], by_name["write_role"]) == (
        85.7, 0.0, 150.0, "supervisor")
    assert by_name["created_at"].endswith("Z") and by_name["last_write_at"] is None and by_name["write_count"] == 0


def test_it_finds_device_member_tags_by_member_name_and_dotted_name(operator_client, pump_type, site):
    from tags.services import machine_create_from_type

    machine_create_from_type(machine_id="pump-01", device_type=pump_type, site=site)
    assert operator_client.get("/api/tags/pump-01.Speed").json()["unit"] == "rpm"
    assert operator_client.get("/api/tags/pump-01/Speed").json()["name"] == "pump-01.Speed"
    assert operator_client.get("/api/tags/pump-01/pump-01.Speed").json()["member"] == "Speed"


def test_it_answers_the_seeds_404_texts(operator_client, machine):
    r = operator_client.get("/api/tags/machine_001/NonExistent_Tag")
    assert r.status_code == 404 and r.json() == {"detail": "Tag 'NonExistent_Tag' not found on machine 'machine_001'"}
    r = operator_client.get("/api/tags/NonExistent_Tag")
    assert r.status_code == 404 and r.json() == {"detail": "Tag 'NonExistent_Tag' not found"}


def test_it_does_not_find_a_tag_under_another_machine(operator_client, temp_sensor, site):
    Machine.objects.create(machine_id="machine_002", site=site)
    assert operator_client.get("/api/tags/machine_002/Temperature_Sensor_01").status_code == 404


def test_it_creates_a_tag_as_the_seed_shows(engineer_client, machine):
    r = engineer_client.post("/api/tags", {
        "machine_id": "machine_001", "name": "Pressure_Sensor_02", "datatype": "REAL",
        "description": "Secondary pressure measurement", "unit": "bar", "min_value": 0, "max_value": 10,
        "is_writable": False}, format="json")
    assert r.status_code == 201, r.content
    body = r.json()
    assert set(body) == DETAIL_KEYS
    assert body | {} == body and (body["value"], body["quality"], body["timestamp"]) == (None, None, None)
    assert (body["is_active"], body["write_count"], body["last_write_by"]) == (True, 0, None)
    record = AuditRecord.objects.get(action="tag.create")
    assert record.object_id == "Pressure_Sensor_02" and record.username == "erin"
    assert record.new_value["unit"] == "bar"


def test_it_creates_the_machine_of_a_new_tag_when_needed(engineer_client, db):
    r = engineer_client.post("/api/tags", {"machine_id": "line-9", "name": "Line9_Speed", "datatype": "INT"},
                             format="json")
    assert r.status_code == 201, r.content
    assert Machine.objects.filter(machine_id="line-9").exists()
    assert AuditRecord.objects.filter(action="machine.create", object_id="line-9").exists()


def test_it_answers_400_for_an_invalid_datatype_with_the_seed_text(engineer_client, machine):
    r = engineer_client.post("/api/tags", {"machine_id": "machine_001", "name": "X1", "datatype": "INVALID"},
                             format="json")
    assert r.status_code == 400
    assert r.json() == {"detail": "Invalid datatype: 'INVALID' not in ['BOOL', 'INT', 'REAL', 'STRING']"}
    assert not Tag.objects.filter(name="X1").exists()


def test_it_refuses_limits_on_a_bool_or_string_tag(engineer_client, machine, make_tag):
    r = engineer_client.post("/api/tags", {"machine_id": "machine_001", "name": "Pump_On", "datatype": "BOOL",
                                           "max_value": 1}, format="json")
    assert r.status_code == 400
    assert r.json() == {"detail": "min_value: BOOL tags have no limits: min_value and max_value apply to INT and "
                                  "REAL tags"}
    assert not Tag.objects.filter(name="Pump_On").exists()
    make_tag("Batch_Id", datatype="STRING")
    r = engineer_client.put("/api/tags/Batch_Id", {"min_value": 0}, format="json")
    assert r.status_code == 400 and Tag.objects.get(name="Batch_Id").min_value is None


def test_it_answers_409_for_a_duplicate_name(engineer_client, temp_sensor):
    r = engineer_client.post("/api/tags", {"machine_id": "machine_001", "name": "Temperature_Sensor_01",
                                           "datatype": "REAL"}, format="json")
    assert r.status_code == 409 and r.json() == {"detail": "Tag 'Temperature_Sensor_01' already exists"}


@pytest.mark.parametrize(("body", "fragment"), [
    ({"name": "stats", "datatype": "REAL"}, "reserved"),
    ({"name": "Write", "datatype": "REAL"}, "reserved"),
    ({"name": "1bad", "datatype": "REAL"}, "name"),
    ({"name": "has space", "datatype": "REAL"}, "name"),
    ({"name": "Lim", "datatype": "REAL", "min_value": 10, "max_value": 5}, "min_value"),
    ({"name": "Role", "datatype": "REAL", "write_role": "overlord"}, "write_role"),
    ({"datatype": "REAL"}, "name"),
    ({"name": "NoType"}, "datatype"),
    ({"name": "Bad_Machine", "datatype": "REAL", "machine_id": "no spaces"}, "machine_id"),
])
def test_it_answers_400_for_bad_tag_definitions(engineer_client, machine, body, fragment):
    r = engineer_client.post("/api/tags", {"machine_id": "machine_001", **body}, format="json")
    assert r.status_code == 400, r.content
    assert fragment in r.json()["detail"]
    assert Tag.objects.count() == 0


def test_it_updates_configuration_and_audits_old_and_new(engineer_client, temp_sensor):
    r = engineer_client.put("/api/tags/machine_001/Temperature_Sensor_01", {
        "description": "Updated temperature sensor description", "unit": "°F", "min_value": 32, "max_value": 302,
        "is_writable": True, "is_active": True, "write_role": "operator"}, format="json")
    assert r.status_code == 200, r.content
    body = r.json()
    assert (body["unit"], body["min_value"], body["max_value"], body["is_writable"], body["write_role"]) == (
        "°F", 32.0, 302.0, True, "operator")
    temp_sensor.refresh_from_db()
    assert temp_sensor.write_role == Role.OPERATOR and temp_sensor.max_value == 302
    record = AuditRecord.objects.get(action="tag.update")
    assert record.old_value["unit"] == "°C" and record.new_value["unit"] == "°F"
    assert "datatype" not in record.new_value


def test_it_refuses_to_change_a_tags_identity(engineer_client, temp_sensor):
    r = engineer_client.put("/api/tags/Temperature_Sensor_01", {"datatype": "BOOL"}, format="json")
    assert r.status_code == 400 and "datatype cannot be changed" in r.json()["detail"]
    r = engineer_client.put("/api/tags/Temperature_Sensor_01", {"name": "Other"}, format="json")
    assert r.status_code == 400
    r = engineer_client.put("/api/tags/Temperature_Sensor_01", {"name": "Temperature_Sensor_01", "unit": "K"},
                            format="json")
    assert r.status_code == 200 and r.json()["unit"] == "K"


def test_it_refuses_a_value_or_unknown_field_in_a_configuration_update_and_changes_nothing(engineer_client,
                                                                                           temp_sensor, set_live):
    # Seed 003: PUT /tags/{machine_id}/{name} updates "metadata, limits, or settings (not the value)". A value
    # there used to be dropped silently with a 200, so the caller believed the tag had been written.
    set_live(temp_sensor, 85.7)
    r = engineer_client.put("/api/tags/machine_001/Temperature_Sensor_01", {"value": 5, "unit": "K"}, format="json")
    assert r.status_code == 400, r.content
    assert r.json()["detail"] == "Unknown or read-only fields: value"
    r = engineer_client.put("/api/tags/Temperature_Sensor_01", {"max_val": 10}, format="json")
    assert r.status_code == 400 and r.json()["detail"] == "Unknown or read-only fields: max_val"
    temp_sensor.refresh_from_db()
    assert (temp_sensor.unit, temp_sensor.max_value) == ("°C", 150)
    assert live_get_many([temp_sensor.pk])[temp_sensor.pk].value == 85.7
    assert not AuditRecord.objects.filter(action__startswith="tag.").exists()


def test_it_refuses_unknown_fields_when_creating_a_tag(engineer_client, machine):
    r = engineer_client.post("/api/tags", {"machine_id": "machine_001", "name": "Pressure_Sensor_02",
                                           "datatype": "REAL", "value": 3.2}, format="json")
    assert r.status_code == 400 and r.json()["detail"] == "Unknown or read-only fields: value"
    assert not Tag.objects.exists()


def test_it_refuses_unknown_fields_in_a_write_and_writes_nothing(supervisor_client, setpoint):
    r = supervisor_client.put("/api/tags/machine_001/Setpoint_Temperature/write", {"value": 90.0, "qualty": "BAD"},
                              format="json")
    assert r.status_code == 400 and r.json()["detail"] == "Unknown or read-only fields: qualty"
    setpoint.refresh_from_db()
    assert setpoint.write_count == 0 and live_get_many([setpoint.pk])[setpoint.pk] is None


def test_it_refuses_limits_in_the_wrong_order_on_update(engineer_client, temp_sensor):
    r = engineer_client.put("/api/tags/Temperature_Sensor_01", {"min_value": 200}, format="json")
    assert r.status_code == 400
    temp_sensor.refresh_from_db()
    assert temp_sensor.min_value == 0
    assert not AuditRecord.objects.filter(action="tag.update").exists()


def test_it_deletes_a_tag_with_the_seed_response(admin_client, temp_sensor, set_live):
    set_live(temp_sensor, 1.0)
    tag_id = temp_sensor.pk
    r = admin_client.delete("/api/tags/machine_001/Temperature_Sensor_01")
    assert r.status_code == 200
    body = r.json()
    assert body["message"] == "Tag deleted successfully"
    assert body["deleted_tag"] == {"machine_id": "machine_001", "name": "Temperature_Sensor_01"}
    assert body["deleted_at"].endswith("Z")
    assert not Tag.objects.filter(pk=tag_id).exists()
    assert AuditRecord.objects.get(action="tag.delete").old_value["name"] == "Temperature_Sensor_01"


@pytest.mark.django_db(transaction=True)
def test_it_drops_the_live_value_of_a_deleted_tag_once_committed(admin_user, machine, set_live):
    from conftest import client_for

    tag = Tag.objects.create(machine=machine, name="Gone", datatype="REAL")
    set_live(tag, 1.0)
    assert client_for(admin_user).delete("/api/tags/Gone").status_code == 200
    assert live_get_many([tag.pk])[tag.pk] is None
