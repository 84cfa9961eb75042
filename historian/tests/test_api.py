"""The history API: seed shape, modes, CSV, many tags, roles, errors, rate limit."""

import time

import pytest

from historian.tests.conftest import to_dt
from scada.api.testing import check_role_boundary, role_cases

CASES = role_cases(["historian-api"])


def _iso(ts):
    return to_dt(ts).strftime("%Y-%m-%dT%H:%M:%SZ")


@pytest.fixture
def day(real_tag, load_samples):
    """Reactor_Temp over 2026-04-01: 72.0 from 00:00, 74.0 from 01:00, BAD from 02:00, 70.0 from 03:00."""
    t0 = 1775001600  # 2026-04-01T00:00:00Z
    load_samples(real_tag.pk, [(t0, 72.0), (t0 + 3600, 74.0), (t0 + 7200, None, "BAD", "comm_failure"),
                               (t0 + 10800, 70.0)])
    return t0


@pytest.mark.parametrize("case", CASES, ids=str)
def test_it_enforces_the_minimum_role(case, client_as, real_tag):
    kwargs = {"name": real_tag.name} if "name" in case.kwargs else None
    # /api/history without ?tags= is a 400 at the minimum role: past the permission layer, which is the point.
    check_role_boundary(case, client_as=client_as, kwargs=kwargs,
                        expect_success=case.view_name != "historian-api:history")


def test_it_answers_the_seed_example_shape(operator_client, day):
    r = operator_client.get(f"/api/tags/Reactor_Temp/history?start={_iso(day)}&end={_iso(day + 14400)}"
                            "&mode=average&interval=3600")
    assert r.status_code == 200, r.content
    assert r.json() == {"tag": "Reactor_Temp", "data": [
        {"ts": "2026-04-01T00:00:00Z", "v": 72.0},
        {"ts": "2026-04-01T01:00:00Z", "v": 74.0},
        {"ts": "2026-04-01T02:00:00Z", "v": None},  # BAD: no value, none invented
        {"ts": "2026-04-01T03:00:00Z", "v": 70.0},
    ]}


def test_it_returns_raw_samples_with_quality(operator_client, day):
    r = operator_client.get(f"/api/tags/Reactor_Temp/history?start={_iso(day)}&end={_iso(day + 14400)}")
    assert r.status_code == 200
    assert r.json()["data"] == [
        {"ts": "2026-04-01T00:00:00Z", "v": 72.0, "quality": "GOOD"},
        {"ts": "2026-04-01T01:00:00Z", "v": 74.0, "quality": "GOOD"},
        {"ts": "2026-04-01T02:00:00Z", "v": None, "quality": "BAD", "substatus": "comm_failure"},
        {"ts": "2026-04-01T03:00:00Z", "v": 70.0, "quality": "GOOD"},
    ]


def test_it_serves_tag_names_with_dots(operator_client, make_tag, load_samples):
    tag = make_tag("pump-01.Speed")
    load_samples(tag.pk, [(1775001600, 1450.0)])
    r = operator_client.get("/api/tags/pump-01.Speed/history?start=2026-04-01T00:00:00Z&end=2026-04-01T00:01:00Z")
    assert r.status_code == 200
    assert r.json() == {"tag": "pump-01.Speed", "data": [{"ts": "2026-04-01T00:00:00Z", "v": 1450.0,
                                                          "quality": "GOOD"}]}


@pytest.mark.parametrize("mode,expected", [
    ("min", [72.0, 74.0, None, 70.0]),  # each hour starts on its own sample: nothing is carried into it
    ("max", [72.0, 74.0, None, 70.0]),
    ("count", [1, 1, 0, 1]),
    ("sum", [72.0, 74.0, None, 70.0]),
    ("first", [72.0, 74.0, None, 70.0]),
    ("last", [72.0, 74.0, None, 70.0]),
    ("range", [0.0, 0.0, None, 0.0]),
])
def test_it_answers_each_mode(operator_client, day, mode, expected):
    r = operator_client.get(f"/api/tags/Reactor_Temp/history?start={_iso(day)}&end={_iso(day + 14400)}"
                            f"&mode={mode}&interval=3600")
    assert r.status_code == 200, r.content
    assert [p["v"] for p in r.json()["data"]] == expected


def test_it_exports_csv_by_accept_header(operator_client, day):
    r = operator_client.get(f"/api/tags/Reactor_Temp/history?start={_iso(day)}&end={_iso(day + 7200)}"
                            "&mode=average&interval=3600", HTTP_ACCEPT="text/csv")
    assert r.status_code == 200
    assert r["Content-Type"].startswith("text/csv")
    assert r.content.decode() == ("tag,ts,v\nReactor_Temp,2026-04-01T00:00:00Z,72.0\n"
                                  "Reactor_Temp,2026-04-01T01:00:00Z,74.0\n")


