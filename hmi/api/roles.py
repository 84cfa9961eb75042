"""The minimum role for each method of the hmi app's API routes: screens and the screen editor.

scada.api.matrix merges every app's api/roles.py into the one permission matrix; a route without an entry is
refused, and scada/tests/test_permission_matrix.py walks every URL to find one.
"""

from scada.api.matrix import ENGINEER, OPERATOR

ROUTE_ROLES = {
    "hmi-api:screen-list": {"GET": OPERATOR, "POST": ENGINEER},
    "hmi-api:screen-detail": {"GET": OPERATOR, "PUT": ENGINEER, "DELETE": ENGINEER},
    "hmi-api:screen-versions": {"GET": ENGINEER},
    "hmi-api:screen-version-restore": {"POST": ENGINEER},
    "hmi-api:tag-picker": {"GET": ENGINEER},
}
