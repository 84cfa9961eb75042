"""The minimum role for each method of the historian app's API routes:
history queries.

scada.api.matrix merges every app's api/roles.py into the one permission matrix; a route without an entry is
refused, and scada/tests/test_permission_matrix.py walks every URL to find one.
"""

from scada.api.matrix import OPERATOR

ROUTE_ROLES = {
    "historian-api:tag-history": {"GET": OPERATOR},
    "historian-api:history": {"GET": OPERATOR},
}
