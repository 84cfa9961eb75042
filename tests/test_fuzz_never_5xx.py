"""No API route answers 5xx, whatever it is sent (issue 11.2): Kiln's own fuzz test over every route.

Routes and methods come from the live URL conf (scada.api.routes), so a route added anywhere is fuzzed without
editing this file. Each example sends hostile path parameters, query parameters and a JSON body (NUL, huge and
odd strings, 400-digit integers, 1e308, -0.0, "NaN" as text, objects where strings are expected, deep nesting)
as an Admin and as an Operator, and asserts a status below 500 with a JSON body.

Each route and method always gets the known hostile cases (KNOWN below, one per kind of input that once answered
500), then a few random examples (KILN_FUZZ_EXAMPLES, default 5, so the whole file stays near a minute on a
shared 2-core machine).
Left out: logout (it would end the token mid-test; its input is fuzzed through refresh, which reads the same
body) and the OpenAPI schema and docs pages and the WebSocket docs page (they take no input and answer HTML;
schemathesis checks the schema itself).
The tags the fuzz creates are bound to no PLC, so no write leaves the process.
"""

from __future__ import annotations

import json
import os
import re
from urllib.parse import quote, urlencode

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from accounts.models import User
from conftest import client_for
from scada.api.matrix import ROUTE_ROLES
from scada.api.routes import api_routes
from scada.roles import Role
from tags.models import Machine, Site, Tag

EXCLUDED = {"accounts-api:auth-logout", "scada-api:schema", "scada-api:docs", "live-api:ws-docs"}
EXAMPLES = int(os.environ.get("KILN_FUZZ_EXAMPLES", "5"))


def _cases() -> list[tuple[str, str, str]]:
    cases = set()
    for route in api_routes():
        if route.view_name in EXCLUDED:
            continue
        methods = route.methods if route.methods is not None else set(ROUTE_ROLES.get(route.view_name, {}))
        for method in methods:
            cases.add((route.view_name, route.route, method))
    return sorted(cases)


CASES = _cases()

# Names the fixture below creates, so some examples reach real objects rather than stopping at a 404.
REAL_IDS = ["1", "2", "Fuzz_Real", "Fuzz_Int", "Fuzz_Text", "fuzz-m1", "fuzz-site", "Fuzz_Real.x", "stop"]
HOSTILE_TEXT = [
    "", " ", "\x00", "a\x00b", "x" * 5000, "💥🔥", "é\u202e", "\ud800", "NaN", "-NaN", "Infinity", "-0.0", "1e21",
    "1e308", "100000000000000000000", "9" * 400, "-1", "0", "true", "null", "[]", "{}",
    "0001-01-01T00:00:00+05:00", "9999-12-31T23:59:59-05:00", "2026-02-30", "' OR 1=1 --", "../../etc/passwd",
    "%00", "%", "a/b", "a.b", "a b", "operator", "admin", "GOOD", "REAL", "average", "raw",
]
NUMBERS = [0, -1, 1, 2**31, 2**63, -(2**63) - 1, 10**399, 1e308, -1e308, 5e-324, -0.0, 1.5e300, 1e20, 0.1]

text = st.one_of(st.sampled_from(HOSTILE_TEXT + REAL_IDS), st.text(max_size=30))
number = st.one_of(st.sampled_from(NUMBERS), st.integers(), st.floats(allow_nan=False, allow_infinity=False))
leaf = st.one_of(text, number, st.booleans(), st.none())
value = st.recursive(leaf, lambda inner: st.one_of(st.lists(inner, max_size=3),
                                                   st.dictionaries(text, inner, max_size=3)), max_leaves=8)

# Field names the API reads somewhere, so bodies reach validation beyond "unknown field".
FIELDS = ["value", "name", "machine_id", "datatype", "description", "unit", "decimals", "min_value", "max_value",
          "deadband", "is_writable", "is_active", "write_role", "requires_signature", "reason", "quality", "timestamp",
          "signature", "writes", "username", "password", "refresh", "role", "email", "comment", "duration",
          "duration_minutes", "parameters", "first_name", "last_name", "expires_at", "meaning"]
QUERY = ["search", "machine_id", "limit", "offset", "start", "end", "interval", "mode", "tags", "datatype",
         "active_only", "writable_only", "include_values", "quality", "date", "action", "user", "state",
         "priority", "object_type", "object_id", "from", "to", "format", "ordering", "username", "role"]

DEEP = "[" * 100_000 + "]" * 100_000
raw_bodies = st.sampled_from([
    DEEP, '{"value": ' + "[" * 40 + "1" + "]" * 40 + "}", "{", "NaN", '{"value": NaN}',
    '{"value": 1e400}', '{"value": ' + "9" * 400 + "}", "\x00", '"\\u0000"', '{"a": "\\ud800"}', "",
])
bodies = st.one_of(
    st.dictionaries(st.sampled_from(FIELDS), value, max_size=6),
    st.builds(lambda items: {"writes": items}, st.lists(st.dictionaries(st.sampled_from(FIELDS), value, max_size=4),
                                                        max_size=3)),
    value,
    raw_bodies,
)
queries = st.dictionaries(st.sampled_from(QUERY), st.one_of(text, number.map(str)), max_size=4)

