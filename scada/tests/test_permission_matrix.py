"""The permission matrix (scada/api/matrix.py) covers every API route, and each role boundary holds.

The walk reads the live URL conf, so routes other apps add are checked without editing this file.
"""

import pytest
from django.urls import path

from accounts.audit import audit_record
from accounts.models import ApiKey
from accounts.signatures import signature_sign
from conftest import PASSWORD
from scada.api.matrix import OPERATOR, PUBLIC
from scada.api.routes import api_routes, matrix_problems, view_methods
from scada.api.testing import check_role_boundary, role_cases
from scada.roles import Role

FOUNDATION_CASES = role_cases(["accounts-api", "scada-api"])


def test_it_finds_every_api_route_and_its_methods():
    routes = {r.view_name: r.methods for r in api_routes()}
    assert routes["accounts-api:user-detail"] == {"GET", "PUT", "PATCH", "DELETE"}
    assert routes["accounts-api:auth-login"] == {"POST"}
    assert routes["scada-api:system-status"] == {"GET"}
    assert "admin:index" not in routes  # only routes under /api/


def test_it_has_a_matrix_entry_for_every_route_and_method():
    problems = matrix_problems(api_routes())
    assert problems == [], "\n".join(problems)


# The checker's own cases run on the foundation's routes alone, so other apps' work in progress cannot move them.
FOUNDATION_URLCONF = "scada.tests.urls_foundation"


def _foundation():
    from scada.api.matrix import ROUTE_ROLES

    routes = api_routes(FOUNDATION_URLCONF)
    names = {r.view_name for r in routes}
    return routes, {name: roles for name, roles in ROUTE_ROLES.items() if name in names}


def test_it_agrees_on_the_foundation_routes():
    routes, matrix = _foundation()
    assert matrix_problems(routes, matrix) == []


def test_it_reports_a_route_missing_from_the_matrix():
    routes, matrix = _foundation()
    del matrix["accounts-api:user-me"]
    assert matrix_problems(routes, matrix) == [
        "accounts-api:user-me /api/users/me: no entry in ROUTE_ROLES (methods ['GET'])"
    ]


def test_it_reports_a_method_missing_from_the_matrix():
    routes, matrix = _foundation()
    matrix["accounts-api:user-detail"] = {"GET": Role.ADMIN, "PUT": Role.ADMIN, "DELETE": Role.ADMIN}
    assert matrix_problems(routes, matrix) == [
        "accounts-api:user-detail /api/users/(?P<pk>[^/.]+): PATCH has no entry in ROUTE_ROLES"
    ]


def test_it_reports_a_matrix_entry_for_a_route_that_does_not_exist():
    routes, matrix = _foundation()
    matrix["accounts-api:user-typo"] = {"GET": OPERATOR}
    assert matrix_problems(routes, matrix) == [
        "ROUTE_ROLES names 'accounts-api:user-typo', which is no route under the API"
    ]


def test_it_reports_a_matrix_method_the_route_does_not_answer():
    routes, matrix = _foundation()
    matrix["scada-api:system-status"] = {"GET": OPERATOR, "POST": OPERATOR}
    assert matrix_problems(routes, matrix) == [
        "ROUTE_ROLES gives 'scada-api:system-status' a POST entry, but the route does not answer it"
    ]


def _plain_view(request):
    raise AssertionError("never called")


urlpatterns = [path("api/plain", _plain_view, name="plain"), path("api/unnamed", _plain_view)]


@pytest.mark.urls(__name__)
def test_it_reports_unnamed_routes_and_accepts_plain_function_views_by_name():
    routes = api_routes()
    assert [r.methods for r in routes] == [None, None]
    assert matrix_problems(routes, {"plain": {"GET": PUBLIC}}) == [
        "/api/unnamed has no URL name, so the permission matrix cannot name it"
    ]


def test_it_reads_viewset_actions_and_apiview_handlers():
    from accounts.api import views

    assert view_methods(views.UserViewSet.as_view({"get": "list", "post": "create"})) == {"GET", "POST"}
    assert view_methods(views.LogoutView.as_view()) == {"POST"}


# --- role boundaries of the foundation's own routes ---------------------------------------------------------

def test_it_covers_every_non_public_foundation_route():
    names = {c.view_name for c in FOUNDATION_CASES}
    assert {"accounts-api:user-list", "accounts-api:audit-detail", "scada-api:system-status"} <= names
    assert "accounts-api:auth-login" not in names


@pytest.mark.django_db
@pytest.mark.parametrize("case", FOUNDATION_CASES, ids=str)
def test_it_refuses_below_the_minimum_role_and_allows_it(case, client_as, make_user, admin_user):
    target = make_user("target", Role.OPERATOR)
    objects = {
        "accounts-api:user-detail": lambda: {"pk": target.pk},
        "accounts-api:apikey-detail": lambda: {
            "pk": ApiKey.objects.create(user=target, name="erp", prefix="kiln_x", key_hash="0" * 64).pk
        },
        "accounts-api:audit-detail": lambda: {"pk": audit_record(action="test.event", user=admin_user).pk},
        "accounts-api:signature-detail": lambda: {"pk": signature_sign(
            signer=admin_user, password=PASSWORD, meaning="Reviewed", reason="matrix", object_type="test",
            object_id="1", content={}).pk},
    }
    counter = iter(range(1000))
    bodies = {
        ("accounts-api:user-list", "POST"): lambda: {"username": f"new{next(counter)}", "password": "long-enough-pw",
                                                    "role": "operator"},
        ("accounts-api:user-detail", "PUT"): {"first_name": "Tess"},
        ("accounts-api:user-detail", "PATCH"): {"last_name": "Target"},
        ("accounts-api:apikey-list", "POST"): {"user": target.pk, "name": "erp"},
    }
    check_role_boundary(case, client_as=client_as, kwargs=objects.get(case.view_name),
                        data=bodies.get((case.view_name, case.method)))


def test_each_app_declares_the_roles_of_its_own_routes_only():
    from importlib import import_module

    from django.apps import apps

    for config in apps.get_app_configs():
        try:
            declared = import_module(f"{config.name}.api.roles").ROUTE_ROLES
            namespace = import_module(f"{config.name}.api.urls").app_name
        except ModuleNotFoundError:
            continue
        strangers = [name for name in declared if not name.startswith(f"{namespace}:")]
        assert strangers == [], f"{config.name}/api/roles.py declares other apps' routes"
