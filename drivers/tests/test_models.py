"""Address validation (model clean and Django admin) and the audit and config version of admin edits."""

import pytest
from django.core.exceptions import ValidationError

from accounts.models import AuditRecord
from drivers.models import Connection, TagBinding
from drivers.runtime import config_version

pytestmark = pytest.mark.django_db


def binding(tag, conn, **kw):
    kw.setdefault("table", "holding")
    kw.setdefault("address", 0)
    kw.setdefault("data_type", "uint16")
    return TagBinding(tag=tag, connection=conn, **kw)


def messages(exc):
    return " ".join(m for ms in exc.value.message_dict.values() for m in ms)


def test_it_refuses_an_address_range_that_overlaps_another_tag(make_tag, make_connection, bind):
    conn = make_connection()
    bind(make_tag("Flow"), conn, address=100, data_type="float32")  # 100–101
    with pytest.raises(ValidationError) as exc:
        binding(make_tag("Level"), conn, address=101).full_clean()
    assert "Holding register (4x) registers 101–101 overlap tag 'Flow' (100–101) on connection 'plc-5020'" \
        in messages(exc)


def test_it_allows_the_same_address_in_another_table_or_connection(make_tag, make_connection, bind):
    conn, other = make_connection(), make_connection(port=5021)
    bind(make_tag("A"), conn, address=0)
    binding(make_tag("B"), conn, table="input", address=0).full_clean()
    binding(make_tag("C"), other, address=0).full_clean()


def test_it_refuses_a_range_past_the_end_of_the_table(make_tag, make_connection):
    with pytest.raises(ValidationError) as exc:
        binding(make_tag("Big"), make_connection(), address=65534, data_type="float64").full_clean()
    assert "Addresses 65534–65537 (4 registers) exceed the Holding register (4x) table (0–65535)." in messages(exc)


def test_it_requires_bool_in_bit_tables(make_tag, make_connection):
    with pytest.raises(ValidationError) as exc:
        binding(make_tag("Coil"), make_connection(), table="coil", data_type="uint16").full_clean()
    assert "holds single bits: use data type bool" in messages(exc)


def test_it_requires_a_string_length_only_for_strings(make_tag, make_connection):
    conn = make_connection()
    with pytest.raises(ValidationError) as exc:
        binding(make_tag("Text", "STRING"), conn, data_type="string").full_clean()
    assert "needs its length in registers" in messages(exc)
    with pytest.raises(ValidationError) as exc:
        binding(make_tag("Num"), conn, string_length=4).full_clean()
    assert "Only string tags have a length" in messages(exc)


def test_it_requires_all_four_scaling_points_and_distinct_ends(make_tag, make_connection):
    conn = make_connection()
    with pytest.raises(ValidationError) as exc:
        binding(make_tag("S1"), conn, raw_low=0, raw_high=100).full_clean()
    assert "all four" in messages(exc)
    with pytest.raises(ValidationError) as exc:
        binding(make_tag("S2"), conn, raw_low=5, raw_high=5, eu_low=0, eu_high=1).full_clean()
    assert "raw high must differ from raw low" in messages(exc)


def test_it_matches_the_data_type_to_the_tag(make_tag, make_connection):
    with pytest.raises(ValidationError) as exc:
        binding(make_tag("Flag", "BOOL"), make_connection(), data_type="float32").full_clean()
    assert "Tag 'Flag' is BOOL: use data type bool." in messages(exc)


def test_it_refuses_a_writable_tag_on_a_read_only_table(make_tag, make_connection):
    with pytest.raises(ValidationError) as exc:
        binding(make_tag("SP", is_writable=True), make_connection(), table="input").full_clean()
    assert "is writable but Input register (3x) is read-only" in messages(exc)


def test_it_validates_connection_ranges(db):
    with pytest.raises(ValidationError) as exc:
        Connection(name="bad", host="10.0.0.1", port=70000, unit_id=300, timeout=0).full_clean()
    assert set(exc.value.message_dict) == {"port", "unit_id", "timeout"}


def _binding_form(conn_pk, tag_pk, **kw):
    data = {"tag": tag_pk, "connection": conn_pk, "scan_period": 1000, "table": "holding", "address": 0,
            "data_type": "uint16", "word_order": "big", "byte_order": "big"}
    data.update(kw)
    return data


