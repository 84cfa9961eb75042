"""A batch over the demo's real processes (scripts/run.sh: daphne, drivers worker, plcsim, historian, alarms).

The demo recipe reactor-heat-cycle is started over REST: its setpoint goes through the write API's service and
the drivers worker to the simulated PLC (read back), the reactor heats past the 85 °C HI limit, operators follow
the phases, the supervisor closes with an e-signature; the EBR then holds that write, that alarm, the phases and
a summary of Reactor_Temp, and nothing from before the batch or after its close.
"""

import time

import pytest

from tests.test_demo_e2e import demo  # noqa: F401 - the demo as make run starts it (fixture)

pytestmark = pytest.mark.timeout(240)


def _login(demo, username):  # noqa: F811 - `demo` is the fixture's value
    status, body = demo.request("POST", "/api/auth/login", {"username": username, "password": f"kiln-{username}"})
    assert status == 200, body
    demo.token = body["token"]


def test_the_ebr_of_a_demo_batch_holds_its_write_alarm_and_phases_and_nothing_else(demo):  # noqa: F811
    demo.wait_for("daphne answering", lambda: demo.request("GET", "/api/system/status")[0] in (200, 401, 503), 60)
    _login(demo, "supervisor")
    # Before the batch: a setpoint write that must not appear in its record.
    demo.wait_for("the drivers worker writing", lambda: demo.request(
        "POST", "/api/tags/Reactor_Temp_SP/write", {"value": 70.0})[0] == 200, 60)
    time.sleep(1.1)

    status, batch = demo.request("POST", "/api/batches/start", {
        "recipe": "reactor-heat-cycle", "machine_id": "reactor-01", "lot": "E2E-1",
        "parameters": {"target_temp": 120}})
    assert status == 201, batch
    [param] = batch["parameters"]
    assert (param["actual"], param["tag"], param["confirmed"]) == (120.0, "Reactor_Temp_SP", True)
    url = f"/api/batches/{batch['id']}"

    def hi_alarm():
        status, body = demo.request("GET", "/api/alarms")
        return status == 200 and any(a["key"] == "reactor_temp_hi" and a["active"] for a in body["results"])

    demo.wait_for("Reactor Temp High while the batch runs", hi_alarm, 120)

    _login(demo, "operator")
    for position in (1, 2):
        status, body = demo.request("POST", f"{url}/phases/{position}/confirm", {})
        assert status == 200, body
    status, body = demo.request("POST", f"{url}/phases/3/enter", {"value": 41.5})
    assert status == 200 and body["status"] == "complete", body

    _login(demo, "supervisor")
    demo.wait_for("Reactor_Temp summarised from the historian", lambda: demo.request("GET", url)[1][
        "evidence"]["recorded_tags"][0]["max"] is not None, 30)
    status, closed = demo.request("POST", f"{url}/close", {"signature": {
        "password": "kiln-supervisor", "meaning": "Reviewed and released", "reason": "E2E batch review"}})
    assert status == 200 and closed["status"] == "closed", closed
    # After the close: another write on the machine, which the signed record must not take in.
    assert demo.request("POST", "/api/tags/Reactor_Temp_SP/write", {"value": 60.0})[0] == 200

    status, ebr = demo.request("GET", url)
    assert status == 200
    writes = ebr["evidence"]["tag_writes"]
    assert [(w["object"], w["value"], w["source"]) for w in writes if w["action"] == "tag.write"] == [
        ("Reactor_Temp_SP", 120.0, f"batch:{batch['id']}")]
    assert any(a["key"] == "reactor_temp_hi" and a["state"] == "active_unacked" for a in ebr["evidence"]["alarms"])
    assert [p["status"] for p in ebr["phases"]] == ["done", "done", "done"]
    assert ebr["phases"][2]["value"] == 41.5 and ebr["phases"][0]["completed_by"] == "operator"
    summary = ebr["evidence"]["recorded_tags"][0]
    assert summary["tag"] == "Reactor_Temp" and summary["max"] >= 85.0
    [signature] = ebr["signatures"]
    assert signature["valid"] and signature["meaning"] == "Reviewed and released"
    assert ebr["record_unchanged_since_signing"] is True
