"""The permission matrix: route name → HTTP method → minimum role (seed 000 COMPLETE ENDPOINT REFERENCE).

Every API route must have an entry for each method it answers; tests/test_permission_matrix.py walks the
URL patterns and fails on a gap. PUBLIC routes need no token. Object-level rules (a tag's own write role)
are enforced by the services on top of this.
"""

from scada.roles import Role

PUBLIC = object()

OPERATOR, SUPERVISOR, ENGINEER, ADMIN = Role.OPERATOR, Role.SUPERVISOR, Role.ENGINEER, Role.ADMIN

ROUTE_ROLES: dict[str, dict[str, object]] = {
    # --- scada: system, schema ---
    "scada-api:schema": {"GET": PUBLIC},
    "scada-api:docs": {"GET": PUBLIC},
    "scada-api:system-health": {"GET": PUBLIC},
    "scada-api:system-status": {"GET": OPERATOR},
    # --- accounts: auth, users, API keys, audit ---
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
    # --- tags: seed 000/003 tag routes, seed 004 device routes ---
    "tags-api:tag-list": {"GET": OPERATOR, "POST": ENGINEER},
    "tags-api:tag-stats": {"GET": OPERATOR},
    "tags-api:tag-detail": {"GET": OPERATOR, "PUT": ENGINEER, "DELETE": ADMIN},
    "tags-api:tag-machine-detail": {"GET": OPERATOR, "PUT": ENGINEER, "DELETE": ADMIN},
    # Writes: Operator may reach the service, which enforces each tag's own write_role (default Supervisor).
    "tags-api:tag-write": {"POST": OPERATOR, "PUT": OPERATOR},
    "tags-api:tag-machine-write": {"POST": OPERATOR, "PUT": OPERATOR},
    "tags-api:tag-batch-write": {"POST": OPERATOR},
    # Seed 004 devices: Operator+ at the route; a tag's write_role and a command's min_role are enforced by services.
    "tags-api:device-list": {"GET": OPERATOR},
    "tags-api:device-detail": {"GET": OPERATOR},
    "tags-api:device-tag-list": {"GET": OPERATOR},
    "tags-api:device-tag-detail": {"GET": OPERATOR, "PUT": OPERATOR},
    "tags-api:device-command": {"POST": OPERATOR},
    # --- drivers ---
    "drivers-api:system-drivers": {"GET": ENGINEER},
    # --- historian ---
    "historian-api:tag-history": {"GET": OPERATOR},
    "historian-api:history": {"GET": OPERATOR},
    # --- alarms ---
    "alarms-api:alarm-list": {"GET": OPERATOR},
    "alarms-api:alarm-detail": {"GET": OPERATOR},
    "alarms-api:alarm-history": {"GET": OPERATOR},
    "alarms-api:alarm-kpis": {"GET": OPERATOR},
    "alarms-api:alarm-ack": {"POST": OPERATOR},
    "alarms-api:alarm-shelve": {"POST": SUPERVISOR},
    "alarms-api:alarm-unshelve": {"POST": SUPERVISOR},
    # Out of service is a management-of-change decision (ISA-18.2), beyond a shift's shelving.
    "alarms-api:alarm-out-of-service": {"POST": ENGINEER},
    "alarms-api:alarm-return-to-service": {"POST": ENGINEER},
    "alarms-api:device-alarm-list": {"GET": OPERATOR},
    "alarms-api:device-alarm-acknowledge": {"POST": OPERATOR},
    # --- hmi: screens ---
    "hmi-api:screen-list": {"GET": OPERATOR},
}