def test_it_exports_raw_csv_by_format_parameter(operator_client, day):
    r = operator_client.get(f"/api/tags/Reactor_Temp/history?start={_iso(day + 3600)}&end={_iso(day + 10800)}"
                            "&format=csv")
    assert r.status_code == 200
    assert r.content.decode() == ("tag,ts,v,quality,substatus\nReactor_Temp,2026-04-01T01:00:00Z,74.0,GOOD,\n"
                                  "Reactor_Temp,2026-04-01T02:00:00Z,,BAD,comm_failure\n")


def test_it_answers_errors_as_json_even_when_csv_was_asked(operator_client, day):
    r = operator_client.get("/api/tags/Reactor_Temp/history?mode=median&interval=60&format=csv")
    assert r.status_code == 400
    assert r["Content-Type"].startswith("application/json")
    assert "unknown mode 'median'" in r.json()["detail"]


def test_it_queries_many_tags_in_one_round_trip(operator_client, day, make_tag, load_samples):
    other = make_tag("Pump_Speed")
    load_samples(other.pk, [(day, 1500.0), (day + 1800, 1600.0)])
    r = operator_client.get(f"/api/history?tags=Reactor_Temp,Pump_Speed&start={_iso(day)}&end={_iso(day + 3600)}"
                            "&mode=average&interval=3600")
    assert r.status_code == 200, r.content
    body = r.json()
    assert body["mode"] == "average" and body["interval"] == 3600
    assert body["series"] == [
        {"tag": "Reactor_Temp", "data": [{"ts": "2026-04-01T00:00:00Z", "v": 72.0}]},
        {"tag": "Pump_Speed", "data": [{"ts": "2026-04-01T00:00:00Z", "v": 1550.0}]},
    ]


def test_it_exports_many_tags_as_csv(operator_client, day, make_tag, load_samples):
    other = make_tag("Pump_Speed")
    load_samples(other.pk, [(day, 1500.0)])
    r = operator_client.get(f"/api/history?tags=Reactor_Temp,Pump_Speed&start={_iso(day)}&end={_iso(day + 3600)}"
                            "&mode=max&interval=3600&format=csv")
    assert r.content.decode() == ("tag,ts,v\nReactor_Temp,2026-04-01T00:00:00Z,72.0\n"
                                  "Pump_Speed,2026-04-01T00:00:00Z,1500.0\n")


def test_it_guards_a_string_value_with_a_carriage_return_in_the_csv(operator_client, make_tag):
    from historian.models import HistorianStringSample
    from historian.tests.conftest import to_dt

    batch = make_tag("Batch_Id", datatype="STRING")
    HistorianStringSample.objects.create(tag_id=batch.pk, ts=to_dt(1775001600), value=" \r=cmd|' /C calc'!A0")
    r = operator_client.get("/api/tags/Batch_Id/history?start=2026-04-01T00:00:00Z&end=2026-04-01T00:01:00Z"
                            "&format=csv")
    assert r.status_code == 200, r.content
    assert r.content.decode().splitlines()[1:] == ['Batch_Id,2026-04-01T00:00:00Z," ', "'=cmd|' /C calc'!A0\",GOOD,"]


@pytest.mark.parametrize("query,detail", [
    ("mode=median&interval=60", "mode: unknown mode 'median'; use one of raw, average, min, max, first, last, "
                                "count, sum, range."),
    ("start=yesterday", "start: 'yesterday' is not an ISO 8601 timestamp (e.g. 2026-04-01T00:00:00Z)."),
    ("start=2026-04-02T00:00:00Z&end=2026-04-01T00:00:00Z", "end: end must be after start."),
    ("mode=average", "interval: mode=average needs interval (seconds)."),
    ("mode=average&interval=0", "interval: interval must be at least 1 second."),
    ("mode=average&interval=abc", "interval: interval must be a whole number of seconds."),
    ("interval=60", "interval: mode=raw returns every stored sample; give interval only with an aggregate mode "
                    "(average, min, max, first, last, count, sum, range)."),
    ("start=2026-01-01T00:00:00Z&end=2026-04-01T00:00:00Z&mode=average&interval=1",
     "The query would return 7776000 points (more than the limit of 100000); use interval=120 or a shorter "
     "time range."),
])
def test_it_refuses_bad_queries_with_a_clear_detail(operator_client, real_tag, query, detail):
    r = operator_client.get(f"/api/tags/Reactor_Temp/history?{query}")
    assert r.status_code == 400
    assert r.json()["detail"] == detail


def test_it_suggests_an_interval_when_raw_samples_would_be_too_many(operator_client, real_tag, load_samples,
                                                                   settings):
    settings.KILN_HISTORY_MAX_POINTS = 100
    load_samples(real_tag.pk, [(1775001600 + i, float(i)) for i in range(150)])
    r = operator_client.get("/api/tags/Reactor_Temp/history?start=2026-04-01T00:00:00Z&end=2026-04-01T01:00:00Z")
    assert r.status_code == 400
    assert r.json()["detail"] == ("The query would return more than 100 raw samples; use mode=average (or min, "
                                  "max, ...) with interval=60, or a shorter time range.")
    assert r.json()["suggested_interval"] == 60


