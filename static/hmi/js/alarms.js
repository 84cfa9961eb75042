/* Alarm summary: annunciated alarms (from the /ws alarm snapshot and pushes). Filter (search, priority, what to
 * show), sort by any column (highest priority, newest first by default), a details panel for the clicked row,
 * acknowledge one alarm or every alarm shown with one reason, shelve (Supervisor+) with a duration and reason.
 * Every acknowledgement is its own API call, so each is checked and audited on its own. */
(function () {
  "use strict";
  var Kiln = window.Kiln, cfg = Kiln.config, $ = Kiln.$, $all = Kiln.$all, el = Kiln.el;
  var table = $("#alarm-table");
  if (!table || !cfg) return;
  var canShelve = cfg.role_level >= cfg.roles.supervisor;
  var errBox = $("#alarm-error"), filter = $("#alarm-filter");
  var sort = { key: "priority", dir: -1 }, selected = null, shown = [];

  function when(a) { return Date.parse(a.activated_at || a.last_transition_at) || 0; }
  var KEYS = {
    priority: function (a) { return (Kiln.priorityRank[a.priority] || 0) * 1e13 + when(a); },
    time: when,
    name: function (a) { return (a.name || a.key || "").toLowerCase(); },
    tag: function (a) { return (a.tag || "").toLowerCase(); },
    state: function (a) { return a.state || ""; }
  };
  function matches(a) {
    var q = filter.elements.q.value.trim().toLowerCase(), p = filter.elements.priority.value, show = filter.elements.show.value;
    if (p && a.priority !== p) return false;
    if (show === "unacked" && !Kiln.alarmIsUnacked(a)) return false;
    if (show === "active" && !a.active) return false;
    if (q && [a.name, a.key, a.tag, a.message, a.machine].join(" ").toLowerCase().indexOf(q) < 0) return false;
    return true;
  }
  function sorted() {
    var list = [], key = KEYS[sort.key];
    for (var id in Kiln.banner.alarms) if (matches(Kiln.banner.alarms[id])) list.push(Kiln.banner.alarms[id]);
    list.sort(function (a, b) {
      var x = key(a), y = key(b);
      if (x < y) return -sort.dir;
      if (x > y) return sort.dir;
      return when(b) - when(a);
    });
    return list;
  }
  function render() {
    var body = el("tbody"), list = sorted(), total = Object.keys(Kiln.banner.alarms).length;
    shown = list;
    if (!list.length) {
      var tr = el("tr");
      tr.appendChild(el("td", { colspan: 7, class: "muted" }, total ? "No alarm matches the filter." : "No active or unacknowledged alarms."));
      body.appendChild(tr);
    }
    list.forEach(function (a) {
      var tr = el("tr", { "data-alarm": a.id, class: (Kiln.alarmIsUnacked(a) ? "unacked" : "") + (selected === a.id ? " selected" : "") });
      var p = el("td"); p.appendChild(el("span", { class: "prio prio-" + a.priority }, a.priority)); tr.appendChild(p);
      tr.appendChild(el("td", { class: "muted" }, Kiln.fmtTime(a.activated_at || a.last_transition_at)));
      var name = el("td"); name.appendChild(el("b", null, a.name)); name.appendChild(el("div", { class: "muted" }, a.message)); tr.appendChild(name);
      var tag = el("td"); tag.appendChild(el("a", { href: Kiln.trendUrl(a.tag), "data-tag": a.tag }, a.tag)); tr.appendChild(tag);
      tr.appendChild(el("td", { class: "num" }, Kiln.fmtTag(a.value, a) + (a.quality && a.quality !== "GOOD" ? " (" + a.quality + ")" : "")));
      tr.appendChild(el("td", null, a.state.replace(/_/g, " ") + (a.acked_by ? " · ack " + a.acked_by : "")));
      var act = el("td", { class: "actions" });
      if (Kiln.alarmIsUnacked(a)) {
        var ack = el("button", { type: "button", class: "act-ack" }, "Acknowledge");
        ack.addEventListener("click", function () { openAck([a]); });
        act.appendChild(ack);
      }
      if (canShelve && !a.shelved) {
        var sh = el("button", { type: "button", class: "act-shelve" }, "Shelve");
        sh.addEventListener("click", function () { openShelve(a); });
        act.appendChild(sh);
      }
      tr.appendChild(act);
      tr.addEventListener("click", function (ev) {
        if (ev.target.closest("button, a")) return;
        selected = a.id; render();
      });
      body.appendChild(tr);
    });
    table.replaceChild(body, table.tBodies[0]);
    $("#alarm-total").textContent = list.length === total ? list.length + " shown" : list.length + " of " + total + " shown";
    var unacked = list.filter(Kiln.alarmIsUnacked).length;
    var btn = $("#ack-shown");
    btn.disabled = !unacked;
    btn.textContent = "Acknowledge shown (" + unacked + ")…";
    details();
  }
  Kiln.banner.onChange = render;

  // ---------------------------------------------------------------------------------------------------
  // Sorting and filtering
  $all("th[data-sort]", table).forEach(function (th) {
    th.addEventListener("click", function () {
      var key = th.getAttribute("data-sort");
      sort = { key: key, dir: sort.key === key ? -sort.dir : (key === "name" || key === "tag" ? 1 : -1) };
      $all("th[data-sort]", table).forEach(function (h) { h.removeAttribute("aria-sort"); });
      th.setAttribute("aria-sort", sort.dir > 0 ? "ascending" : "descending");
      render();
    });
  });
  filter.addEventListener("input", render);
  filter.addEventListener("submit", function (ev) { ev.preventDefault(); render(); });

  // ---------------------------------------------------------------------------------------------------
  // Details panel of the selected alarm
  function details() {
    var panel = $("#alarm-details"), a = selected !== null ? Kiln.banner.alarms[selected] : null;
    if (!a) { panel.hidden = true; return; }
    $(".ad-name", panel).textContent = a.name;
    var dl = $(".ad-fields", panel); dl.textContent = "";
    [["Key", a.key], ["Priority", a.priority], ["State", a.state.replace(/_/g, " ")], ["Message", a.message],
     ["Tag", a.tag], ["Machine", a.machine], ["Kind", a.kind], ["Setpoint", a.setpoint === null || a.setpoint === undefined ? "" : Kiln.fmtTag(a.setpoint, a)],
     ["Value", Kiln.fmtTag(a.value, a) + (a.quality ? " (" + a.quality + ")" : "")], ["Category", a.category],
     ["Activated", a.activated_at && Kiln.fmtTime(a.activated_at)], ["Cleared", a.cleared_at && Kiln.fmtTime(a.cleared_at)],
     ["Acknowledged", a.acked_at && Kiln.fmtTime(a.acked_at) + " by " + a.acked_by + (a.ack_reason ? ": " + a.ack_reason : "")],
     ["Shelved", a.shelved_until && "until " + Kiln.fmtTime(a.shelved_until) + " by " + a.shelved_by + (a.shelve_reason ? ": " + a.shelve_reason : "")],
     ["Suppressed", a.suppressed ? "yes (by design)" : ""], ["Out of service", a.out_of_service ? "yes" : ""]
    ].forEach(function (f) {
      if (f[1] === null || f[1] === undefined || f[1] === "") return;
      dl.appendChild(el("dt", null, f[0])); dl.appendChild(el("dd", null, String(f[1])));
    });
    var links = $(".ad-links", panel); links.textContent = "";
    links.appendChild(el("a", { href: Kiln.trendUrl(a.tag), class: "button" }, "Trend " + a.tag));
    links.appendChild(document.createTextNode(" "));
    links.appendChild(el("a", { href: "/alarms/journal/?tag=" + encodeURIComponent(a.tag), class: "button" }, "Journal"));
    panel.hidden = false;
  }
  $("#alarm-details .ad-close").addEventListener("click", function () { selected = null; render(); });

  // ---------------------------------------------------------------------------------------------------
  // Acknowledge one alarm, or every unacknowledged alarm shown, with one reason
  var ackList = [];
  function openAck(list) {
    ackList = list.filter(Kiln.alarmIsUnacked);
    if (!ackList.length) return;
    var dlg = $("#ack-dialog"), form = $("#ack-form");
    form.reset();
    $(".ack-name", dlg).textContent = ackList.length === 1 ? ackList[0].name + " (" + ackList[0].tag + ")" : ackList.length + " alarms shown";
    var sel = $(".ack-codes", dlg); sel.textContent = "";
    var codes = [], required = false;
    ackList.forEach(function (a) {
      required = required || !!a.ack_requires_reason;
      (a.reason_codes || []).forEach(function (c) { if (codes.indexOf(c) < 0) codes.push(c); });
    });
    // Nothing pre-selected: the operator chooses. When a definition requires a reason the empty choice cannot
    // be submitted (the server refuses it too); otherwise it means "no reason code".
    var none = el("option", { value: "" }, required ? "— choose a reason —" : "— none —");
    if (required) none.disabled = true;
    none.selected = true;
    sel.appendChild(none);
    codes.forEach(function (c) { sel.appendChild(el("option", { value: c }, Kiln.codeLabel(c))); });
    sel.required = required;
    sel.value = "";
    sel.closest("label").hidden = !codes.length;
    $(".dlg-error", dlg).hidden = true; $(".dlg-ok", dlg).hidden = true;
    $("button[type=submit]", dlg).disabled = false;
    dlg.showModal();
  }
  $("#ack-shown").addEventListener("click", function () { openAck(shown); });
  $("#ack-form").addEventListener("submit", function (ev) {
    ev.preventDefault();
    var form = ev.target, dlg = $("#ack-dialog"), err = $(".dlg-error", dlg), ok = $(".dlg-ok", dlg);
    var sel = form.elements.reason_code;
    if (sel.required && !sel.value) { err.textContent = "Choose a reason code."; err.hidden = false; sel.focus(); return; }
    err.hidden = true;
    var body = { reason_code: sel.value || "", comment: form.elements.reason.value.trim() };
    var submit = $("button[type=submit]", dlg); submit.disabled = true;
    var failures = [], done = 0, list = ackList.slice();
    // One after the other: each is refused or accepted (and audited) on its own, and the rate limit is spared.
    list.reduce(function (chain, a) {
      return chain.then(function () {
        return Kiln.api("POST", "/api/alarms/" + a.id + "/ack", body).then(function (res) {
          if (res.ok) { done++; Kiln.banner.apply(res.data); } else failures.push(a.name + ": " + Kiln.apiError(res));
        }, function () { failures.push(a.name + ": no answer"); });
      });
    }, Promise.resolve()).then(function () {
      submit.disabled = false;
      if (!failures.length) { dlg.close(); return; }
      if (done) { ok.textContent = done + " acknowledged."; ok.hidden = false; }
      err.textContent = failures.length + " not acknowledged: " + failures.join("; ");
      err.hidden = false;
      ackList = ackList.filter(function (a) { return Kiln.banner.alarms[a.id] && Kiln.alarmIsUnacked(Kiln.banner.alarms[a.id]); });
    });
  });

  // ---------------------------------------------------------------------------------------------------
  // Shelve (Supervisor+)
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
