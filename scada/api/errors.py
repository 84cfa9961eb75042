"""One exception handler for every API view: JSON {"detail": "..."} with the seed's status codes."""

from django.conf import settings
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import RequestDataTooBig
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from scada.api.ratelimit import count_refused_request
from scada.errors import KilnError
from scada.outage import database_unavailable, database_unavailable_response


def flatten_errors(data, prefix: str = "") -> list[str]:
    """DRF's nested error dicts/lists → ["field: message", ...] for a one-line detail."""
    if isinstance(data, dict):
        out = []
        for key, value in data.items():
            name = key if key != "non_field_errors" else ""
            out.extend(flatten_errors(value, f"{prefix}{name}" if not prefix or not name else f"{prefix}.{name}"))
        return out
    if isinstance(data, list):
        out = []
        for i, item in enumerate(data):
            if isinstance(item, dict):
                out.extend(flatten_errors(item, f"{prefix}[{i}]"))
            else:
                out.extend(flatten_errors(item, prefix))
        return out
    return [f"{prefix}: {data}" if prefix else str(data)]


class RequestTooLarge(exceptions.APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_detail = "Request body too large."
    default_code = "request_too_large"


def exception_handler(exc, context):
    if database_unavailable(exc):
        # Outside DRF's Response so the 503 looks the same wherever the outage surfaced (scada.outage).
        return database_unavailable_response(context["request"], exc)
    if isinstance(exc, exceptions.NotAuthenticated | exceptions.AuthenticationFailed | exceptions.PermissionDenied):
        request = context.get("request")
        if request is not None and not count_refused_request(request, context.get("view")):
            exc = exceptions.Throttled(wait=getattr(request._request, "kiln_wait", None))
    if isinstance(exc, KilnError):
        body = {"detail": exc.detail, **exc.extra}
        return Response(body, status=exc.status_code)
    if isinstance(exc, DjangoValidationError):
        exc = exceptions.ValidationError(detail=exc.message_dict if hasattr(exc, "error_dict") else exc.messages)
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    if isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied()
    if isinstance(exc, RequestDataTooBig):
        # A chunked body (no Content-Length for the middleware to check) is measured only as a view reads it.
        exc = RequestTooLarge(f"Request body too large (at most {settings.DATA_UPLOAD_MAX_MEMORY_SIZE} bytes).")

    response = drf_exception_handler(exc, context)
    if response is None:
        return None  # unexpected: ApiErrorMiddleware logs it and answers a 500 without a traceback
    if isinstance(exc, exceptions.ValidationError):
        errors = response.data
        response.data = {"detail": "; ".join(flatten_errors(errors)) or "Invalid input.", "errors": errors}
    elif isinstance(response.data, dict) and "detail" in response.data:
        response.data = {"detail": str(response.data["detail"])}
    if isinstance(exc, exceptions.Throttled):
        retry = exc.wait and int(exc.wait + 0.999)
        response.data = {"detail": f"API rate limit exceeded; retry in {retry} s."}
        request = context.get("request")
        info = getattr(getattr(request, "_request", None), "kiln_ratelimit", None) or {}
        if info.get("cost", 1) > 1:
            # A batch that does not fit: say what is left, so the client can send a smaller one now.
            response.data = {"detail": f"API rate limit exceeded: {info['cost']} writes asked, {info['remaining']} "
                                       f"left in this minute; retry in {retry} s.",
                             "remaining": info["remaining"]}
    if response.status_code == status.HTTP_401_UNAUTHORIZED:
        response["WWW-Authenticate"] = 'Bearer realm="api"'
    return response
