"""No report parameter, however hostile, answers 5xx or leaves a run behind (the shared fuzz never sends a valid
format, so it stops before the parameters)."""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from reports.models import ReportRun

HOSTILE = ["", "\x00", "a\x00b", "\ud800", "x" * 5000, "now-99999d", "now+1d", "today-0m", "9999-12-31T23:59:59Z",
           "0001-01-01T00:00:00+05:00", "2026-02-30T00:00:00Z", "1e308", "NaN", "-1", "0", "99999999999999999999"]
value = st.one_of(st.sampled_from(HOSTILE), st.integers(), st.floats(), st.booleans(), st.none(),
                  st.lists(st.sampled_from(HOSTILE + ["high", "Reactor_Temp"]), max_size=3),
                  st.dictionaries(st.text(max_size=5), st.integers(), max_size=2))
NAMES = ["start", "end", "tags", "mode", "interval", "priority", "event", "state", "tag", "machine", "user",
         "action", "action_prefix", "object_type", "object_id", "hours", "batch"]


@pytest.mark.django_db
@pytest.mark.parametrize("report", ["tag-history", "alarm-journal", "audit-trail", "shift", "alarm-kpis",
                                    "batch-record"])
@pytest.mark.parametrize("fmt", ["csv", "pdf"])
def test_it_never_answers_5xx_to_hostile_parameters(admin_client, plant, report, fmt):
    @settings(max_examples=25, deadline=None, derandomize=True, database=None,
              suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
    @given(params=st.dictionaries(st.sampled_from(NAMES), value, max_size=4))
    def run(params):
        before = ReportRun.objects.count()
        body = json.dumps({"format": fmt, "parameters": params})  # ASCII: a lone surrogate goes as \\ud800
        response = admin_client.generic("POST", f"/api/reports/{report}/generate", body,
                                        content_type="application/json")
        assert response.status_code < 500, (params, response.status_code, response.content[:300])
        if response.status_code == 400:  # refused before anything is recorded (the parser refuses NUL itself)
            assert response.json()["detail"].startswith(("parameters.", "parameters:", "JSON strings"))
            assert ReportRun.objects.count() == before

    run()
