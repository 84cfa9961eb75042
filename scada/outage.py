"""Database outages answered in one place: 503 with a reason, never a 500 or a hang.

A request that meets an unreachable, hung or overloaded database (connection refused, connect or pool timeout,
statement timeout, a connection lost mid-request) gets 503 and `{"detail": "Database unavailable: <reason>"}`
under /api/, or a short HTML page elsewhere (HMI, admin). The hangs are bounded by the settings
DB_CONNECT_TIMEOUT, DB_POOL_TIMEOUT and DB_STATEMENT_TIMEOUT_MS; this module turns what they raise into answers.

Three entry points catch the error wherever it surfaces: the DRF exception handler (API views), the
ApiErrorMiddleware's process_exception (other views) and `server_error` (handler500: middleware such as the
session save, which Django turns into a 500 before any outer middleware sees the exception).
"""

from __future__ import annotations

import logging
import sys

from django import db
from django.http import HttpResponse, JsonResponse
from django.template.loader import render_to_string
from django.views import defaults

logger = logging.getLogger(__name__)

__all__ = ["database_unavailable", "database_unavailable_reason", "database_unavailable_response", "server_error",
           "RETRY_AFTER_SECONDS"]

RETRY_AFTER_SECONDS = 5


def database_unavailable(exc: BaseException | None) -> bool:
    """True for errors that mean "the database cannot answer now", as opposed to a bug or bad data."""
    if isinstance(exc, (db.OperationalError, db.InterfaceError)):
        return True
    try:  # psycopg errors that escaped Django's wrapper (a pool timeout raised while opening a connection)
        import psycopg
    except ImportError:  # pragma: no cover - SQLite-only installs
        return False
    return isinstance(exc, (psycopg.OperationalError, psycopg.InterfaceError))


def database_unavailable_reason(exc: BaseException) -> str:
    """A short reason for the client. The server's address and the driver's text stay in the log."""
    text = str(exc).lower()
    cause = exc.__cause__
    name = type(cause or exc).__name__
    if name == "QueryCanceled" or "statement timeout" in text:
        return "a query took too long (statement timeout)"
    if name == "PoolTimeout" or "couldn't get a connection" in text:
        return "no database connection became available in time"
    if "timeout expired" in text or "timed out" in text:
        return "connection timed out"
    if "refused" in text:
        return "connection refused"
    if "closed" in text or "terminat" in text or "lost" in text or "server closed" in text:
        return "connection lost"
    if "locked" in text or name == "LockNotAvailable":
        return "the database is busy (lock timeout)"
    return "cannot reach the database"


def database_unavailable_response(request, exc: BaseException) -> HttpResponse:
    """The 503 for a request that met a database outage: JSON under /api/, a readable page elsewhere."""
    rid = getattr(request, "request_id", "-")
    reason = database_unavailable_reason(exc)
    logger.error("Database unavailable in %s %s (request %s): %s", request.method, request.path, rid,
                 str(exc).strip().splitlines()[0][:300] if str(exc).strip() else type(exc).__name__)
    detail = f"Database unavailable: {reason}; try again shortly."
    if request.path.startswith("/api/"):
        response = JsonResponse({"detail": detail}, status=503)
    else:
        # Rendered without the request: context processors would touch the session and user, i.e. the database.
        response = HttpResponse(render_to_string("503.html", {"detail": detail, "request_id": rid}), status=503)
    response["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return response


def server_error(request, template_name: str = "500.html") -> HttpResponse:
    """handler500: a database outage raised outside a view (in middleware) still answers 503."""
    exc = sys.exc_info()[1]  # Django calls handler500 inside its `except`, so the exception is at hand
    if database_unavailable(exc):
        return database_unavailable_response(request, exc)
    if request.path.startswith("/api/"):
        return JsonResponse({"detail": f"Internal server error; request id {getattr(request, 'request_id', '-')}."},
                            status=500)
    return defaults.server_error(request, template_name)
