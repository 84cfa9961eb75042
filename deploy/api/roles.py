"""The minimum role for each method of the deploy app's API routes: configuration bundles and deploys.

scada.api.matrix merges every app's api/roles.py into the one permission matrix; a route without an entry is
refused, and scada/tests/test_permission_matrix.py walks every URL to find one.
"""

from scada.api.matrix import ADMIN, ENGINEER

ROUTE_ROLES = {
    "deploy-api:config-export": {"GET": ADMIN},
    "deploy-api:config-import": {"POST": ADMIN},
    "deploy-api:config-schema": {"GET": ENGINEER},
    # Bulk editing is an engineer's tool (issue 16 §3): the same rules as any tag, binding or alarm edit.
    "deploy-api:config-csv": {"GET": ENGINEER, "POST": ENGINEER},
    "deploy-api:system-deploy": {"POST": ADMIN},  # seed 000: Deploy Test→Production config
    "deploy-api:system-deploy-receive": {"POST": ADMIN},  # production: the test instance's Admin integration key
    "deploy-api:system-deploy-rollback": {"POST": ADMIN},
    "deploy-api:system-deploy-versions": {"GET": ADMIN},
}
