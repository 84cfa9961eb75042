"""The minimum role for each method of the accounts app's API routes:
auth, users, API keys, audit, e-signatures.

scada.api.matrix merges every app's api/roles.py into the one permission matrix; a route without an entry is
refused, and scada/tests/test_permission_matrix.py walks every URL to find one.
"""

from scada.api.matrix import ADMIN, OPERATOR, PUBLIC, SUPERVISOR

ROUTE_ROLES = {
    "accounts-api:auth-login": {"POST": PUBLIC},
    "accounts-api:auth-refresh": {"POST": PUBLIC},  # the credential: the refresh token (body) or the token as Bearer
    "accounts-api:auth-logout": {"POST": OPERATOR},
    "accounts-api:user-me": {"GET": OPERATOR},
    "accounts-api:user-list": {"GET": ADMIN, "POST": ADMIN},
    "accounts-api:user-detail": {"GET": ADMIN, "PUT": ADMIN, "PATCH": ADMIN, "DELETE": ADMIN},
    "accounts-api:apikey-list": {"GET": ADMIN, "POST": ADMIN},
    "accounts-api:apikey-detail": {"GET": ADMIN, "DELETE": ADMIN},
    "accounts-api:audit-list": {"GET": ADMIN},
    "accounts-api:audit-detail": {"GET": ADMIN},
    "accounts-api:signature-list": {"GET": SUPERVISOR},
    "accounts-api:signature-detail": {"GET": SUPERVISOR},
}
