"""The HMI's Reports page. Like every HMI page it only reads: the page's script lists the reports and their
parameters from GET /api/reports and generates through the REST API (static/reports/js/reports.js), which checks
the role and the parameters and audits every generation and download."""

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from hmi.views import base_context, hmi_page


@hmi_page
def reports_view(request: HttpRequest) -> HttpResponse:
    return render(request, "reports/reports.html", {**base_context(request, "reports"),
                                                    "plant_zone": settings.KILN_PLANT_TIME_ZONE})
