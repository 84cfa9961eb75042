"""Domain errors that services raise; the API turns each into {"detail": ...} with its status code.

Services stay free of DRF, yet a view never has to translate an error by hand.
"""


class KilnError(Exception):
    status_code = 400
    default_detail = "Bad request."

    def __init__(self, detail: str | None = None, *, extra: dict | None = None):
        self.detail = detail or self.default_detail
        self.extra = extra or {}
        super().__init__(self.detail)


class BadRequest(KilnError):
    status_code = 400


class PermissionDenied(KilnError):
    status_code = 403
    default_detail = "You do not have permission to perform this action."


class NotFound(KilnError):
    status_code = 404
    default_detail = "Not found."


class Conflict(KilnError):
    status_code = 409
    default_detail = "Conflict."


class Unprocessable(KilnError):
    status_code = 422
    default_detail = "Unprocessable entity."


class ServiceUnavailable(KilnError):
    """A dependency this request needs (another Kiln, a remote service) cannot answer now."""

    status_code = 503
    default_detail = "Service unavailable."
