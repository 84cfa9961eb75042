"""The minimum role for each method of the reports app's API routes.

Listing and generating are Operator+ (seed 000); a definition may ask for more (audit-trail: Admin), which the
selectors enforce per definition. scada.api.matrix merges this into the one permission matrix.
"""

from scada.api.matrix import OPERATOR

ROUTE_ROLES = {
    "reports-api:report-list": {"GET": OPERATOR},
    "reports-api:report-generate": {"POST": OPERATOR},
    "reports-api:run-list": {"GET": OPERATOR},
    "reports-api:run-detail": {"GET": OPERATOR},
    "reports-api:run-download": {"GET": OPERATOR},
    "reports-api:run-cancel": {"POST": OPERATOR},
}
