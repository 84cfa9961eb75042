"""Route roles of live's documentation routes (scada.api.matrix merges every app's ROUTE_ROLES)."""

from scada.api.matrix import PUBLIC

ROUTE_ROLES = {
    "live-api:asyncapi": {"GET": PUBLIC},
    "live-api:ws-docs": {"GET": PUBLIC},
}
