"""The engineer's diagnostics in the connection admin (issue 16 §3): live state, "Test connection", address map.

Live state comes from the drivers' own read side (drivers.selectors.connection_status_rows, the same rows as
GET /api/system/drivers), fetched once per changelist page in one Redis pipeline, never per row. The test is
drivers.diagnostics.connection_test (audited, a short link of its own); the map is connection_address_map.
"""

from __future__ import annotations

import csv

from django.contrib import admin, messages
from django.contrib.admin.views.main import ChangeList
from django.http import HttpResponse
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html

from drivers.diagnostics import connection_address_map, connection_test
from drivers.models import Connection
from drivers.selectors import connection_queryset, connection_status_rows

__all__ = ["ConnectionDiagnosticsMixin"]

STATE_WORDS = {"connected": "connected", "connecting": "connecting", "backoff": "error (reconnecting)",
               "stopped": "disconnected (no worker)", "disabled": "disabled"}


class _LiveChangeList(ChangeList):
    def get_results(self, request):
        super().get_results(request)
        rows = {r["id"]: r for r in connection_status_rows(list(self.result_list))}
        for obj in self.result_list:
            obj.live = rows.get(obj.pk, {})


def _live(obj) -> dict:
    live = getattr(obj, "live", None)
    if live is None:  # the change page: one connection
        live = obj.live = (connection_status_rows([obj]) or [{}])[0]
    return live


class ConnectionDiagnosticsMixin:
    """Mixed into ConnectionAdmin: status columns, the status block, the test action and view, the address map."""

    diagnostics_list_display = ["live_state", "last_good_poll", "poll_ms", "values_per_s", "tags_bad", "last_error"]

    def get_queryset(self, request):
        # The tag count per connection comes with the page's query (drivers.selectors), not one query per row.
        return connection_queryset()

    def get_changelist(self, request, **kwargs):
        return _LiveChangeList

    # --- columns ------------------------------------------------------------------------------------------------
    @admin.display(description="state")
    def live_state(self, obj):
        state = _live(obj).get("state", "")
        colour = {"connected": "#1a7f37", "backoff": "#b42318", "stopped": "#b42318"}.get(state, "#555")
        return format_html('<span style="color:{}">{}</span>', colour, STATE_WORDS.get(state, state))

    @admin.display(description="last good poll (UTC)")
    def last_good_poll(self, obj):
        return (_live(obj).get("last_poll") or "—").replace("T", " ")

    @admin.display(description="poll p50/p99 ms")
    def poll_ms(self, obj):
        live = _live(obj)
        if live.get("poll_ms_p99") is None:
            return "—"  # OPC UA and Sparkplug are pushed to, not polled
        return f"{live['poll_ms_p50']:g} / {live['poll_ms_p99']:g}"

    @admin.display(description="values/s")
    def values_per_s(self, obj):
        return f"{_live(obj).get('values_per_s') or 0.0:,.1f}"

    @admin.display(description="tags BAD")
    def tags_bad(self, obj):
        live = _live(obj)
        return f"{live.get('tags_bad') or 0} of {live.get('tags') or 0}"

    @admin.display(description="last error")
    def last_error(self, obj):
        live = _live(obj)
        if not live.get("last_error"):
            return "—"
        return format_html("{} <small>({})</small>", live["last_error"][:120],
                           (live.get("last_error_at") or "").replace("T", " "))

    @admin.display(description="Live status")
    def live_status(self, obj):
        if obj is None or obj.pk is None:
            return "—"
        live = _live(obj)
        return format_html(
            "<strong>{}</strong>; last good poll {}; {} values/s; {} tags BAD; poll p50/p99 {} ms; "
            "{} errors, {} reconnects; last error: {}<br>"
            '<a href="{}">Test connection</a> · <a href="{}">{}</a>',
            STATE_WORDS.get(live.get("state", ""), live.get("state", "")), self.last_good_poll(obj),
            self.values_per_s(obj), self.tags_bad(obj), self.poll_ms(obj),
            live.get("errors", 0), live.get("reconnects", 0), live.get("last_error") or "none",
            reverse("admin:drivers_connection_test", args=[obj.pk]),
            reverse("admin:drivers_connection_map", args=[obj.pk]),
            "Node map" if obj.protocol == "opcua" else "Register map")

    # --- test connection ----------------------------------------------------------------------------------------
    def has_test_permission(self, request, obj=None):
        return request.user.has_perm("drivers.change_connection")  # Engineer+ (accounts.models.User.has_perm)

    @admin.action(description="Test connection (connect to the PLC or server now)", permissions=["test"])
    def test_connection(self, request, queryset):
        for conn in queryset[:20]:
            self._report(request, conn, connection_test(connection=conn, user=request.user))

    def _report(self, request, conn, result):
        level = messages.SUCCESS if result.ok else messages.ERROR
        verdict = "OK" if result.ok else "FAILED"
        self.message_user(request, f"{conn.name}: {verdict} in {result.elapsed_ms:g} ms: {result.detail}", level)

    def test_view(self, request, pk: int):
        """GET: a button; POST: run the audited test for this one connection and show the answer."""
        conn = Connection.objects.filter(pk=pk).first() if pk <= 2 ** 63 - 1 else None
        if conn is None or not self.has_view_or_change_permission(request, conn):
            return self._get_obj_does_not_exist_redirect(request, self.opts, str(pk))
        result = None
        if request.method == "POST":
            if not self.has_test_permission(request, conn):
                return HttpResponse("Only engineers may test connections.", status=403)
            result = connection_test(connection=conn, user=request.user)
        context = {**self.admin_site.each_context(request), "opts": self.opts, "original": conn,
                   "title": f"Test connection {conn.name}", "result": result}
        return TemplateResponse(request, "admin/drivers/connection/test.html", context)

    # --- address map --------------------------------------------------------------------------------------------
    def map_view(self, request, pk: int):
        """Every binding of the connection, sorted, with overlaps and free gaps; `?format=csv` downloads it."""
        conn = Connection.objects.filter(pk=pk).first() if pk <= 2 ** 63 - 1 else None
        if conn is None or not self.has_view_or_change_permission(request, conn):
            return self._get_obj_does_not_exist_redirect(request, self.opts, str(pk))
        header, rows = connection_address_map(conn)
        if request.GET.get("format") == "csv":
            response = HttpResponse(content_type="text/csv; charset=utf-8")
            response["Content-Disposition"] = f'attachment; filename="{conn.name}-address-map.csv"'
            writer = csv.writer(response)
            writer.writerow(header)
            writer.writerows(rows)
            return response
        context = {**self.admin_site.each_context(request), "opts": self.opts, "original": conn,
                   "title": f"{'Node' if conn.protocol == 'opcua' else 'Register'} map of {conn.name}",
                   "header": header, "rows": rows}
        return TemplateResponse(request, "admin/drivers/connection/map.html", context)

    def diagnostics_urls(self):
        view = self.admin_site.admin_view
        return [path("<int:pk>/test/", view(self.test_view), name="drivers_connection_test"),
                path("<int:pk>/map/", view(self.map_view), name="drivers_connection_map")]
