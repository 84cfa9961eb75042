"""The minimum role for each method of the tags app's API routes:
seed 000/003 tag routes (seed 004's device routes are declared by devices/api/roles.py).

scada.api.matrix merges every app's api/roles.py into the one permission matrix; a route without an entry is
refused, and scada/tests/test_permission_matrix.py walks every URL to find one.
"""

from scada.api.matrix import ADMIN, ENGINEER, OPERATOR

ROUTE_ROLES = {
    "tags-api:tag-list": {"GET": OPERATOR, "POST": ENGINEER},
    "tags-api:tag-stats": {"GET": OPERATOR},
    "tags-api:tag-detail": {"GET": OPERATOR, "PUT": ENGINEER, "DELETE": ADMIN},
    "tags-api:tag-machine-detail": {"GET": OPERATOR, "PUT": ENGINEER, "DELETE": ADMIN},
    # Writes: Operator may reach the service, which enforces each tag's own write_role (default Supervisor).
    "tags-api:tag-write": {"POST": OPERATOR, "PUT": OPERATOR},
    "tags-api:tag-machine-write": {"POST": OPERATOR, "PUT": OPERATOR},
    "tags-api:tag-batch-write": {"POST": OPERATOR},
}
