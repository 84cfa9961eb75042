"""Request context and JSON errors for the API."""

import ipaddress
import logging
import re
import uuid
from functools import lru_cache

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.http import JsonResponse

from scada import context
from scada.outage import database_unavailable, database_unavailable_response

logger = logging.getLogger(__name__)

_REQUEST_ID_RE = re.compile(r"[A-Za-z0-9._:-]{1,64}")


@lru_cache(maxsize=8)
def _trusted_networks(entries: tuple[str, ...]) -> tuple:
    """TRUSTED_PROXIES entries (addresses or CIDR networks) parsed once; a malformed entry is a startup error."""
    networks = []
    for entry in entries:
        try:
            networks.append(ipaddress.ip_network(entry, strict=False))
        except ValueError:
            raise ImproperlyConfigured(f"TRUSTED_PROXIES: {entry!r} is not an IP address or network")
    return tuple(networks)


def _is_trusted(address: str, networks: tuple) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in net for net in networks)


def client_ip_from_meta(meta: dict) -> str | None:
    """The client's address: the socket peer, or X-Forwarded-For only when that peer is a trusted proxy.

    Walks X-Forwarded-For from the right and stops at the first hop that is not a trusted proxy, so a client
    cannot forge its address by sending its own header: the hops left of it were written by the client.
    """
    peer = meta.get("REMOTE_ADDR") or None
    networks = _trusted_networks(tuple(settings.TRUSTED_PROXIES))
    if not peer or not networks or not _is_trusted(peer, networks):
        return peer
    forwarded = [hop.strip() for hop in meta.get("HTTP_X_FORWARDED_FOR", "").split(",") if hop.strip()]
    for hop in reversed(forwarded):
        try:
            ipaddress.ip_address(hop)
        except ValueError:
            return peer  # garbage in the header: believe only the socket
        if not _is_trusted(hop, networks):
            return hop
    return peer


class RequestContextMiddleware:
    """Sets a request id (X-Request-ID in, or a new one) and the client IP for the audit trail."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        rid = request.headers.get("X-Request-ID", "")
        if not _REQUEST_ID_RE.fullmatch(rid):
            # A caller's id is kept for tracing across systems, but only if it cannot forge log or audit lines.
            rid = uuid.uuid4().hex
        request.request_id = rid
        request.client_ip = client_ip_from_meta(request.META)
        t1 = context.request_id.set(rid)
        t2 = context.client_ip.set(request.client_ip)
        try:
            response = self.get_response(request)
        finally:
            context.request_id.reset(t1)
            context.client_ip.reset(t2)
        response["X-Request-ID"] = rid
        info = getattr(request, "kiln_ratelimit", None)
        if info is not None:
            response["X-RateLimit-Limit"] = str(info["limit"])
            response["X-RateLimit-Remaining"] = str(info["remaining"])
        return response


class ApiErrorMiddleware:
    """Under /api/, Django's HTML 404/405/500 pages become {"detail": ...} with the same status.

    DRF views already answer JSON; this catches what never reaches a view (unknown routes) and any
    exception that escapes one, without leaking a traceback.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if not request.path.startswith("/api/"):
            return response
        ctype = response.get("Content-Type", "")
        if response.status_code >= 400 and "json" not in ctype and "csv" not in ctype:
            detail = {404: "Not found.", 405: "Method not allowed.", 400: "Bad request.", 403: "Forbidden."}.get(
                response.status_code, "Internal server error; the request id is in the server log."
            )
            return JsonResponse({"detail": detail}, status=response.status_code)
        return response

    def process_exception(self, request, exception):
        if database_unavailable(exception):
            return database_unavailable_response(request, exception)  # 503 on any page, not only /api/
        if not request.path.startswith("/api/"):
            return None
        logger.exception("Unhandled error in %s %s (request %s)", request.method, request.path,
                         getattr(request, "request_id", "-"))
        return JsonResponse(
            {"detail": f"Internal server error; request id {getattr(request, 'request_id', '-')}."}, status=500
        )
