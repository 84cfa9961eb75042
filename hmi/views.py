"""HMI pages: thin views that gather context from hmi.selectors and render templates.

Every page is session-authenticated. What a page offers follows the user's role, but nothing here changes
state: writes, commands, acknowledgements and shelving go from the browser to the REST API, which enforces
and audits them. The only POSTs here are login/logout and the page's API token.
"""

from __future__ import annotations

import functools

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_protect
from django.views.decorators.http import require_POST

from alarms.selectors import alarm_limits, alarm_tag_decimals
from hmi import selectors
from hmi.auth import (
    HmiLoginForm,
    HmiTokenError,
    HmiTokenUnavailable,
    hmi_access_token,
    hmi_session_close,
    hmi_session_open,
)
from hmi.models import Screen
from scada.api.renderers import iso_utc
from scada.roles import Role

# The pages load nothing from anywhere but Kiln itself (plants are often offline, and an uploaded drawing must
# not be able to call out). Inline styles stay allowed for SVG presentation attributes.
CSP = ("default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
       "connect-src 'self' ws: wss:; font-src 'self'; object-src 'none'; base-uri 'self'; form-action 'self'; "
       "frame-ancestors 'none'")

TREND_RANGES = [("1h", "Last hour", 3600), ("8h", "Shift (8 h)", 8 * 3600), ("24h", "Day", 86400),
                ("custom", "Custom", None)]


def hmi_page(view):
    """Login required, never cached, and the HMI's Content-Security-Policy on the response."""

    @functools.wraps(view)
    @never_cache
    @login_required
    def wrapper(request, *args, **kwargs):
        response = view(request, *args, **kwargs)
        response["Content-Security-Policy"] = CSP
        return response

    return wrapper


def page_config(request: HttpRequest, **extra) -> dict:
    """The JSON every page's script reads (json_script): who is logged in and what they may do."""
    user = request.user
    return {
        "user": user.username,
        "role": user.role_name,
        "role_level": int(user.role),
        "roles": {r.label: int(r) for r in Role},
        "session_seconds": settings.SESSION_COOKIE_AGE,
        "time_zone": settings.KILN_PLANT_TIME_ZONE,  # times on every page are shown in it (kiln.js fmtTime)
        "urls": {"token": reverse("hmi:token"), "lock": reverse("hmi:lock"), "login": reverse("hmi:login"),
                 "trends": reverse("hmi:trends"), "ws": "/ws"},
        **extra,
    }


LIVE_UNAVAILABLE = ("Degraded: live values are unavailable (Redis unreachable). Values are shown as unknown; "
                    "the page recovers by itself once Redis is back.")


def base_context(request: HttpRequest, active: str, **config) -> dict:
    return {
        # A banner on top of the page (base.html) when part of what it shows could not be read.
        "degraded": LIVE_UNAVAILABLE if config.get("live_unavailable") else "",
        "active": active,
        "config": page_config(request, **config),
        "nav_screens": selectors.screen_list().values("name", "slug"),
        "can_supervise": request.user.role >= Role.SUPERVISOR,
        "can_configure": request.user.role >= Role.ENGINEER,
        "time_zone": settings.KILN_PLANT_TIME_ZONE,
    }


# --- login / logout / token ------------------------------------------------------------------------------

@never_cache
@csrf_protect
def login_view(request: HttpRequest) -> HttpResponse:
    """Django's login flow on top of accounts.services.auth_login (lockout, audit, rate limit)."""
    next_url = request.POST.get("next") or request.GET.get("next") or "/"
    if not url_has_allowed_host_and_scheme(next_url, allowed_hosts={request.get_host()},
                                           require_https=request.is_secure()):
        next_url = "/"
    if request.method == "POST":
        form = HmiLoginForm(request, data=request.POST)
        if form.is_valid():
            hmi_session_open(request, form.result)
            return redirect(next_url)
    else:
        form = HmiLoginForm(request)
    response = render(request, "registration/login.html", {
        "form": form, "next": next_url, "locked": request.GET.get("locked") == "1",
        "session_minutes": settings.SESSION_COOKIE_AGE // 60,
    })
    response["Content-Security-Policy"] = CSP
    return response


@require_POST
@csrf_protect
def logout_view(request: HttpRequest) -> HttpResponse:
    hmi_session_close(request, reason="HMI logout")
    return redirect(reverse("hmi:login"))


@require_POST
@csrf_protect
def lock_view(request: HttpRequest) -> HttpResponse:
    """The page locked itself after SESSION_COOKIE_AGE without activity: end the session server-side too."""
    if request.user.is_authenticated:
        hmi_session_close(request, reason="HMI locked after inactivity")
    return JsonResponse({"detail": "Locked."})


@never_cache
@require_POST
@csrf_protect
def token_view(request: HttpRequest) -> HttpResponse:
    """POST /hmi/token: a short-lived access token for the logged-in session user (CSRF-protected)."""
    if not request.user.is_authenticated:
        return JsonResponse({"detail": "Not logged in."}, status=401)
    try:
        result = hmi_access_token(request)
    except HmiTokenUnavailable as exc:
        return JsonResponse({"detail": str(exc)}, status=503)  # the page retries; the session stays open
    except HmiTokenError as exc:
        hmi_session_close(request, reason=str(exc)[:200])
        return JsonResponse({"detail": str(exc)}, status=401)
    user = result["user"]
    return JsonResponse({"token": result["token"], "expires_at": iso_utc(result["expires_at"]),
                         "username": user.username, "role": user.role_name, "role_level": int(user.role)})


