"""Per-request context (request id, client IP) that the audit service reads without being passed a request.

contextvars work for both sync views and async consumers: each request or task gets its own copy.
"""

from contextvars import ContextVar

request_id: ContextVar[str | None] = ContextVar("kiln_request_id", default=None)
client_ip: ContextVar[str | None] = ContextVar("kiln_client_ip", default=None)
