"""Seed 004 commands: roles, parameters (400/422), preconditions on live values (409), actions through the tag
write service, and the audit record behind `auditId`."""

import threading

import pytest
from django.db import connection

from accounts.models import AuditRecord
from devices.services import command_definition_problems, device_command_execute
from devices.tests.conftest import BASE, error_of
from scada.roles import Role
from tags.live import live_get_many
from tags.models import DeviceCommand, Tag

pytestmark = pytest.mark.django_db

CMD = f"{BASE}/pump-01/commands"


def live(name):
    tag = Tag.objects.get(name=name)
    lv = live_get_many([tag.pk])[tag.pk]
    return lv.value if lv else None


def post(client, command, body=None):
    return client.post(f"{CMD}/{command}", body if body is not None else {}, format="json")


# --- executed --------------------------------------------------------------------------------------------


def test_it_executes_a_command_whose_preconditions_hold(operator_client, pump1, record):
    record(pump1, Running=False, Faulted=False)
    r = post(operator_client, "start")
    assert r.status_code == 200, r.content
    body = r.json()
    assert set(body) == {"commandId", "deviceId", "status", "executedBy", "executedAt", "auditId"}
    assert body["commandId"] == "start" and body["deviceId"] == "pump-01" and body["status"] == "executed"
    assert body["executedBy"] == "olivia" and body["executedAt"].endswith("Z")
    assert live("pump-01.StartCmd") is True  # the action ran


def test_it_returns_an_audit_id_that_the_audit_api_returns(operator_client, admin_client, pump1, record):
    record(pump1, Running=False, Faulted=False)
    audit_id = post(operator_client, "start").json()["auditId"]
    r = admin_client.get(f"/api/audit/{audit_id}")
    assert r.status_code == 200, r.content
    audit = r.json()
    assert audit["action"] == "device.command" and audit["username"] == "olivia"
    assert audit["object_type"] == "machine" and audit["object_id"] == "pump-01"
    assert audit["new_value"]["command"] == "start" and audit["new_value"]["status"] == "executed"
    assert [c["result"] for c in audit["new_value"]["preconditions"]] == [True, True]
    write = audit["new_value"]["writes"][0]
    assert write["tag"] == "pump-01.StartCmd" and write["value"] is True
    # Each action is a tag write with its own audit record, marked as coming from the command.
    tag_audit = AuditRecord.objects.get(pk=int(write["auditId"]))
    assert tag_audit.action == "tag.write" and tag_audit.new_value["source"] == "command"
    assert tag_audit.reason == "command start"


def test_it_writes_parameter_values_through_the_actions(operator_client, pump1, record):
    record(pump1, Faulted=False, SpeedSetpoint=1500.0)
    r = post(operator_client, "set_speed", {"parameters": {"speed": 1600.0}})
    assert r.status_code == 200, r.content
    assert live("pump-01.SpeedSetpoint") == 1600.0
    audit = AuditRecord.objects.get(pk=int(r.json()["auditId"]))
    assert audit.new_value["parameters"] == {"speed": 1600.0}
    assert audit.new_value["writes"][0]["previous"] == 1500.0


def test_it_accepts_an_integer_for_a_real_parameter(operator_client, pump1, record):
    record(pump1, Faulted=False)
    assert post(operator_client, "set_speed", {"parameters": {"speed": 1200}}).status_code == 200
    assert live("pump-01.SpeedSetpoint") == 1200.0


def test_it_acts_on_the_right_device_only(operator_client, pump1, pump2, record):
    record(pump1, Running=False, Faulted=False)
    record(pump2, Running=False, Faulted=False)
    assert post(operator_client, "start").status_code == 200
    assert live("pump-01.StartCmd") is True and live("pump-02.StartCmd") is None


def test_it_writes_to_the_plc_when_a_driver_feeds_the_target(operator_client, pump1, record, plc_router):
    record(pump1, Running=False, Faulted=False)
    router = plc_router([Tag.objects.get(name="pump-01.StartCmd")])
    assert post(operator_client, "start").status_code == 200
    assert router.writes == [("pump-01.StartCmd", True)]


# --- preconditions ---------------------------------------------------------------------------------------