# --- pages -----------------------------------------------------------------------------------------------

@hmi_page
def home_view(request: HttpRequest) -> HttpResponse:
    screen = selectors.screen_home()
    if screen is None:
        return render(request, "hmi/screen_list.html", {**base_context(request, "screens"), "screens": []})
    return _render_screen(request, screen)


@hmi_page
def screen_view(request: HttpRequest, slug: str) -> HttpResponse:
    return _render_screen(request, get_object_or_404(Screen, slug=slug))


def _render_screen(request: HttpRequest, screen: Screen) -> HttpResponse:
    ctx = selectors.screen_context(screen)
    return render(request, "hmi/screen.html", {
        **base_context(request, "screen:" + screen.slug, screen={"slug": screen.slug, "name": screen.name}, **ctx),
        "screen": screen,
    })


@hmi_page
def screen_list_view(request: HttpRequest) -> HttpResponse:
    screens = [{"screen": s, "tags": s.tag_names} for s in selectors.screen_list()]
    return render(request, "hmi/screen_list.html", {**base_context(request, "screens"), "screens": screens})


@hmi_page
def editor_view(request: HttpRequest, slug: str | None = None) -> HttpResponse:
    """The screen editor (Engineer+): a screen, or a new one, edited in the browser and saved through the API."""
    if request.user.role < Role.ENGINEER:
        raise PermissionDenied("The screen editor is for engineers.")
    screen = get_object_or_404(Screen, slug=slug) if slug else None
    ctx = selectors.editor_context(screen)
    return render(request, "hmi/editor.html", {
        **base_context(request, "editor", editor=ctx["editor"], tags=ctx["tags"], devices=ctx["devices"], live={}),
        "screen": screen,
    })


@hmi_page
def tags_view(request: HttpRequest) -> HttpResponse:
    q = request.GET
    try:
        offset = max(0, int(q.get("offset", 0)))
    except ValueError:
        offset = 0
    filters = {"search": q.get("search", "").strip()[:100], "machine": q.get("machine", "").strip()[:64],
               "datatype": q.get("datatype", ""), "quality": q.get("quality", ""),
               "writable": q.get("writable") == "1"}
    if filters["datatype"] not in ("", "BOOL", "INT", "REAL", "STRING"):
        filters["datatype"] = ""
    if filters["quality"] not in ("", "GOOD", "UNCERTAIN", "BAD", "NONE"):
        filters["quality"] = ""
    page = selectors.tag_browser_page(**filters, limit=100, offset=offset)
    from tags.models import Machine

    machines = list(Machine.objects.order_by("machine_id").values_list("machine_id", flat=True))
    ctx = base_context(request, "tags", tags=page["tags"], live=page["live"], devices=page["devices"],
                       order=page["order"], live_unavailable=page["live_unavailable"],
                       alarm_limits=page["alarm_limits"])
    querystring = q.copy()
    querystring.pop("offset", None)
    return render(request, "hmi/tags.html", {
        **ctx, "filters": filters, "machines": machines, "page": page,
        "rows": [page["tags"][n] for n in page["order"]],
        "page_end": offset + len(page["order"]),
        "prev_offset": max(0, offset - 100) if offset else None,
        "next_offset": offset + 100 if offset + 100 < page["total"] else None,
        "querystring": querystring.urlencode(),
    })


@hmi_page
def trends_view(request: HttpRequest) -> HttpResponse:
    from tags.models import Tag

    names = [n for n in request.GET.get("tags", "").split(",") if n][:8]
    tag_cfg = selectors.tag_config(names)
    all_names = list(Tag.objects.filter(is_active=True).order_by("name").values_list("name", flat=True)[:5000])
    rng = request.GET.get("range", "1h")
    if rng not in {r[0] for r in TREND_RANGES}:
        rng = "1h"
    return render(request, "hmi/trends.html", {
        **base_context(request, "trends", trend={"tags": [n for n in names if n in tag_cfg], "range": rng,
                                                  "start": request.GET.get("start"), "end": request.GET.get("end")},
                       tags=tag_cfg, alarm_limits=alarm_limits(tag_cfg)),
        "all_names": all_names, "ranges": TREND_RANGES, "range": rng,
        "unknown": [n for n in names if n not in tag_cfg],
    })


@hmi_page
def alarms_view(request: HttpRequest) -> HttpResponse:
    return render(request, "hmi/alarms.html", {**base_context(request, "alarms")})


@hmi_page
def journal_view(request: HttpRequest) -> HttpResponse:
    return render(request, "hmi/journal.html", {**base_context(request, "journal",
                                                               tag_decimals=alarm_tag_decimals())})


@hmi_page
def kpis_view(request: HttpRequest) -> HttpResponse:
    return render(request, "hmi/kpis.html", {**base_context(request, "kpis")})
