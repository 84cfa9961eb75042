"""The minimum role for each method of the scada app's API routes:
system health and status, the API schema and its docs.

scada.api.matrix merges every app's api/roles.py into the one permission matrix; a route without an entry is
refused, and scada/tests/test_permission_matrix.py walks every URL to find one.
"""

from scada.api.matrix import OPERATOR, PUBLIC

ROUTE_ROLES = {
    "scada-api:schema": {"GET": PUBLIC},
    "scada-api:docs": {"GET": PUBLIC},
    "scada-api:system-health": {"GET": PUBLIC},
    "scada-api:system-status": {"GET": OPERATOR},
}