def test_it_refuses_with_409_listing_the_failed_precondition(operator_client, pump1, record):
    record(pump1, Running=True, Faulted=False)
    err = error_of(post(operator_client, "start"), 409)
    assert err == {
        "code": "PRECONDITION_FAILED",
        "message": "Command preconditions not met",
        "details": [{"condition": "!{tags.Running}", "result": False, "reason": "Pump is already running"}],
    }
    assert live("pump-01.StartCmd") is None  # nothing written
    assert Tag.objects.get(name="pump-01.StartCmd").write_count == 0


def test_it_lists_every_failed_precondition(operator_client, pump1, record):
    record(pump1, Running=True, Faulted=True)
    details = error_of(post(operator_client, "start"), 409)["details"]
    assert details == [
        {"condition": "!{tags.Running}", "result": False, "reason": "Pump is already running"},
        {"condition": "!{tags.Faulted}", "result": False, "reason": "Pump is faulted"},
    ]


def test_it_audits_a_refused_command(operator_client, pump1, record):
    record(pump1, Running=True, Faulted=False)
    post(operator_client, "start")
    audit = AuditRecord.objects.get(action="device.command")
    assert audit.new_value["status"] == "rejected" and audit.new_value["writes"] == []
    assert [c["result"] for c in audit.new_value["preconditions"]] == [False, True]
    assert not AuditRecord.objects.filter(action="tag.write").exists()


def test_it_fails_a_precondition_on_a_tag_without_a_value(operator_client, pump1, record):
    record(pump1, Faulted=False)  # Running never had a value
    details = error_of(post(operator_client, "start"), 409)["details"]
    assert details == [{"condition": "!{tags.Running}", "result": False,
                        "reason": "Cannot evaluate: {tags.Running} has no value"}]


def test_it_fails_a_precondition_on_a_bad_quality_value(operator_client, pump1, record):
    record(pump1, Faulted=False)
    record(pump1, Running=False, quality="BAD", substatus="comm_failure")
    details = error_of(post(operator_client, "start"), 409)["details"]
    assert details == [{"condition": "!{tags.Running}", "result": False,
                        "reason": "Cannot evaluate: {tags.Running} has BAD quality (comm_failure)"}]


def test_it_fails_a_precondition_on_an_unknown_tag_even_behind_a_short_circuit(operator_client, pump1, record):
    DeviceCommand.objects.filter(command_id="stop").update(preconditions=[
        {"condition": "{tags.Running} || {tags.Ghost}", "reason": "Pump is not running"}])
    record(pump1, Running=True)
    details = error_of(post(operator_client, "stop"), 409)["details"]
    assert details == [{"condition": "{tags.Running} || {tags.Ghost}", "result": False,
                        "reason": "Cannot evaluate: Unknown tag 'Ghost' in {tags.Ghost}"}]


@pytest.mark.parametrize("condition", [
    "{tags.__class__}", "__import__('os').system('touch /tmp/kiln-pwned')", "{tags.Running}.__globals__",
    "(" * 200 + "true" + ")" * 200, "1e999 > 1", "{tags.Speed}", "x" * 5000,
])
def test_it_reports_a_hostile_or_broken_precondition_as_failed_never_a_crash(operator_client, pump1, record,
                                                                              condition):
    DeviceCommand.objects.filter(command_id="stop").update(preconditions=[{"condition": condition, "reason": "r"}])
    record(pump1, Running=True, Speed=10.0)
    details = error_of(post(operator_client, "stop"), 409)["details"]
    assert details[0]["result"] is False and details[0]["reason"].startswith("Cannot evaluate: ")
    assert live("pump-01.StopCmd") is None


def test_it_evaluates_preconditions_on_parameters_too(operator_client, pump1, record):
    DeviceCommand.objects.filter(command_id="set_speed").update(preconditions=[
        {"condition": "{params.speed} <= {tags.Speed} + 500", "reason": "Step too large"}])
    record(pump1, Speed=1000.0)
    assert error_of(post(operator_client, "set_speed", {"parameters": {"speed": 2000.0}}), 409)["details"][0][
        "reason"] == "Step too large"
    assert post(operator_client, "set_speed", {"parameters": {"speed": 1400.0}}).status_code == 200


# --- parameters ------------------------------------------------------------------------------------------


