"""A bounded schemathesis run against the whole API, in-process: the schema at /api/schema/ must tell the truth.

Every check schemathesis has (no 5xx, every status and body documented, schema-valid requests accepted,
schema-invalid ones refused, ...) over every operation but logout, as Admin and as Operator.
"""

import re

import pytest
import schemathesis
from django.core import signals
from django.db import close_old_connections
from hypothesis import HealthCheck, settings
from schemathesis.specs.openapi.checks import positive_data_acceptance

from accounts.tokens import issue_token_pair
from scada.roles import Role

MAX_EXAMPLES = 15
# Whole configuration bundles: a few generated bundles cover the routes' schema (no 5xx, statuses documented);
# deploy/tests prove the bundle rules themselves (every problem listed, nothing changed).
BUNDLE_ROUTES = r"^/api/(config/import|system/deploy/receive)$"

# Refusals that depend on data or on several parameters together, which an OpenAPI 3.0 schema cannot state:
# a 400 whose detail matches is not "a schema-valid request rejected". Every other check still applies.
TAG_LIMIT_RULES = r"^min_value: (min_value must be less than max_value|\w+ tags have no limits)"

SCREEN_RULES = r"^(svg: |bindings: |slug: .*already exists)"

# Every string field states "no NUL" by its pattern (scada.api.schema.no_nul_strings_hook), but OpenAPI 3.0 cannot
# say it of an object's keys: the JSON parser's own refusal of a NUL anywhere in the body stays excused.
PARSER_NUL_REFUSAL = r"^JSON strings must not contain NUL characters"

DATA_DEPENDENT_REFUSALS = {
    ("POST", "/api/tags"): TAG_LIMIT_RULES,  # min < max; BOOL and STRING tags take no limits
    ("PUT", "/api/tags/{name}"): TAG_LIMIT_RULES,
    ("PUT", "/api/tags/{machine_id}/{name}"): TAG_LIMIT_RULES,
    ("POST", "/api/api-keys"): r"^user: Invalid pk",  # the account must exist
    ("POST", "/api/users"): r"^password: .*(too common|too similar|entirely numeric)",  # password validators
    ("PUT", "/api/users/{id}"): r"^password: .*(too common|too similar|entirely numeric)",
    ("PATCH", "/api/users/{id}"): r"^password: .*(too common|too similar|entirely numeric)",
    ("GET", "/api/alarms/kpis"): r"KPI window is at most 31 days|start must be before end",
    ("GET", "/api/history"): r"mode=raw returns every stored sample|needs interval|end must be after start",
    ("GET", "/api/tags/{name}/history"): r"mode=raw returns every stored sample|needs interval|end must be after start",
    # A screen's drawing must be an SVG document and its bindings name ids in it and tags that exist.
    ("POST", "/api/screens"): SCREEN_RULES,
    ("PUT", "/api/screens/{slug}"): SCREEN_RULES,
    # A bundle's items are checked against each other and the model rules (references, overlaps, min < max): 422.
    ("POST", "/api/config/import"): r"^Bundle refused, nothing changed",
}


def _load_schemas():
    """The schema /api/schema/ serves, generated at collection (no request: that needs no database): for every
    route but the bundle routes with all of schemathesis' phases; for those without the coverage phase, which
    walks every boundary of every nested bundle field (hundreds of whole-bundle imports, a minute and more)."""
    from drf_spectacular.generators import SchemaGenerator

    from scada.wsgi import application

    document = SchemaGenerator().get_schema(request=None, public=True)
    loaded, bundles = schemathesis.openapi.from_dict(document), schemathesis.openapi.from_dict(document)
    loaded.app = bundles.app = application
    bundles.config.phases.coverage.enabled = False
    return (loaded.exclude(path_regex=r"^/api/auth/logout$").exclude(path_regex=BUNDLE_ROUTES),
            bundles.include(path_regex=BUNDLE_ROUTES))


schema, bundle_schema = _load_schemas()


@pytest.fixture(params=[Role.ADMIN, Role.OPERATOR], ids=["admin", "operator"])
def fuzz_user(request, db, make_user, settings):
    """The user every request is made as, plus a second account for the user routes to act on."""
    settings.KILN_RATE_LIMIT_ENABLED = False
    # The WSGI handler closes "old" connections around each request; inside the test's transaction that would
    # drop it, so the calls share the test's connection as Django's own test client does.
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    user = make_user(f"fuzz-{Role(request.param).label.lower()}", request.param)
    make_user("fuzz-target", Role.OPERATOR)
    yield user
    signals.request_started.connect(close_old_connections)
    signals.request_finished.connect(close_old_connections)


def json_detail(response) -> str:
    """The refusal's detail, or "" when the body is not a JSON object (a CSV route refuses in CSV)."""
    try:
        body = response.json()
    except ValueError:
        return ""
    return str(body.get("detail", "")) if isinstance(body, dict) else ""


def _answers_as_the_schema_says(case, fuzz_user):
    if not case.operation.schema.is_security_param_negated(case):  # a case testing "no token" goes without one
        # A fresh token per case: a password change in an earlier case may have ended the previous session.
        case.headers = {**(case.headers or {}), "Authorization": f"Bearer {issue_token_pair(fuzz_user)['token']}"}
    response = case.call()
    excluded = []
    refusal = DATA_DEPENDENT_REFUSALS.get((case.method.upper(), case.path))
    refusal = f"{refusal}|{PARSER_NUL_REFUSAL}" if refusal else PARSER_NUL_REFUSAL
    if refusal and response.status_code in (400, 422) and re.search(refusal, json_detail(response)):
        excluded = [positive_data_acceptance]
    case.validate_response(response, excluded_checks=excluded)


@schema.parametrize()
@settings(max_examples=MAX_EXAMPLES, deadline=None, derandomize=True, database=None,
          suppress_health_check=list(HealthCheck))
def test_it_answers_as_the_schema_says(case, fuzz_user):
    _answers_as_the_schema_says(case, fuzz_user)


@bundle_schema.parametrize()
@settings(max_examples=MAX_EXAMPLES, deadline=None, derandomize=True, database=None,
          suppress_health_check=list(HealthCheck))
def test_the_bundle_routes_answer_as_the_schema_says(case, fuzz_user):
    _answers_as_the_schema_says(case, fuzz_user)
