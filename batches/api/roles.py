"""The minimum role for each method of the batches app's API routes (seed 000 BATCH ENDPOINTS, plus the forms).

scada.api.matrix merges every app's api/roles.py into the one permission matrix; a route without an entry is
refused, and scada/tests/test_permission_matrix.py walks every URL to find one.
"""

from scada.api.matrix import OPERATOR, SUPERVISOR

ROUTE_ROLES = {
    "batches-api:batch-list": {"GET": OPERATOR},
    "batches-api:batch-detail": {"GET": OPERATOR},
    "batches-api:batch-start": {"POST": SUPERVISOR},
    "batches-api:batch-close": {"POST": SUPERVISOR},
    "batches-api:batch-abort": {"POST": SUPERVISOR},
    "batches-api:batch-comments": {"POST": OPERATOR},
    "batches-api:batch-deviations": {"POST": OPERATOR},
    # Following the phases is the operators' work; a phase's own e-signature needs whoever signs to prove it.
    "batches-api:batch-phase-confirm": {"POST": OPERATOR},
    "batches-api:batch-phase-enter": {"POST": OPERATOR},
    "batches-api:batch-phase-sign": {"POST": OPERATOR},
    "batches-api:recipe-list": {"GET": OPERATOR},
    "batches-api:recipe-detail": {"GET": OPERATOR},
}