def test_it_answers_400_for_a_missing_parameter(operator_client, pump1, record):
    record(pump1, Faulted=False)
    err = error_of(post(operator_client, "set_speed", {}), 400)
    assert err["code"] == "INVALID_PARAMETERS"
    assert err["message"] == "Missing required parameter 'speed' for command 'set_speed'"
    assert err["details"] == [{"parameter": "speed", "message": err["message"]}]


def test_it_answers_400_for_an_unknown_parameter(operator_client, pump1, record):
    record(pump1, Faulted=False)
    err = error_of(post(operator_client, "set_speed", {"parameters": {"speed": 10.0, "turbo": True}}), 400)
    assert err["message"] == "Unknown parameter 'turbo' for command 'set_speed' (expected: speed)"


def test_it_answers_400_for_parameters_that_are_not_an_object(operator_client, pump1):
    err = error_of(post(operator_client, "set_speed", {"parameters": [1600]}), 400)
    assert err["message"] == "parameters must be an object of {name: value}"


@pytest.mark.parametrize(("value", "message"), [
    (5000.0, "Parameter 'speed' value 5000.0 exceeds maximum of 3000.0"),
    (-1, "Parameter 'speed' value -1.0 is below minimum of 0.0"),
    ("fast", "Parameter 'speed' must be a number, got 'fast'"),
    (True, "Parameter 'speed' must be a number, got True"),
    (None, "Parameter 'speed' must be a number, got None"),
])
def test_it_answers_422_for_a_parameter_out_of_range_or_of_the_wrong_type(operator_client, pump1, record, value,
                                                                           message):
    record(pump1, Faulted=False, SpeedSetpoint=1500.0)
    err = error_of(post(operator_client, "set_speed", {"parameters": {"speed": value}}), 422)
    assert err["code"] == "INVALID_PARAMETER_VALUE" and err["message"] == message
    assert live("pump-01.SpeedSetpoint") == 1500.0
    assert not AuditRecord.objects.filter(action="tag.write").exists()
    refused = AuditRecord.objects.get(action="device.command")  # the refused attempt is on record
    assert (refused.new_value["status"], refused.new_value["error"]) == ("refused", message)


def test_it_answers_422_for_a_value_not_among_the_choices(supervisor_client, pump1):
    err = error_of(post(supervisor_client, "set_mode", {"parameters": {"mode": "turbo"}}), 422)
    assert err["message"] == "Parameter 'mode' must be one of ['auto', 'manual'], got 'turbo'"


def test_it_checks_parameters_before_preconditions(operator_client, pump1, record):
    record(pump1, Faulted=True)  # the precondition would fail too
    error_of(post(operator_client, "set_speed", {"parameters": {"speed": 9999.0}}), 422)


# --- roles -----------------------------------------------------------------------------------------------


def test_it_refuses_a_command_below_its_min_role(operator_client, supervisor_client, pump1):
    err = error_of(post(operator_client, "set_mode", {"parameters": {"mode": "auto"}}), 403)
    assert err == {"code": "FORBIDDEN", "message": "Command 'set_mode' requires the supervisor role or higher",
                   "details": []}
    assert live("pump-01.Mode") is None
    assert post(supervisor_client, "set_mode", {"parameters": {"mode": "auto"}}).status_code == 200
    assert live("pump-01.Mode") == "auto"


@pytest.mark.parametrize("role", [Role.SUPERVISOR, Role.ENGINEER, Role.ADMIN])
def test_it_lets_roles_above_the_minimum_run_a_command(client_as, pump1, role):
    assert post(client_as(role), "set_mode", {"parameters": {"mode": "manual"}}).status_code == 200


def test_it_checks_the_role_before_the_parameters(operator_client, pump1):
    error_of(post(operator_client, "set_mode", {"parameters": {"bogus": 1}}), 403)


def test_it_keeps_the_target_tag_write_role(operator_client, pump1, record):
    # An Operator command whose action writes a Supervisor tag: the command cannot lift the tag's own rule.
    DeviceCommand.objects.filter(command_id="set_mode").update(min_role=Role.OPERATOR)
    err = error_of(post(operator_client, "set_mode", {"parameters": {"mode": "auto"}}), 403)
    assert err["message"] == "Writing tag 'pump-01.Mode' requires the supervisor role or higher"
    assert AuditRecord.objects.get(action="device.command").new_value["status"] == "refused"
    assert live("pump-01.Mode") is None


