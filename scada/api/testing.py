"""Test helpers for the role matrix, for every app's tests (importing this module needs no database).

    from scada.api.testing import role_cases, check_role_boundary

    CASES = role_cases(["alarms-api"])

    @pytest.mark.parametrize("case", CASES, ids=str)
    def test_it_enforces_the_minimum_role(case, client_as, alarm):
        check_role_boundary(case, client_as=client_as, kwargs={"pk": alarm.pk}, data={"reason": "test"})

For each non-public route and method: no token → 401, the role just below the minimum → 403, and the minimum
itself gets through the permission layer (2xx with `expect_success=True`, otherwise anything but 401/403/405).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from django.urls import reverse

from scada.api.matrix import PUBLIC, route_roles
from scada.api.routes import api_routes
from scada.roles import Role

__all__ = ["RoleCase", "role_below", "role_cases", "check_role_boundary"]


@dataclass(frozen=True)
class RoleCase:
    """One route and method that needs a token, with its minimum role from the matrix."""

    view_name: str
    method: str
    minimum: Role
    kwargs: tuple[str, ...]

    def __str__(self):
        return f"{self.method} {self.view_name}"


def role_below(role: int) -> Role | None:
    """The highest role under `role`, or None for Operator (nothing lies below it)."""
    lower = [r for r in Role if r < role]
    return max(lower) if lower else None


def role_cases(namespaces: Iterable[str], urlconf=None) -> list[RoleCase]:
    """Every (route, method) of these URL namespaces whose matrix entry is a role (public ones left out)."""
    prefixes = tuple(f"{ns}:" for ns in namespaces)
    cases: dict[tuple[str, str], RoleCase] = {}
    for route in api_routes(urlconf):
        if not route.view_name or not route.view_name.startswith(prefixes):
            continue
        entry = route_roles().get(route.view_name, {})
        for method in sorted(route.methods or entry):
            minimum = entry.get(method)
            if minimum is None or minimum is PUBLIC:
                continue
            key = (route.view_name, method)
            cases.setdefault(key, RoleCase(route.view_name, method, Role(minimum), route.kwargs))
    return sorted(cases.values(), key=lambda c: (c.view_name, c.method))


def _call(client, case: RoleCase, path: str, data):
    if case.method in ("GET", "HEAD") or data is None:
        return client.generic(case.method, path)
    return client.generic(case.method, path, data=_json(data), content_type="application/json")


def _json(data) -> str:
    import json

    return json.dumps(data)


def check_role_boundary(
    case: RoleCase,
    *,
    client_as: Callable[[int], Any],
    kwargs: dict | Callable[[], dict] | None = None,
    data: Any = None,
    expect_success: bool = True,
) -> None:
    """Assert 401 without a token, 403 just below the minimum role, and success at the minimum.

    `client_as` is the conftest fixture (a fresh authenticated client per role). `kwargs` fills the route's
    parameters (a callable is called once, e.g. to make a fresh object to delete); `data` is the JSON body for
    writes (a callable is called for each request, e.g. to make a fresh unique name). The 401 and 403 requests
    go first, so a write that succeeds at the minimum acts on an object the refused requests left untouched.
    """
    from rest_framework.test import APIClient

    def resolve(value):
        return value() if callable(value) else value

    route_kwargs = resolve(kwargs) or {}
    missing = set(case.kwargs) - set(route_kwargs)
    assert not missing, f"{case}: give kwargs for {sorted(missing)}"
    path = reverse(case.view_name, kwargs=route_kwargs or None)

    anonymous = _call(APIClient(), case, path, resolve(data))
    assert anonymous.status_code == 401, f"{case} without a token: {anonymous.status_code} {anonymous.content[:200]}"
    assert "detail" in anonymous.json()

    below = role_below(case.minimum)
    if below is not None:
        refused = _call(client_as(below), case, path, resolve(data))
        assert refused.status_code == 403, (
            f"{case} as {below.label} (below {case.minimum.label}): {refused.status_code} {refused.content[:200]}"
        )
        assert refused.json()["detail"].startswith("Insufficient role for this operation"), refused.content

    allowed = _call(client_as(case.minimum), case, path, resolve(data))
    if expect_success:
        assert 200 <= allowed.status_code < 300, (
            f"{case} as {case.minimum.label}: {allowed.status_code} {allowed.content[:300]}"
        )
    else:
        assert allowed.status_code not in (401, 403, 405), (
            f"{case} as {case.minimum.label}: {allowed.status_code} {allowed.content[:300]}"
        )