# A real object for each path parameter name, so the known cases get past the 404 to the code behind it.
REAL_PARAMS = {"name": "Fuzz_Real", "machine_id": "fuzz-m1", "site_id": "fuzz-site", "device_id": "fuzz-m1",
               "tag_name": "Fuzz_Real", "command_id": "stop", "pk": "1", "alarm_id": "1", "position": "1",
               "report_id": "alarm-journal"}
KNOWN = [
    # (path parameters: "nul" or "real", query, body)
    ("nul", {}, {"value": "a\x00b", "name": "n\x00"}),
    ("real", {"search": "a\x00", "machine_id": "m\x00", "offset": "100000000000000000000"}, DEEP),
    ("real", {"start": "0001-01-01T00:00:00+05:00", "end": "9999-12-31T23:59:59-05:00", "mode": "average",
              "interval": "1" + "0" * 21, "limit": "9" * 400}, '{"value": ' + "9" * 400 + "}"),
    ("real", {"offset": "1e20"}, {"writes": [{"name": {"a": 1}, "machine_id": ["x"], "value": 1e308}],
                                  "value": -0.0, "name": {"x": 1}, "machine_id": 7, "reason": "\x00"}),
    ("real", {}, '{"value": "' + "x" * 2_700_000 + '"}'),
]

_PARAM = re.compile(r"\(\?P<(\w+)>[^)]*\)|<(?:\w+:)?(\w+)>")


def _path(route: str, params: dict[str, str]) -> str:
    def fill(match):
        name = match.group(1) or match.group(2)
        return quote(params[name].encode("utf-8", "surrogatepass"), safe="")

    return "/" + _PARAM.sub(fill, route)


@pytest.fixture
def fuzz_world(db, settings):
    """Two personas and a few tags on a machine no driver reads (so no write reaches a PLC)."""
    settings.KILN_RATE_LIMIT_ENABLED = False  # a 429 would hide every later example's real answer
    site = Site.objects.create(site_id="fuzz-site", name="Fuzz site")
    machine = Machine.objects.create(machine_id="fuzz-m1", name="Fuzz machine", site=site)
    for name, datatype, limits in [("Fuzz_Real", "REAL", {}), ("Fuzz_Int", "INT", {"min_value": 0, "max_value": 100}),
                                   ("Fuzz_Text", "STRING", {})]:
        Tag.objects.create(name=name, datatype=datatype, machine=machine, is_writable=True,
                           write_role=Role.OPERATOR, **limits)
    users = {}
    for username, role in [("fuzz-admin", Role.ADMIN), ("fuzz-operator", Role.OPERATOR)]:
        user = User(username=username, role=role, email=f"{username}@plant.example")
        user.set_unusable_password()
        user.save()
        users[role] = user
    _fuzz_batch(machine, users[Role.ADMIN])
    return users


def _fuzz_batch(machine, user):
    # Batch 1, running at its phase 1, so batch routes (pk 1, position 1) reach their services.
    from batches.models import Batch, BatchPhase, Recipe, RecipePhase

    recipe = Recipe.objects.create(name="fuzz-recipe")
    phase = RecipePhase.objects.create(recipe=recipe, position=1, name="one", requirement="value", value_max=10)
    batch = Batch.objects.create(pk=1, recipe=recipe, machine=machine, lot="fuzz", started_by=user,
                                 started_at=machine.created, current_phase=1)
    BatchPhase.objects.create(batch=batch, phase=phase, position=1, status="active", started_at=machine.created)


def _client(user):
    # The fuzz may disable, demote or delete a persona (it is an Admin): restore it and issue a fresh token.
    restored, _ = User.objects.update_or_create(pk=user.pk, defaults={
        "username": user.username, "role": user.role, "is_active": True, "email": user.email})
    return client_for(restored)


def _send(client, method: str, path: str, query: dict, body):
    if query:
        path = f"{path}?{urlencode({k: v.encode('utf-8', 'surrogatepass') for k, v in query.items()})}"
    if method in ("GET", "HEAD", "DELETE") and not isinstance(body, dict):
        return client.generic(method, path)
    raw = body if isinstance(body, str) else json.dumps(body)
    return client.generic(method, path, data=raw.encode("utf-8", "surrogatepass"), content_type="application/json")


@pytest.mark.django_db
@pytest.mark.parametrize(("view_name", "route", "method"), CASES, ids=[f"{m} {v}" for v, _, m in CASES])
def test_it_never_answers_5xx(fuzz_world, view_name, route, method):
    names = re.findall(_PARAM, route)
    kwargs = [a or b for a, b in names]

    def known_examples(fn):
        for kind, query, body in KNOWN:
            params = {k: ("a\x00b" if kind == "nul" else REAL_PARAMS.get(k, "1")) for k in kwargs}
            fn = example(params=params, query=query, body=body)(fn)
        return fn

    @known_examples
    @settings(max_examples=EXAMPLES, deadline=None, database=None, derandomize=True,
              suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                     HealthCheck.data_too_large])
    @given(params=st.fixed_dictionaries({k: st.one_of(st.sampled_from(REAL_IDS), text) for k in kwargs}),
           query=queries, body=bodies)
    def run(params, query, body):
        path = _path(route, params)
        for role in (Role.ADMIN, Role.OPERATOR):
            response = _send(_client(fuzz_world[role]), method, path, query, body)
            assert response.status_code < 500, (
                f"{method} {path} as {role.label} query={query!r} body={body!r:.300}: "
                f"{response.status_code} {response.content[:300]!r}")
            if response.content and path.startswith("/api/"):
                response.json()  # every answer, errors included, is JSON

    run()