# --- failures part-way and misconfiguration --------------------------------------------------------------


def test_it_checks_every_action_before_writing_any(operator_client, pump1, record):
    DeviceCommand.objects.filter(command_id="start").update(actions=[
        {"write": "StartCmd", "value": True}, {"write": "SpeedSetpoint", "value": 99999.0}])
    record(pump1, Running=False, Faulted=False)
    err = error_of(post(operator_client, "start"), 422)
    assert "exceeds maximum limit" in err["message"]
    assert live("pump-01.StartCmd") is None  # the first action's write was never made
    audit = AuditRecord.objects.get(action="device.command")
    assert audit.new_value["status"] == "refused" and audit.new_value["writes"] == []
    assert not AuditRecord.objects.filter(action__in=["tag.write", "tag.write_attempt"]).exists()


def test_it_audits_a_command_that_fails_part_way_and_keeps_the_writes_done(operator_client, pump1, record,
                                                                            plc_router):
    DeviceCommand.objects.filter(command_id="start").update(actions=[
        {"write": "StartCmd", "value": True}, {"write": "SpeedSetpoint", "value": 1500.0}])
    record(pump1, Running=False, Faulted=False)
    plc_router([Tag.objects.get(name="pump-01.SpeedSetpoint")], fail="Modbus exception 4: device failure")
    err = error_of(post(operator_client, "start"), 502)
    assert "device failure" in err["message"] and "already written: pump-01.StartCmd" in err["message"]
    assert live("pump-01.StartCmd") is True  # the first write happened and is not hidden
    audit = AuditRecord.objects.get(action="device.command")
    assert audit.new_value["status"] == "failed" and [w["tag"] for w in audit.new_value["writes"]] == [
        "pump-01.StartCmd"]
    assert AuditRecord.objects.filter(action="tag.write").count() == 1
    assert AuditRecord.objects.filter(action="device.command_attempt").count() == 1


def test_it_refuses_a_misconfigured_action_before_writing_anything(operator_client, pump1, record):
    DeviceCommand.objects.filter(command_id="start").update(actions=[
        {"write": "StartCmd", "value": True}, {"write": "Ghost", "value": 1}])
    record(pump1, Running=False, Faulted=False)
    err = error_of(post(operator_client, "start"), 500)
    assert err["code"] == "COMMAND_MISCONFIGURED" and "'Ghost'" in err["message"]
    assert live("pump-01.StartCmd") is None


def test_it_lists_definition_problems_for_engineers(centrifugal):
    good = DeviceCommand.objects.get(device_type=centrifugal, command_id="set_speed")
    assert command_definition_problems(command=good) == []
    bad = DeviceCommand(device_type=centrifugal, command_id="bad", parameters={"x": {"type": "FLOAT"}},
                        preconditions=[{"condition": "{tags.Nope} &&", "reason": "r"}, {"condition": "{tags.Ghost}"}],
                        actions=[{"write": "Ghost", "value": "{params.y}"}, {"value": 1}])
    problems = command_definition_problems(command=bad)
    assert "Parameter 'x' has unknown type 'FLOAT'" in problems
    assert any(p.startswith("precondition '{tags.Nope} &&': Unexpected end of expression") for p in problems)
    assert "precondition '{tags.Ghost}': unknown tag 'Ghost'" in problems
    assert any("must be {\"write\"" in p for p in problems)


# --- concurrency -----------------------------------------------------------------------------------------


class StartingPumpPlc:
    """A write router (KILN_WRITE_ROUTER) whose PLC starts the pump: Running follows the start command."""

    start_cmd_id = running_id = None  # set by the test on the instance get_write_router() built

    def handles(self, tag_id):
        return tag_id == self.start_cmd_id

    def write(self, *, tag, value):
        from tags.values import Sample, tag_values_record
        from tags.writers import DriverWriteOutcome

        tag_values_record(samples=[Sample(tag_id=tag.pk, value=value), Sample(tag_id=self.running_id, value=True)])
        return DriverWriteOutcome(confirmed=True, readback=value)