def test_it_answers_404_for_an_unknown_tag(operator_client, db):
    r = operator_client.get("/api/tags/Nope/history")
    assert r.status_code == 404
    assert r.json() == {"detail": "Tag 'Nope' not found"}


def test_it_names_every_unknown_tag_of_a_many_tag_query(operator_client, real_tag):
    r = operator_client.get("/api/history?tags=Reactor_Temp,Nope,Gone&mode=raw")
    assert r.status_code == 404
    assert r.json() == {"detail": "Tags not found: Nope, Gone"}


def test_it_refuses_too_many_tags(operator_client, real_tag, settings):
    settings.KILN_HISTORY_MAX_TAGS = 2
    r = operator_client.get("/api/history?tags=a,b,c")
    assert r.status_code == 400
    assert r.json() == {"detail": "At most 2 tags per request; got 3."}


def test_it_refuses_an_aggregate_of_a_string_tag(operator_client, make_tag):
    make_tag("Batch_Id", datatype="STRING")
    r = operator_client.get("/api/tags/Batch_Id/history?mode=average&interval=60")
    assert r.status_code == 400
    assert r.json()["detail"] == "mode=average needs numeric tags; Batch_Id is a STRING tag (use mode=raw)."


def test_it_types_raw_values_by_datatype(operator_client, make_tag, load_samples):
    flag = make_tag("Pump_Running", datatype="BOOL")
    load_samples(flag.pk, [(1775001600, 1.0), (1775001660, 0.0)])
    r = operator_client.get("/api/tags/Pump_Running/history?start=2026-04-01T00:00:00Z&end=2026-04-01T01:00:00Z")
    assert [p["v"] for p in r.json()["data"]] == [True, False]


def test_it_does_not_invent_values_after_now(operator_client, real_tag, load_samples):
    now = time.time()
    load_samples(real_tag.pk, [(now - 120, 5.0)])
    start = int(now // 60) * 60 - 120
    r = operator_client.get(f"/api/tags/Reactor_Temp/history?start={_iso(start)}&end={_iso(start + 3600)}"
                            "&mode=average&interval=60")
    data = r.json()["data"]
    assert len(data) == 3  # the bucket holding now is the last one
    assert all(p["v"] == 5.0 for p in data[1:])


def test_it_limits_history_queries_to_20_a_minute(operator_client, real_tag, settings):
    settings.KILN_RATE_LIMIT_ENABLED = True
    codes = [operator_client.get("/api/tags/Reactor_Temp/history").status_code for _ in range(21)]
    assert codes[:20] == [200] * 20
    assert codes[20] == 429


def test_formatted_history_adds_text_with_the_tags_decimals_and_keeps_v_whole(operator_client, day, real_tag):
    real_tag.decimals = 2
    real_tag.save(update_fields=["decimals"])
    r = operator_client.get(f"/api/tags/Reactor_Temp/history?start={_iso(day)}&end={_iso(day + 7200)}"
                            "&mode=average&interval=7200&formatted=true")
    assert r.json() == {"tag": "Reactor_Temp", "decimals": 2,
                        "data": [{"ts": "2026-04-01T00:00:00Z", "v": 73.0, "text": "73.00"}]}
    r = operator_client.get(f"/api/history?tags=Reactor_Temp&start={_iso(day)}&end={_iso(day + 10800)}"
                            "&formatted=1")
    assert [(p["v"], p["text"]) for p in r.json()["series"][0]["data"]] == [
        (72.0, "72.00"), (74.0, "74.00"), (None, None)]


def test_formatted_csv_writes_numbers_with_the_tags_decimals(operator_client, day, real_tag, make_tag,
                                                              load_samples):
    real_tag.decimals = 1
    real_tag.save(update_fields=["decimals"])
    load_samples(make_tag("Pump_On", datatype="BOOL").pk, [(day, 1.0)])
    r = operator_client.get(f"/api/history?tags=Reactor_Temp,Pump_On&start={_iso(day)}&end={_iso(day + 10800)}"
                            "&format=csv&formatted=true")
    assert r.content.decode().splitlines()[1:] == [
        "Reactor_Temp,2026-04-01T00:00:00Z,72.0,GOOD,", "Reactor_Temp,2026-04-01T01:00:00Z,74.0,GOOD,",
        "Reactor_Temp,2026-04-01T02:00:00Z,,BAD,comm_failure", "Pump_On,2026-04-01T00:00:00Z,1,GOOD,"]
    flow = make_tag("Flow", decimals=2)
    load_samples(flow.pk, [(day, 1.0), (day + 60, 2.0), (day + 120, 2.0)])  # time-weighted over 180 s: 5/3
    query = f"/api/tags/Flow/history?start={_iso(day)}&end={_iso(day + 180)}&mode=average&interval=180&format=csv"
    assert operator_client.get(query).content.decode().splitlines()[1] == "Flow,2026-04-01T00:00:00Z,1.6666666666666667"
    assert operator_client.get(query + "&formatted=true").content.decode().splitlines()[1] == (
        "Flow,2026-04-01T00:00:00Z,1.67")
