"""Which app answers a route does not depend on the order of the includes in scada/urls.py."""

import pytest
from django.urls import resolve

PATHS = {
    "/api/tags/Reactor_Temp/history": "historian-api:tag-history",
    "/api/tags/pump-01.Speed/history": "historian-api:tag-history",
    "/api/tags/line-1/Reactor_Temp": "tags-api:tag-machine-detail",
    "/api/tags/Reactor_Temp/write": "tags-api:tag-write",
    "/api/tags/stats": "tags-api:tag-stats",
    "/api/history": "historian-api:history",
    "/api/alarms/history": "alarms-api:alarm-history",
    "/api/system/drivers": "drivers-api:system-drivers",
}


@pytest.mark.parametrize("urlconf", ["scada.urls", "scada.tests.urls_reversed"])
@pytest.mark.parametrize(("path", "view_name"), PATHS.items())
def test_it_routes_each_path_to_its_app_in_any_include_order(urlconf, path, view_name):
    assert resolve(path, urlconf=urlconf).view_name == view_name

