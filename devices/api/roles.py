"""The minimum role for each method of the devices app's API routes (seed 004).

scada.api.matrix merges every app's api/roles.py into the one permission matrix; a route without an entry is
refused, and scada/tests/test_permission_matrix.py walks every URL to find one.
"""

from scada.api.matrix import OPERATOR

ROUTE_ROLES = {
    # Operator+ at the route; a tag's write_role and a command's min_role are enforced by devices.services.
    "devices-api:device-list": {"GET": OPERATOR},
    "devices-api:device-detail": {"GET": OPERATOR},
    "devices-api:device-tag-list": {"GET": OPERATOR},
    "devices-api:device-tag-detail": {"GET": OPERATOR, "PUT": OPERATOR},
    "devices-api:device-command": {"POST": OPERATOR},
}
