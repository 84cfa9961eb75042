"""GET /api/screens: Operator+, every screen with the tags it uses (the editor's routes: test_editor_api.py)."""


def test_it_lists_screens_with_their_tags(operator_client, screen):
    res = operator_client.get("/api/screens")
    assert res.status_code == 200
    body = res.json()
    assert body["count"] == 1
    item = body["results"][0]
    assert item == {
        "id": screen.pk, "name": "Overview", "slug": "overview", "description": "", "is_home": True,
        "tags": ["Tank_Level", "pump-01.Running", "pump-01.SpeedSetpoint"], "url": "/screens/overview/",
        "updated_at": item["updated_at"],
    }
    assert item["updated_at"].endswith("Z")


def test_it_refuses_without_a_token(api_client, screen):
    res = api_client.get("/api/screens")
    assert res.status_code == 401
    assert "detail" in res.json()
