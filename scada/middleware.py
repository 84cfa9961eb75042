"""Request context and JSON errors for the API."""

import ipaddress
import logging
import re
import uuid
from functools import lru_cache

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured, RequestDataTooBig
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
        if isinstance(exception, RequestDataTooBig):
            # A body without Content-Length (chunked) is only measured as it is read, inside a view.
            return api_error_response(request, 413, body_too_large_message())
        logger.exception("Unhandled error in %s %s (request %s)", request.method, request.path,
                         getattr(request, "request_id", "-"))
        return JsonResponse(
            {"detail": f"Internal server error; request id {getattr(request, 'request_id', '-')}."}, status=500
        )


# Seed 004's device routes answer errors as {"error": {"code", "message", "details"}} (design.md); the codes
# are the device API's own (devices.api.views.ERROR_CODES), repeated here for the two statuses answered below.
_DEVICE_ROUTE_RE = re.compile(r"^/api/sites/[^/]+/devices(/|$)")
_DEVICE_ERROR_CODES = {400: "BAD_REQUEST", 413: "PAYLOAD_TOO_LARGE"}


def api_error_response(request, status: int, message: str) -> JsonResponse:
    """An API error answered by middleware, in the shape the route's own views use."""
    if _DEVICE_ROUTE_RE.match(request.path):
        code = _DEVICE_ERROR_CODES.get(status, "ERROR")
        return JsonResponse({"error": {"code": code, "message": message, "details": []}}, status=status)
    return JsonResponse({"detail": message}, status=status)


def body_too_large_message() -> str:
    return f"Request body too large (at most {settings.DATA_UPLOAD_MAX_MEMORY_SIZE} bytes)."


class ApiInputGuardMiddleware:
    """Under /api/, refuses a body over DATA_UPLOAD_MAX_MEMORY_SIZE (413) and NUL characters in the URL path
    or query string (400), before authentication and before any view or query runs.

    PostgreSQL text cannot hold NUL: a tag, machine, site or device id, or a `search` filter with one, failed
    as a DataError (500) in whichever query met it first. Refusing it here covers every route, present and
    future; NUL in JSON bodies is refused by the parser (scada.api.parsers). The size check reads only the
    Content-Length header, so an oversized login is refused without reading (or authenticating) it.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if request.path.startswith("/api/"):
            refusal = self._refusal(request)
            if refusal is not None:
                return refusal
        return self.get_response(request)

    def _refusal(self, request) -> JsonResponse | None:
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            return api_error_response(request, 400, "Content-Length must be a number of bytes.")
        if limit is not None and length > limit:
            return api_error_response(request, 413, body_too_large_message())
        if "\x00" in request.path:
            return api_error_response(request, 400, "The URL path must not contain NUL characters.")
        for key, values in request.GET.lists():
            if "\x00" in key or any("\x00" in value for value in values):
                name = key.replace("\x00", "\\0")
                return api_error_response(request, 400, f"Query parameter '{name}' must not contain NUL characters.")
        return None