def test_it_shows_the_overlap_error_in_the_admin_and_saves_nothing(client, engineer, make_tag, make_connection, bind):
    conn = make_connection()
    bind(make_tag("Flow"), conn, address=10, data_type="float32")
    level = make_tag("Level")
    client.force_login(engineer)
    r = client.post("/admin/drivers/tagbinding/add/", _binding_form(conn.pk, level.pk, address=11))
    assert r.status_code == 200
    assert "overlap tag &#x27;Flow&#x27; (10–11)" in r.content.decode()
    assert not TagBinding.objects.filter(tag=level).exists()


def test_it_audits_an_admin_edit_and_moves_the_config_version(client, engineer, make_tag, make_connection,
                                                              django_capture_on_commit_callbacks):
    conn = make_connection()
    tag = make_tag("Level")
    client.force_login(engineer)
    before = config_version()
    with django_capture_on_commit_callbacks(execute=True):
        r = client.post("/admin/drivers/tagbinding/add/", _binding_form(conn.pk, tag.pk, address=7))
    assert r.status_code == 302, r.content.decode()[:2000]
    assert TagBinding.objects.get(tag=tag).address == 7
    assert AuditRecord.objects.filter(action="driver.tagbinding_create", username=engineer.username).count() == 1
    assert config_version() != before


def test_it_lets_an_engineer_but_not_an_operator_into_driver_admin(client, engineer, operator):
    client.force_login(operator)
    assert client.get("/admin/drivers/connection/").status_code == 302  # to the admin login
    client.force_login(engineer)
    assert client.get("/admin/drivers/connection/").status_code == 200


def test_it_refuses_two_new_admin_rows_that_overlap_each_other(client, engineer, make_tag, make_connection):
    conn = make_connection()
    a, b = make_tag("Flow"), make_tag("Level")
    client.force_login(engineer)
    form = {"name": conn.name, "protocol": "modbus_tcp", "host": conn.host, "port": conn.port, "unit_id": 1,
            "timeout": 1.0, "retries": 0, "backoff_cap": 30, "merge_gap": 8, "enabled": "on",
            "bindings-TOTAL_FORMS": 2, "bindings-INITIAL_FORMS": 0, "bindings-MIN_NUM_FORMS": 0,
            "bindings-MAX_NUM_FORMS": 1000}
    for i, (tag, address) in enumerate([(a, 10), (b, 11)]):
        form.update({f"bindings-{i}-tag": tag.pk, f"bindings-{i}-table": "holding", f"bindings-{i}-address": address,
                     f"bindings-{i}-data_type": "float32", f"bindings-{i}-word_order": "big",
                     f"bindings-{i}-byte_order": "big", f"bindings-{i}-scan_period": 1000})
    r = client.post(f"/admin/drivers/connection/{conn.pk}/change/", form)
    assert r.status_code == 200
    assert "&#x27;Flow&#x27; (holding 10–11) and &#x27;Level&#x27; (holding 11–12) overlap." in r.content.decode()
    assert not TagBinding.objects.exists()


def test_it_refuses_making_a_tag_writable_while_it_is_bound_to_a_read_only_table(make_tag, make_connection, bind,
                                                                                 engineer_client):
    tag = make_tag("Level")
    bind(tag, make_connection(), table="input", address=7, data_type="uint16")
    r = engineer_client.put(f"/api/tags/{tag.name}", {"is_writable": True}, format="json")
    assert r.status_code == 400
    assert r.json() == {"detail": "is_writable: Tag 'Level' is bound to read-only plc-5020 Input register (3x) 7: "
                                  "bind it to a coil or a holding register before making it writable."}
    tag.refresh_from_db()
    assert tag.is_writable is False and not AuditRecord.objects.filter(action="tag.update").exists()


def test_it_lets_a_bound_tag_become_writable_on_a_holding_register(make_tag, make_connection, bind,
                                                                    engineer_client):
    tag = make_tag("Setpoint")
    bind(tag, make_connection(), table="holding", address=7, data_type="float32")
    assert engineer_client.put(f"/api/tags/{tag.name}", {"is_writable": True}, format="json").status_code == 200


def test_it_refuses_a_datatype_the_binding_cannot_carry(make_tag, make_connection, bind):
    """Admin can edit a tag's datatype; the binding must still decode it."""
    tag = make_tag("Flow")
    bind(tag, make_connection(), table="holding", address=0, data_type="float32")
    tag.datatype = "BOOL"
    with pytest.raises(ValidationError) as exc:
        tag.full_clean()
    assert list(exc.value.message_dict) == ["datatype"]
    assert "bound to plc-5020 Holding register (4x) 0 as float32, which cannot carry BOOL" in messages(exc)
