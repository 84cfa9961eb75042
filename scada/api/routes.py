"""Every API route and the HTTP methods it answers, read from the URL conf itself.

The permission matrix test (tests/test_permission_matrix.py) and each app's role tests use this, so a route
added anywhere under /api/ is checked without anyone listing it by hand.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.urls import URLPattern, URLResolver, get_resolver

from scada.api.matrix import route_roles

__all__ = ["ApiRoute", "api_routes", "view_methods", "matrix_problems"]

# Methods every view answers on its own behalf; the matrix maps them (permissions.minimum_role_for).
IMPLICIT_METHODS = {"HEAD", "OPTIONS"}


@dataclass(frozen=True)
class ApiRoute:
    """One URL pattern under the API prefix."""

    view_name: str | None  # "accounts-api:user-detail"; None when the pattern has no name
    route: str  # "api/users/(?P<pk>[^/.]+)", for messages
    methods: frozenset[str] | None  # None: a plain function view, whose methods cannot be read
    kwargs: tuple[str, ...]  # the pattern's named parameters, to reverse() it

    def __str__(self):
        return f"{self.view_name or '(unnamed)'} /{self.route}"


def view_methods(callback) -> frozenset[str] | None:
    """The HTTP methods a resolved view answers (HEAD and OPTIONS left out).

    DRF ViewSets: the router's {method: action} map on the callback. APIViews and Django class-based views:
    the handlers the class defines. Plain functions: None (unknown).
    """
    actions = getattr(callback, "actions", None)
    if actions:
        return frozenset(m.upper() for m in actions) - IMPLICIT_METHODS
    cls = getattr(callback, "cls", None) or getattr(callback, "view_class", None)
    if cls is not None:
        return frozenset(
            m.upper() for m in cls.http_method_names if m.upper() not in IMPLICIT_METHODS and hasattr(cls, m)
        )
    return None


def _clean(fragment: str) -> str:
    # Regex patterns read "^users/(?P<pk>[^/.]+)$": anchors mean nothing once fragments are joined.
    return fragment.removeprefix("^").removesuffix("$").removesuffix(r"\Z")


def _walk(patterns, prefix: str, namespace: str, kwargs: tuple[str, ...]):
    for entry in patterns:
        fragment = _clean(str(entry.pattern))
        names = kwargs + tuple(entry.pattern.regex.groupindex)
        if isinstance(entry, URLResolver):
            ns = f"{namespace}{entry.namespace}:" if entry.namespace else namespace
            yield from _walk(entry.url_patterns, prefix + fragment, ns, names)
        elif isinstance(entry, URLPattern):
            name = f"{namespace}{entry.name}" if entry.name else None
            yield ApiRoute(view_name=name, route=prefix + fragment, methods=view_methods(entry.callback),
                           kwargs=names)


def api_routes(urlconf=None, prefix: str = "api/") -> list[ApiRoute]:
    """Every URL pattern whose full route starts with `prefix`, includes followed to any depth."""
    return [r for r in _walk(get_resolver(urlconf).url_patterns, "", "", ()) if r.route.startswith(prefix)]


def matrix_problems(routes: list[ApiRoute], matrix: dict | None = None) -> list[str]:
    """What is wrong between the routes and the permission matrix, one line each (empty when they agree).

    A route or method without an entry is refused at run time (RoleMatrixPermission), so it is a bug; so is
    an entry for a route or method that does not exist (a typo, or a route removed without its entry).
    """
    matrix = route_roles() if matrix is None else matrix
    problems = []
    served: dict[str, set[str] | None] = {}
    for route in routes:
        if route.view_name is None:
            problems.append(f"/{route.route} has no URL name, so the permission matrix cannot name it")
            continue
        known = served.setdefault(route.view_name, set())
        if route.methods is None or known is None:
            served[route.view_name] = None  # a function view: any method the matrix lists may be real
        else:
            known.update(route.methods)
        entry = matrix.get(route.view_name)
        if entry is None:
            problems.append(f"{route}: no entry in ROUTE_ROLES (methods {sorted(route.methods or [])})")
            continue
        for method in sorted(route.methods or []):
            if method not in entry:
                problems.append(f"{route}: {method} has no entry in ROUTE_ROLES")
        if not entry:
            problems.append(f"{route}: its ROUTE_ROLES entry lists no method")
    for view_name, entry in matrix.items():
        if view_name not in served:
            problems.append(f"ROUTE_ROLES names {view_name!r}, which is no route under the API")
            continue
        methods = served[view_name]
        if methods is None:
            continue
        for method in sorted(set(entry) - methods):
            problems.append(f"ROUTE_ROLES gives {view_name!r} a {method} entry, but the route does not answer it")
    return problems
