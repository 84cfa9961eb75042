"""The one role check for every API route: the permission matrix (scada/api/matrix.py) decides.

A route missing from the matrix is refused (and a test fails), so a new endpoint can never ship open.
"""

import logging

from rest_framework.permissions import BasePermission

from scada.api.matrix import PUBLIC, route_roles

logger = logging.getLogger(__name__)


def minimum_role_for(view_name: str, method: str):
    """The matrix entry for a route and method. KeyError when absent.

    HEAD follows GET. OPTIONS (the route's metadata) is open to whoever may use any method of the route, so
    a POST-only route such as login answers it too.
    """
    entry = route_roles()[view_name]
    if method == "HEAD":
        method = "GET"
    if method == "OPTIONS":
        roles = list(entry.values())
        if not roles:
            raise KeyError(view_name)
        return PUBLIC if any(r is PUBLIC for r in roles) else min(roles)
    return entry[method]


class RoleMatrixPermission(BasePermission):
    message = "Insufficient role for this operation."

    def has_permission(self, request, view):
        if not hasattr(view, request.method.lower()):
            return True  # no handler: let DRF answer 405 (a 403 would claim the method exists for someone)
        view_name = request.resolver_match.view_name if request.resolver_match else None
        try:
            minimum = minimum_role_for(view_name, request.method)
        except KeyError:
            logger.error("Route %s %s has no entry in the permission matrix; refused", request.method, view_name)
            return False
        if minimum is PUBLIC:
            return True
        user = request.user
        if user is None or not getattr(user, "is_authenticated", False):
            return False
        if user.role < minimum:
            self.message = f"Insufficient role for this operation: requires {minimum.label} or higher."
            return False
        return True
