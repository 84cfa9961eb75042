"""Kiln's own error pages (404, 403, 500), the page a non-engineer meets at /admin/, and /favicon.ico.

The 404 and 403 pages carry the HMI's nav and alarm banner for a signed-in user, so an operator who followed a
stale link is one click from where they were. The 500 page needs nothing that may have failed (no database, no
session): scada.outage.server_error renders it without a request, with a static nav. Under /api/ these handlers
answer plain responses that ApiErrorMiddleware turns into {"detail": ...}.
"""

from __future__ import annotations

from django.contrib import admin
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.templatetags.static import static

from scada.roles import Role

__all__ = ["page_not_found", "permission_denied", "admin_login", "favicon"]


def _page(request: HttpRequest, template: str, status: int, **extra) -> HttpResponse:
    from hmi.views import CSP, base_context

    ctx = {"request_path": request.path, **extra}
    user = getattr(request, "user", None)
    if user is not None and user.is_authenticated:
        ctx.update(base_context(request, ""))
    response = render(request, template, ctx, status=status)
    response["Content-Security-Policy"] = CSP
    return response


def page_not_found(request: HttpRequest, exception=None) -> HttpResponse:
    """handler404: Kiln's page with nav and banner (a plain 404 under /api/, made JSON by the middleware)."""
    if request.path.startswith("/api/"):
        return HttpResponse("Not found.", status=404, content_type="text/plain")
    return _page(request, "404.html", 404)


def permission_denied(request: HttpRequest, exception=None) -> HttpResponse:
    """handler403, including CSRF failures met by a page form."""
    if request.path.startswith("/api/"):
        return HttpResponse("Forbidden.", status=403, content_type="text/plain")
    return _page(request, "403.html", 403)


def admin_login(request: HttpRequest) -> HttpResponse:
    """/admin/login/: Django's admin login, except for a signed-in user below Engineer.

    Django would show them its login form with "You are authenticated as ..., but are not authorized": an
    operator who clicked a bookmark reads that as a fault. Kiln says what configuration is and who may do it,
    with the way back to the HMI (403: the answer is still a refusal).
    """
    user = request.user
    if user.is_authenticated and user.is_active and user.role < Role.ENGINEER:
        return _page(request, "hmi/admin_denied.html", 403, needed=Role.ENGINEER.label.capitalize())
    return admin.site.login(request)


def favicon(request: HttpRequest) -> HttpResponse:
    """/favicon.ico, which browsers and bookmarks ask for whatever the page links: Kiln's icon (SVG)."""
    response = HttpResponseRedirect(static("hmi/favicon.svg"))
    response.status_code = 301
    return response
