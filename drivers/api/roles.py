"""The minimum role for each method of the drivers app's API routes:
driver status, browsing an OPC UA server.

scada.api.matrix merges every app's api/roles.py into the one permission matrix; a route without an entry is
refused, and scada/tests/test_permission_matrix.py walks every URL to find one.
"""

from scada.api.matrix import ENGINEER

ROUTE_ROLES = {
    "drivers-api:system-drivers": {"GET": ENGINEER},
    "drivers-api:system-drivers-browse": {"GET": ENGINEER},
}
