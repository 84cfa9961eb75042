"""The permission matrix: route name → HTTP method → minimum role (seed 000 COMPLETE ENDPOINT REFERENCE).

Each app declares its own routes' roles in `<app>/api/roles.py` (a `ROUTE_ROLES` dict), beside the routes
themselves; this module merges them, in INSTALLED_APPS order, the way Django's admin discovers `admin.py`.
Every API route must have an entry for each method it answers; scada/tests/test_permission_matrix.py walks the
URL patterns and fails on a gap, and RoleMatrixPermission refuses a route without one. PUBLIC routes need no
token. Object-level rules (a tag's own write role) are enforced by the services on top of this.
"""

from functools import lru_cache
from importlib import import_module

from django.apps import apps
from django.core.exceptions import ImproperlyConfigured
from django.utils.module_loading import module_has_submodule

from scada.roles import Role

__all__ = ["PUBLIC", "OPERATOR", "SUPERVISOR", "ENGINEER", "ADMIN", "route_roles"]

PUBLIC = object()

OPERATOR, SUPERVISOR, ENGINEER, ADMIN = Role.OPERATOR, Role.SUPERVISOR, Role.ENGINEER, Role.ADMIN

ROLES_MODULE = "api.roles"


@lru_cache(maxsize=1)
def route_roles() -> dict[str, dict[str, object]]:
    """Every app's declared route roles, merged into one dict (built once per process).

    Two apps naming the same route is a configuration error: the matrix must have one answer per route.
    """
    merged: dict[str, dict[str, object]] = {}
    owner: dict[str, str] = {}
    for config in apps.get_app_configs():
        if not module_has_submodule(config.module, "api") or not module_has_submodule(
                import_module(f"{config.name}.api"), "roles"):
            continue
        declared = import_module(f"{config.name}.{ROLES_MODULE}").ROUTE_ROLES
        for name, methods in declared.items():
            if name in merged:
                raise ImproperlyConfigured(f"Route {name!r} has roles declared by both {owner[name]} and "
                                           f"{config.name}")
            merged[name], owner[name] = methods, config.name
    return merged


def __getattr__(name: str):
    # `from scada.api.matrix import ROUTE_ROLES` keeps working: the merged dict, built on first use (after the
    # app registry is ready), the same object every time.
    if name == "ROUTE_ROLES":
        return route_roles()
    raise AttributeError(name)
