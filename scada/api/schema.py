"""The OpenAPI schema's one AutoSchema: every operation lists the error statuses the shared API layer can answer.

Views document their own success bodies and their domain errors (409, 422, ...). The errors every route shares
come from one place instead of each view: the exception handler (400 for malformed JSON, unknown fields or bad
parameters), authentication (401, and 503 while the revocation store is down), the role matrix (403), object
lookups (404), the JSON-only parser (415) and the rate limit (429). A client generated from /api/schema/ then
knows every status a route can answer.
"""

from drf_spectacular.openapi import AutoSchema
from drf_spectacular.plumbing import get_override
from rest_framework import serializers

from scada.api.serializers import StrictInputSerializer

__all__ = ["KilnAutoSchema", "ErrorSerializer", "STANDARD_ERROR_DESCRIPTIONS", "NO_NUL_PATTERN", "no_nul_strings_hook"]


class ErrorSerializer(serializers.Serializer):
    """Every API error: {"detail": "..."}; a validation error adds DRF's per-field messages as `errors`."""

    detail = serializers.CharField()
    errors = serializers.JSONField(required=False, help_text="Per-field messages of a validation error (400).")


STANDARD_ERROR_DESCRIPTIONS = {
    "400": "Malformed JSON, an unknown or invalid field, or an invalid parameter.",
    "401": "Missing, invalid, expired or revoked token.",
    "403": "Insufficient role for this operation.",
    "404": "Not found.",
    "415": "Unsupported media type: the body must be application/json.",
    "429": "API rate limit exceeded; wait and retry.",
    "503": "Service temporarily unavailable (the token revocation or rate-limit store is unreachable).",
}


# Query parameters whose empty value is a 400 (scada.api.pagination.parse_limit_offset), not "not given".
STRICT_QUERY_PARAMETERS = {"limit", "offset"}


class KilnAutoSchema(AutoSchema):
    """drf-spectacular's AutoSchema plus the shared error responses (a view's own entry for a status wins).

    A view with another error body (seed 004's device API) names it in `schema_error_serializer`.
    """

    def _get_response_bodies(self, direction="response"):
        responses = super()._get_response_bodies(direction)
        if direction != "response":
            return responses
        error_serializer = getattr(self.view, "schema_error_serializer", ErrorSerializer)
        for code in self._standard_error_codes():
            if code not in responses:
                # In each media type the route renders: a CSV export's error is a one-cell CSV of the detail.
                responses[code] = self._get_response_for_code(error_serializer, code, direction=direction)
                responses[code]["description"] = STANDARD_ERROR_DESCRIPTIONS[code]
        return dict(sorted(responses.items()))

    def _get_parameters(self):
        parameters = super()._get_parameters()
        for parameter in parameters:
            schema = parameter.get("schema", {})
            typed = (schema.get("type") in ("integer", "number", "boolean")
                     or any(key in schema for key in ("format", "enum", "pattern")))
            optional = not parameter.get("required") and parameter["name"] not in STRICT_QUERY_PARAMETERS
            if parameter.get("in") == "query" and optional and typed:
                # Query parsing (django-filter, the query serializers, the tag list) reads `?start=` as "not given".
                parameter["allowEmptyValue"] = True
        return parameters

    def _get_serializer_field_meta(self, field, direction):
        meta = super()._get_serializer_field_meta(field, direction)
        override = get_override(field, "field")
        if isinstance(override, dict) and "minLength" in override:
            meta.pop("minLength", None)  # a documented_field's own minimum, not the generic "not blank" 1
        return meta

    def _map_basic_serializer(self, serializer, direction):
        schema = super()._map_basic_serializer(serializer, direction)
        if direction == "request" and isinstance(serializer, StrictInputSerializer):
            schema["additionalProperties"] = False  # it answers 400 on any field it does not declare
        return schema

    def _standard_error_codes(self) -> list[str]:
        codes = []
        has_body = self.method in ("POST", "PUT", "PATCH") and self.get_request_serializer() is not None
        query = [p for p in self._get_parameters() if p.get("in") == "query"]
        if has_body or query:
            codes.append("400")
        authenticated = bool(self.view.get_authenticators())
        if authenticated:
            codes += ["401", "503"]  # a token is read (even on a public route), and checked against Redis
        if self.get_auth():  # public routes declare auth=[]; every other one passes the role matrix
            codes.append("403")
        if "{" in self.path or any(p["name"] == "format" for p in query):
            codes.append("404")  # an unknown object, or DRF's answer to an unknown ?format=
        if has_body:
            codes.append("415")
        if self.view.get_throttles():
            codes.append("429")
            if getattr(self.view, "rate_scope", None) == "login" and "503" not in codes:
                codes.append("503")  # logins are refused while the rate-limit counter is unreachable
        return codes


# JSON Schema's own way to say "no U+0000": every string Kiln reads refuses NUL (PostgreSQL text cannot hold it),
# so a client generated from the schema, and the fuzz test, know it instead of learning it from a 400.
NO_NUL_PATTERN = "^[^\\u0000]*$"


def _no_nul(node) -> None:
    if isinstance(node, list):
        for item in node:
            _no_nul(item)
        return
    if not isinstance(node, dict):
        return
    if node.get("type") == "string" and not {"enum", "pattern", "format"} & node.keys():
        node["pattern"] = NO_NUL_PATTERN
    for value in node.values():
        _no_nul(value)


def no_nul_strings_hook(result, generator, request, public):
    """drf-spectacular postprocessing hook: request bodies' and parameters' free strings get NO_NUL_PATTERN."""
    for name, component in result.get("components", {}).get("schemas", {}).items():
        if name.endswith("Request"):
            _no_nul(component)
    for path in result.get("paths", {}).values():
        for operation in path.values():
            if not isinstance(operation, dict):
                continue
            for parameter in operation.get("parameters", []):
                _no_nul(parameter.get("schema"))
            for media in operation.get("requestBody", {}).get("content", {}).values():
                schema = media.get("schema", {})
                if "$ref" not in schema:
                    _no_nul(schema)
    return result
