/* Alarm KPIs (ISA-18.2 / EEMUA 191) from /api/alarms/kpis for a chosen window. */
(function () {
  "use strict";
  var Kiln = window.Kiln, $ = Kiln.$, el = Kiln.el;
  var form = $("#kpi-form"), cards = $("#kpi-cards"), errBox = $("#kpi-error");
  if (!form) return;
  function card(title, big, note, good) {
    var c = el("div", { class: "card " + (good === undefined ? "" : good ? "good" : "bad") });
    c.appendChild(el("div", { class: "muted" }, title));
    c.appendChild(el("div", { class: "big" }, big));
    if (note) c.appendChild(el("div", { class: "muted" }, note));
    return c;
  }
  function load() {
    var secs = Number(form.elements.range.value), end = new Date(), start = new Date(end - secs * 1000);
    var q = "?start=" + encodeURIComponent(start.toISOString()) + "&end=" + encodeURIComponent(end.toISOString());
    errBox.hidden = true;
    Kiln.api("GET", "/api/alarms/kpis" + q).then(function (res) {
      if (!res.ok) { errBox.textContent = Kiln.apiError(res); errBox.hidden = false; return; }
      var k = res.data;
      cards.textContent = "";
      var avg = k.alarms_per_10min || {};
      cards.appendChild(card("Annunciated alarms", k.annunciated, Kiln.fmtTime(k.start) + " – " + Kiln.fmtTime(k.end)));
      cards.appendChild(card("Average per 10 min", avg.average, "[≤ 1 acceptable, ≤ 2 manageable]", avg.average <= 1));
      cards.appendChild(card("Peak per 10 min", avg.peak, "[≤ 10]", avg.peak <= 10));
      var fl = k.floods || {};
      cards.appendChild(card("Time in flood", (fl.percent_of_time || 0) + " %", "[< 1 %] " + (fl.count || 0) + " periods over " + fl.threshold, (fl.percent_of_time || 0) < 1));
      var chat = k.chattering || [];
      cards.appendChild(card("Chattering alarms", chat.length, "[0]" + (chat.length ? " " + chat.slice(0, 3).map(function (c) { return c.name || c.key; }).join(", ") : ""), !chat.length));
      var st = k.stale || {};
      cards.appendChild(card("Stale alarms", st.count || 0, "[active > " + st.threshold_hours + " h; < 5]", (st.count || 0) < 5));
      cards.appendChild(card("Shelved now", (k.shelved || {}).count || 0));
      var bp = k.by_priority || {};
      cards.appendChild(card("By priority", ["critical", "high", "medium", "low"].map(function (p) { return p[0].toUpperCase() + ": " + (bp[p] || 0); }).join("  "), "[~5 % high, 15 % medium, 80 % low]"));
      var body = el("tbody");
      (k.most_frequent || []).forEach(function (f) {
        var tr = el("tr");
        var n = el("td"); n.appendChild(el("b", null, f.name || f.key)); n.appendChild(el("div", { class: "muted" }, f.key)); tr.appendChild(n);
        var t = el("td"); t.appendChild(el("a", { href: Kiln.trendUrl(f.tag), "data-tag": f.tag }, f.tag)); tr.appendChild(t);
        tr.appendChild(el("td", { class: "num" }, f.count + " (" + f.percent + " %)"));
        body.appendChild(tr);
      });
      if (!body.rows.length) { var tr = el("tr"); tr.appendChild(el("td", { colspan: 3, class: "muted" }, "No activations in this window.")); body.appendChild(tr); }
      var table = $("#kpi-top"); table.replaceChild(body, table.tBodies[0]);
    });
  }
  form.addEventListener("submit", function (ev) { ev.preventDefault(); load(); });
  load();
})();
