/* Alarm journal: /api/alarms/history with filters, paged; CSV of the same filters (?format=csv). */
(function () {
  "use strict";
  var Kiln = window.Kiln, cfg = Kiln.config || {}, $ = Kiln.$, el = Kiln.el;
  var form = $("#journal-form"), table = $("#journal-table"), errBox = $("#journal-error");
  if (!form) return;
  var limit = 100, offset = 0, count = 0;
  // Filters named in the URL (the alarm details panel links to ?tag=...).
  var given = new URLSearchParams(location.search);
  ["priority", "event", "tag", "user"].forEach(function (k) { if (given.get(k)) form.elements[k].value = given.get(k); });

  function query() {
    var q = new URLSearchParams();
    ["priority", "event", "tag", "user"].forEach(function (k) { var v = form.elements[k].value.trim(); if (v) q.set(k, v); });
    // The inputs are wall-clock times in the plant's time zone (shown beside them).
    var bad = null;
    ["start", "end"].forEach(function (k) {
      var v = form.elements[k].value.trim();
      if (!v) return;
      var iso = Kiln.zonedToIso(v);
      if (iso) q.set(k, iso); else bad = k;
    });
    if (bad) { errBox.textContent = "Write times as YYYY-MM-DD HH:MM (24-hour, " + Kiln.timeZone + ")."; errBox.hidden = false; return null; }
    return q;
  }
  function load() {
    errBox.hidden = true;
    var q = query(); if (!q) return;
    q.set("limit", limit); q.set("offset", offset);
    Kiln.api("GET", "/api/alarms/history?" + q.toString()).then(function (res) {
      if (!res.ok) { errBox.textContent = Kiln.apiError(res); errBox.hidden = false; return; }
      count = res.data.count || 0;
      var body = el("tbody");
      (res.data.results || []).forEach(function (e) {
        var tr = el("tr");
        tr.appendChild(el("td", { class: "muted" }, Kiln.fmtTime(e.ts)));
        tr.appendChild(el("td", null, e.event.replace(/_/g, " ")));
        var p = el("td"); p.appendChild(el("span", { class: "prio prio-" + e.priority }, e.priority)); tr.appendChild(p);
        var m = el("td"); m.appendChild(el("b", null, e.name || e.key));
        if (e.message) m.appendChild(el("div", { class: "muted" }, e.message));
        tr.appendChild(m);
        var t = el("td"); t.appendChild(el("a", { href: Kiln.trendUrl(e.tag), "data-tag": e.tag }, e.tag)); tr.appendChild(t);
        tr.appendChild(el("td", { class: "num" }, Kiln.fmtValue(e.value, (cfg.tag_decimals || {})[e.tag])));
        tr.appendChild(el("td", null, e.user || ""));
        tr.appendChild(el("td", null, e.reason || ""));
        body.appendChild(tr);
      });
      if (!body.rows.length) { var tr = el("tr"); tr.appendChild(el("td", { colspan: 8, class: "muted" }, "No journal entries match.")); body.appendChild(tr); }
      table.replaceChild(body, table.tBodies[0]);
      $("#journal-range").textContent = count ? (offset + 1) + "–" + Math.min(count, offset + limit) + " of " + count : "";
      $("#journal-prev").disabled = offset === 0;
      $("#journal-next").disabled = offset + limit >= count;
    });
  }
  form.addEventListener("submit", function (ev) { ev.preventDefault(); offset = 0; load(); });
  $("#journal-prev").addEventListener("click", function () { offset = Math.max(0, offset - limit); load(); });
  $("#journal-next").addEventListener("click", function () { offset += limit; load(); });
  $("#journal-csv").addEventListener("click", function () {
    errBox.hidden = true;
    var q = query(); if (!q) return;
    q.set("format", "csv");
    q.set("formatted", "true");  // values as the table shows them: each tag's display decimals
    Kiln.api("GET", "/api/alarms/history?" + q.toString()).then(function (res) {
      if (!res.ok) { errBox.textContent = Kiln.apiError(res); errBox.hidden = false; return; }
      Kiln.download("alarm-journal.csv", res.data, "text/csv");
    });
  });
  load();
})();