@pytest.mark.django_db(transaction=True)
def test_it_runs_one_command_per_device_at_a_time(pump1, record, operator, settings):
    # Two operators press Start at once: the preconditions and the write happen as one step per device, so
    # exactly one start is executed and the other sees the pump's state after it.
    from tags.writers import get_write_router

    record(pump1, Running=False, Faulted=False)
    start_cmd = Tag.objects.get(name="pump-01.StartCmd")
    running = Tag.objects.get(name="pump-01.Running")
    gate = threading.Barrier(2)

    settings.KILN_WRITE_ROUTER = f"{__name__}.StartingPumpPlc"  # for this test; the drivers' router after it
    plc = get_write_router()
    plc.start_cmd_id, plc.running_id = start_cmd.pk, running.pk
    outcomes = []

    def press():
        try:
            gate.wait()
            device_command_execute(machine=pump1, command_id="start", user=operator)
            outcomes.append("executed")
        except Exception as exc:  # noqa: BLE001 - the test collects what each thread saw
            outcomes.append(type(exc).__name__)
        finally:
            connection.close()

    threads = [threading.Thread(target=press) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert sorted(outcomes) == ["PreconditionFailed", "executed"]
    assert Tag.objects.get(pk=start_cmd.pk).write_count == 1


# --- the seed's examples on the demo plant (make run) ----------------------------------------------------


def test_it_serves_the_seed_examples_on_the_demo_plant(operator_client, admin_client):
    from tags.demo import load_plant

    load_plant()
    demo = "/api/sites/demo-site/devices"
    listed = {d["id"]: d["status"] for d in operator_client.get(demo).json()["data"]}
    assert listed["pump-01"] == "running" and listed["pump-02"] == "stopped"
    assert problems_of_demo_commands() == []
    detail = operator_client.get(f"{demo}/pump-01").json()
    assert detail["typeId"] == "pump.centrifugal" and detail["tags"]["Speed"]["value"] == 1485.2
    assert operator_client.get(f"{demo}/pump-01/tags/Speed").json()["unit"] == "RPM"
    write = operator_client.put(f"{demo}/pump-01/tags/SpeedSetpoint", {"value": 1600.0}, format="json").json()
    assert write["previousValue"] == 1500.0 and write["value"] == 1600.0
    refused = error_of(operator_client.post(f"{demo}/pump-01/commands/start", {}, format="json"), 409)
    assert refused["details"] == [{"condition": "!{tags.Running}", "result": False,
                                   "reason": "Pump is already running"}]
    started = operator_client.post(f"{demo}/pump-02/commands/start", {}, format="json")
    assert started.status_code == 200, started.content
    assert admin_client.get(f"/api/audit/{started.json()['auditId']}").json()["action"] == "device.command"
    speed = operator_client.post(f"{demo}/pump-01/commands/set_speed", {"parameters": {"speed": 1600.0}},
                                 format="json")
    assert speed.status_code == 200, speed.content


def problems_of_demo_commands():
    return [p for c in DeviceCommand.objects.filter(device_type__type_id="pump.centrifugal")
            for p in command_definition_problems(command=c)]


# --- integrity -----------------------------------------------------------------------------------------------


def test_it_refuses_a_string_parameter_with_a_nul_with_400_and_audits_it(supervisor_client, pump1):
    err = error_of(post(supervisor_client, "set_mode", {"parameters": {"mode": "au\x00to"}}), 400)
    assert err["code"] == "INVALID_PARAMETERS" and "NUL" in err["message"]
    assert live("pump-01.Mode") is None
    assert AuditRecord.objects.get(action="device.command").new_value["status"] == "refused"


def test_it_runs_no_action_when_the_command_attempt_cannot_be_audited(operator_client, pump1, record):
    from tests.fixtures import audit_insert_fails

    record(pump1, Running=False, Faulted=False)
    with audit_insert_fails("device.command_attempt"):
        err = error_of(post(operator_client, "start"), 503)
    assert "audit record could not be stored" in err["message"]
    assert live("pump-01.StartCmd") is None
    assert not AuditRecord.objects.filter(action__in=["tag.write", "tag.write_attempt"]).exists()
