"""An explicit ?format= wins over the Accept header (the HMI's journal CSV button met a 406)."""

import pytest


@pytest.mark.django_db
def test_format_csv_answers_csv_even_when_accept_names_only_json(operator_client):
    res = operator_client.get("/api/alarms/history?format=csv", HTTP_ACCEPT="application/json")
    assert res.status_code == 200
    assert res["Content-Type"].startswith("text/csv")
    assert b"".join(res.streaming_content).decode().splitlines()[0].startswith("ts,event")


@pytest.mark.django_db
def test_without_format_the_accept_header_still_decides(operator_client):
    assert operator_client.get("/api/alarms/history", HTTP_ACCEPT="text/csv")["Content-Type"].startswith("text/csv")
    res = operator_client.get("/api/alarms/history", HTTP_ACCEPT="application/json")
    assert res.status_code == 200 and res.json()["count"] == 0


@pytest.mark.django_db
def test_an_unknown_format_is_still_refused(operator_client):
    res = operator_client.get("/api/alarms/history?format=xml", HTTP_ACCEPT="application/json")
    assert res.status_code == 404 and "detail" in res.json()
