"""The minimum role for each method of the alarms app's API routes:
the alarm API and seed 004 device alarms.

scada.api.matrix merges every app's api/roles.py into the one permission matrix; a route without an entry is
refused, and scada/tests/test_permission_matrix.py walks every URL to find one.
"""

from scada.api.matrix import ENGINEER, OPERATOR, SUPERVISOR

ROUTE_ROLES = {
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
}
