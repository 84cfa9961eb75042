"""Every tag route and method per role: 401 without a token, 403 just below the matrix minimum, success at it."""

import itertools

import pytest

from scada.api.testing import check_role_boundary, role_cases
from scada.roles import Role
from tags.models import Tag

pytestmark = pytest.mark.django_db

CASES = [c for c in role_cases(["tags-api"]) if c.view_name.startswith("tags-api:tag-")]
_counter = itertools.count()


def test_it_covers_every_tag_route_and_method():
    assert {(c.view_name, c.method) for c in CASES} == {
        ("tags-api:tag-list", "GET"), ("tags-api:tag-list", "POST"), ("tags-api:tag-stats", "GET"),
        ("tags-api:tag-detail", "GET"), ("tags-api:tag-detail", "PUT"), ("tags-api:tag-detail", "DELETE"),
        ("tags-api:tag-machine-detail", "GET"), ("tags-api:tag-machine-detail", "PUT"),
        ("tags-api:tag-machine-detail", "DELETE"), ("tags-api:tag-write", "POST"), ("tags-api:tag-write", "PUT"),
        ("tags-api:tag-machine-write", "POST"), ("tags-api:tag-machine-write", "PUT"),
        ("tags-api:tag-batch-write", "POST"),
    }


def test_it_gives_the_seed_minimum_roles():
    minimum = {(c.view_name, c.method): c.minimum for c in CASES}
    assert minimum[("tags-api:tag-list", "GET")] == Role.OPERATOR
    assert minimum[("tags-api:tag-list", "POST")] == Role.ENGINEER
    assert minimum[("tags-api:tag-detail", "PUT")] == Role.ENGINEER
    assert minimum[("tags-api:tag-detail", "DELETE")] == Role.ADMIN
    assert minimum[("tags-api:tag-machine-detail", "DELETE")] == Role.ADMIN


@pytest.mark.parametrize("case", CASES, ids=str)
def test_it_enforces_the_minimum_role(case, client_as, machine):
    # An Operator-writable tag, so the route's own minimum (Operator) is what decides a write here; the tag's
    # write_role is tested on its own (test_api.py, test_write_service.py).
    Tag.objects.create(machine=machine, name="SP", datatype="REAL", is_writable=True, write_role=Role.OPERATOR)

    def fresh_tag():
        name = f"Doomed_{next(_counter)}"
        Tag.objects.create(machine=machine, name=name, datatype="REAL")
        return name

    kwargs, data = None, None
    if case.view_name in ("tags-api:tag-detail", "tags-api:tag-write"):
        kwargs = {"name": fresh_tag() if case.method == "DELETE" else "SP"}
    elif case.view_name in ("tags-api:tag-machine-detail", "tags-api:tag-machine-write"):
        kwargs = {"machine_id": "machine_001", "name": fresh_tag() if case.method == "DELETE" else "SP"}
    if case.view_name in ("tags-api:tag-write", "tags-api:tag-machine-write"):
        data = {"value": 12.5}
    elif case.view_name == "tags-api:tag-batch-write":
        data = {"writes": [{"machine_id": "machine_001", "name": "SP", "value": 3.0}]}
    elif case.view_name == "tags-api:tag-list" and case.method == "POST":
        data = lambda: {"machine_id": "machine_001", "name": f"New_{next(_counter)}", "datatype": "INT"}  # noqa: E731
    elif case.method == "PUT":
        data = {"description": "changed"}
    check_role_boundary(case, client_as=client_as, kwargs=kwargs, data=data)
