/* Alarm summary: annunciated alarms (from the /ws alarm snapshot and pushes), highest priority first, newest
 * first within a priority. Acknowledge with a reason code; shelve (Supervisor+) with a duration and reason. */
(function () {
  "use strict";
  var Kiln = window.Kiln, cfg = Kiln.config, $ = Kiln.$, el = Kiln.el;
  var table = $("#alarm-table");
  if (!table || !cfg) return;
  var canShelve = cfg.role_level >= cfg.roles.supervisor;
  var errBox = $("#alarm-error");

  function sorted() {
    var list = [];
    for (var id in Kiln.banner.alarms) list.push(Kiln.banner.alarms[id]);
    list.sort(function (a, b) {
      var p = (Kiln.priorityRank[b.priority] || 0) - (Kiln.priorityRank[a.priority] || 0);
      if (p) return p;
      return (Date.parse(b.activated_at || b.last_transition_at) || 0) - (Date.parse(a.activated_at || a.last_transition_at) || 0);
    });
    return list;
  }
  function render() {
    var body = el("tbody"), list = sorted();
    if (!list.length) {
      var tr = el("tr"); tr.appendChild(el("td", { colspan: 7, class: "muted" }, "No active or unacknowledged alarms."));
      body.appendChild(tr);
    }
    list.forEach(function (a) {
      var tr = el("tr", { "data-alarm": a.id, class: Kiln.alarmIsUnacked(a) ? "unacked" : "" });
      var p = el("td"); p.appendChild(el("span", { class: "prio prio-" + a.priority }, a.priority)); tr.appendChild(p);
      tr.appendChild(el("td", { class: "muted" }, Kiln.fmtTime(a.activated_at || a.last_transition_at)));
      var name = el("td"); name.appendChild(el("b", null, a.name)); name.appendChild(el("div", { class: "muted" }, a.message)); tr.appendChild(name);
      var tag = el("td"); tag.appendChild(el("a", { href: Kiln.trendUrl(a.tag), "data-tag": a.tag }, a.tag)); tr.appendChild(tag);
      tr.appendChild(el("td", { class: "num" }, Kiln.fmtValue(a.value) + (a.quality && a.quality !== "GOOD" ? " (" + a.quality + ")" : "")));
      tr.appendChild(el("td", null, a.state.replace(/_/g, " ") + (a.acked_by ? " · ack " + a.acked_by : "")));
      var act = el("td", { class: "actions" });
      if (Kiln.alarmIsUnacked(a)) {
        var ack = el("button", { type: "button", class: "act-ack" }, "Acknowledge");
        ack.addEventListener("click", function () { openAck(a); });
        act.appendChild(ack);
      }
      if (canShelve && !a.shelved) {
        var sh = el("button", { type: "button", class: "act-shelve" }, "Shelve");
        sh.addEventListener("click", function () { openShelve(a); });
        act.appendChild(sh);
      }
      tr.appendChild(act);
      body.appendChild(tr);
    });
    table.replaceChild(body, table.tBodies[0]);
    $("#alarm-total").textContent = list.length + " shown";
  }
  Kiln.banner.onChange = render;

  function openAck(a) {
    var dlg = $("#ack-dialog"), form = $("#ack-form");
    form.reset(); form.dataset.alarm = a.id;
    $(".ack-name", dlg).textContent = a.name + " (" + a.tag + ")";
    var sel = $(".ack-codes", dlg); sel.textContent = "";
    var codes = a.reason_codes || [];
    // Nothing pre-selected: the operator chooses. When the definition requires a reason the empty choice
    // cannot be submitted (the server refuses it too); otherwise it means "no reason code".
    var none = el("option", { value: "" }, a.ack_requires_reason ? "— choose a reason —" : "— none —");
    if (a.ack_requires_reason) none.disabled = true;
    none.selected = true;
    sel.appendChild(none);
    codes.forEach(function (c) { sel.appendChild(el("option", { value: c }, Kiln.codeLabel(c))); });
    sel.required = !!a.ack_requires_reason;
    sel.value = "";
    sel.closest("label").hidden = !codes.length;
    var err = $(".dlg-error", dlg); err.hidden = true;
    dlg.showModal();
  }
  $("#ack-form").addEventListener("submit", function (ev) {
    ev.preventDefault();
    var form = ev.target, dlg = $("#ack-dialog"), err = $(".dlg-error", dlg);
    var sel = form.elements.reason_code;
    if (sel.required && !sel.value) { err.textContent = "Choose a reason code."; err.hidden = false; sel.focus(); return; }
    var body = { reason_code: form.elements.reason_code.value || "", comment: form.elements.reason.value.trim() };
    Kiln.api("POST", "/api/alarms/" + form.dataset.alarm + "/ack", body).then(function (res) {
      if (!res.ok) { err.textContent = Kiln.apiError(res); err.hidden = false; return; }
      Kiln.banner.apply(res.data);
      dlg.close();
    });
  });

  function openShelve(a) {
    var dlg = $("#shelve-dialog"), form = $("#shelve-form");
    form.reset(); form.dataset.alarm = a.id;
    form.elements.reason.required = !!a.shelve_requires_reason;  // the server decides; this only marks the field
    $(".sh-name", dlg).textContent = a.name + " (" + a.tag + ")";
    $(".dlg-error", dlg).hidden = true;
    dlg.showModal();
  }
  $("#shelve-form").addEventListener("submit", function (ev) {
    ev.preventDefault();
    var form = ev.target, dlg = $("#shelve-dialog"), err = $(".dlg-error", dlg);
    var body = { duration: Number(form.elements.duration.value), reason: form.elements.reason.value.trim() };
    Kiln.api("POST", "/api/alarms/" + form.dataset.alarm + "/shelve", body).then(function (res) {
      if (!res.ok) { err.textContent = Kiln.apiError(res); err.hidden = false; return; }
      Kiln.banner.apply(res.data);
      dlg.close();
    });
  });
  Kiln.alarmsPage = { render: render, openAck: openAck, openShelve: openShelve };
  // Until the live snapshot arrives, show the REST list (the same rows the snapshot holds).
  Kiln.banner.refresh().then(function (res) {
    if (res && !res.ok) { errBox.textContent = Kiln.apiError(res); errBox.hidden = false; }
    render();
  });
})();
