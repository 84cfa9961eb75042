/* Faceplates (ISA-101): click a value or an equipment symbol, see everything about it in one place.
 *
 * - The tag faceplate: value with the tag's decimals and unit, quality and time, range, alarm limits, the tag's
 *   alarms now, a one-hour sparkline with the limits drawn on it and, only for roles that may write, the existing
 *   write dialog (the server checks the role again). Opened by Kiln.openFaceplate(name).
 * - The device faceplate (dialogs.js draws its members and commands) gains the device's status and alarms here.
 * Loaded after dialogs.js on every page; alarm limits come from the page config (`alarm_limits`, hmi.selectors).
 */
(function () {
  "use strict";
  var Kiln = window.Kiln;
  if (!Kiln.config) return;
  var config = Kiln.config, $ = Kiln.$, el = Kiln.el, live = Kiln.live;
  var NS = "http://www.w3.org/2000/svg";
  Kiln.alarmLimits = config.alarm_limits || {};
  var LIMIT_LABEL = { HIHI: "HH", HI: "H", LO: "L", LOLO: "LL" };
  // Priority by shape as well as colour, as on the screens' alarm indicators.
  var SHAPE = { critical: "◆", high: "▲", medium: "■", low: "●" };
  var STATE_TEXT = { active_unacked: "active, unacknowledged", active_acked: "active, acknowledged",
                     rtn_unacked: "returned to normal, unacknowledged" };

  function svg(parent, tag, attrs) {
    var e = document.createElementNS(NS, tag);
    for (var k in attrs) e.setAttribute(k, attrs[k]);
    parent.appendChild(e);
    return e;
  }

  // The annunciated alarms (banner.js keeps them) that `match`, highest priority first.
  function alarmsWhere(match) {
    var out = [], all = (Kiln.banner && Kiln.banner.alarms) || {};
    for (var id in all) if (match(all[id])) out.push(all[id]);
    var rank = Kiln.priorityRank || {};
    out.sort(function (a, b) { return (rank[b.priority] || 0) - (rank[a.priority] || 0); });
    return out;
  }
  function renderAlarms(ul, list) {
    ul.textContent = "";
    if (!list.length) { ul.appendChild(el("li", { class: "muted fp-no-alarm" }, "No alarm")); return; }
    list.forEach(function (a) {
      var li = el("li", { class: "fp-alarm" + (Kiln.alarmIsUnacked(a) ? " unacked" : ""), "data-priority": a.priority });
      li.appendChild(el("span", { class: "prio prio-" + a.priority }, (SHAPE[a.priority] || "") + " " + a.priority));
      li.appendChild(document.createTextNode(" " + (a.name || a.key) + " · " + (STATE_TEXT[a.state] || a.state)));
      if (a.message) li.appendChild(el("div", { class: "muted" }, a.message));
      ul.appendChild(li);
    });
  }

  function limitsText(name, cfg) {
    return (Kiln.alarmLimits[name] || []).map(function (l) {
      return (LIMIT_LABEL[l.kind] || l.kind) + " " + Kiln.fmtTag(l.setpoint, cfg);
    }).join(" · ");
  }

  // ---------------------------------------------------------------------------------------------------
  // The sparkline: the last hour from the historian, the live value appended, the alarm limits as dashed lines.
  var SPARK = { w: 320, h: 80, pad: 4 };
  function drawSpark(box, name, cfg, xs, ys) {
    box.textContent = "";
    var limits = Kiln.alarmLimits[name] || [];
    var cur = live.values[name];
    if (cur && typeof cur.value === "number") { xs.push(Date.now() / 1000); ys.push(cur.value); }
    var vals = ys.filter(function (v) { return v !== null; });
    var s = svg(box, "svg", { viewBox: "0 0 " + SPARK.w + " " + SPARK.h, class: "fp-spark", role: "img",
                              "aria-label": "Last hour of " + name });
    svg(s, "rect", { x: 0, y: 0, width: SPARK.w, height: SPARK.h, class: "fp-spark-bg" });
    if (!vals.length) {
      var t = svg(s, "text", { x: SPARK.w / 2, y: SPARK.h / 2 + 4, "text-anchor": "middle", class: "fp-spark-empty" });
      t.textContent = "No history in the last hour";
      return 0;
    }
    var lo = Math.min.apply(null, vals), hi = Math.max.apply(null, vals);
    limits.forEach(function (l) { lo = Math.min(lo, l.setpoint); hi = Math.max(hi, l.setpoint); });
    if (hi === lo) { hi += 1; lo -= 1; }
    var margin = (hi - lo) * 0.08;  // the line and the limits never sit on the frame
    hi += margin; lo -= margin;
    var t0 = Date.now() / 1000 - 3600, t1 = Date.now() / 1000;
    function X(t) { return SPARK.pad + (t - t0) / (t1 - t0) * (SPARK.w - 2 * SPARK.pad); }
    function Y(v) { return SPARK.h - SPARK.pad - (v - lo) / (hi - lo) * (SPARK.h - 2 * SPARK.pad); }
    limits.forEach(function (l) {
      svg(s, "line", { x1: 0, x2: SPARK.w, y1: Y(l.setpoint).toFixed(1), y2: Y(l.setpoint).toFixed(1),
                       class: "fp-spark-limit", "data-priority": l.priority });
    });
    // Stepped, as the trends page draws it: a value holds until the next sample; a BAD sample breaks the line.
    var d = "", pen = false, n = 0;
    for (var i = 0; i < xs.length; i++) {
      if (ys[i] === null) { pen = false; continue; }
      var x = X(Math.max(xs[i], t0)).toFixed(1), y = Y(ys[i]).toFixed(1);
      d += pen ? " H" + x + " V" + y : " M" + x + " " + y;
      pen = true; n++;
    }
    if (pen) d += " H" + X(t1).toFixed(1);
    svg(s, "path", { d: d.trim(), class: "fp-spark-line" });
    return n;
  }
  function loadSpark(box, name, cfg) {
    box.textContent = "";
    box.setAttribute("data-state", "loading");
    var end = new Date(Date.now() + 1000).toISOString(), start = new Date(Date.now() - 3600 * 1000).toISOString();
    var q = "?start=" + encodeURIComponent(start) + "&end=" + encodeURIComponent(end);
    return Kiln.api("GET", "/api/tags/" + encodeURIComponent(name) + "/history" + q).then(function (res) {
      var rows = res.ok ? (Array.isArray(res.data) ? res.data : (res.data.data || [])) : [];
      var xs = [], ys = [];
      rows.forEach(function (p) {
        var t = Date.parse(p.ts || p.timestamp) / 1000, v = p.v !== undefined ? p.v : p.value;
        if (!isFinite(t)) return;
        if (typeof v === "boolean") v = v ? 1 : 0;
        xs.push(t); ys.push((p.q || p.quality) === "BAD" || typeof v !== "number" ? null : v);
      });
      box.setAttribute("data-points", drawSpark(box, name, cfg, xs, ys));
      box.setAttribute("data-state", res.ok ? "ready" : "error");
    }, function () { box.setAttribute("data-state", "error"); });
  }

  // ---------------------------------------------------------------------------------------------------
  // The tag faceplate
  var dlg = $("#tag-dialog"), shown = null, watched = {};
  function paint(u) {
    var cfg = Kiln.tagConfig[shown], v = $(".fp-value", dlg);
    var cls = Kiln.qualityClass(u);
    v.textContent = !u ? "–" : cls === "q-bad" ? "BAD" : Kiln.fmtTag(u.value, cfg);
    Kiln.setQualityClass(v, cls);
    $(".fp-quality", dlg).textContent = Kiln.qualityText(u);
    $(".fp-ts", dlg).textContent = u && u.ts ? Kiln.fmtTime(u.ts) : "";
  }
  function paintAlarms() {
    if (!dlg || !dlg.open || !shown) return;
    renderAlarms($(".fp-alarms", dlg), alarmsWhere(function (a) { return a.tag === shown; }));
  }
  document.addEventListener("kiln:alarms", paintAlarms);

  Kiln.openFaceplate = function (name) {
    var cfg = Kiln.tagConfig[name];
    if (!dlg || !cfg) return;
    shown = name;
    $(".fp-name", dlg).textContent = name;
    $(".fp-machine", dlg).textContent = cfg.machine_id;
    $(".fp-desc", dlg).textContent = cfg.description || "";
    var fields = $(".fp-fields", dlg);
    fields.textContent = "";
    var range = cfg.min_value !== null && cfg.min_value !== undefined && cfg.max_value !== null && cfg.max_value !== undefined
      ? Kiln.fmtTag(cfg.min_value, cfg) + " … " + Kiln.fmtTag(cfg.max_value, cfg) : "";
    var kind = cfg.is_writable ? "Setpoint (written by " + cfg.write_role + " and above" +
      (cfg.requires_signature ? ", with e-signature" : "") + ")" : "Measured value";
    [["Kind", kind], ["Unit", cfg.unit], ["Range", range], ["Alarm limits", limitsText(name, cfg)]].forEach(function (f) {
      if (!f[1]) return;
      fields.appendChild(el("dt", null, f[0]));
      fields.appendChild(el("dd", { "data-field": f[0].toLowerCase().replace(/ /g, "-") }, f[1]));
    });
    var write = $(".fp-write", dlg);
    // The write control only for those who may write (the API refuses the others anyway).
    write.hidden = !Kiln.mayWrite(cfg);
    paint(live.values[name]);
    if (!watched[name]) {
      watched[name] = true;
      live.watch(name, function (u, n) { if (dlg.open && shown === (n || name)) paint(u); });
    }
    dlg.showModal();
    paintAlarms();
    loadSpark($(".fp-trend", dlg), name, cfg);
  };
  if (dlg) {
    $(".fp-write", dlg).addEventListener("click", function () { var n = shown; dlg.close(); Kiln.openWrite(n); });
    $(".fp-trend-btn", dlg).addEventListener("click", function () { location.href = Kiln.trendUrl(shown); });
  }

  // ---------------------------------------------------------------------------------------------------
  // The device faceplate: status by text (not by green/red) and the device's alarms, under its name.
  var devDlg = $("#device-dialog"), devShown = null;
  function deviceStatus(dev) {
    var v = function (member) { var u = live.values[dev.id + "." + member]; return u ? u.value : undefined; };
    if (v("Faulted") === true) return { text: "FAULTED", abnormal: true };
    if (v("Running") === true) return { text: "RUNNING", abnormal: false };
    if (v("Running") === false) return { text: "STOPPED", abnormal: false };
    return { text: "", abnormal: false };
  }
  function paintDevice() {
    if (!devDlg || !devDlg.open || !devShown) return;
    var dev = Kiln.devices[devShown], st = deviceStatus(dev), box = $(".dd-status", devDlg);
    box.textContent = st.text;
    box.hidden = !st.text;
    box.classList.toggle("abnormal", st.abnormal);
    renderAlarms($(".dd-alarms", devDlg), alarmsWhere(function (a) { return a.machine === dev.id; }));
  }
  document.addEventListener("kiln:alarms", paintDevice);
  var openDevice = Kiln.openDevice;
  Kiln.openDevice = function (deviceId, onlyCommand) {
    devShown = deviceId;
    openDevice(deviceId, onlyCommand);
    var dev = Kiln.devices[deviceId];
    if (!dev || !devDlg) return;
    ["Running", "Faulted"].forEach(function (m) {
      var n = dev.id + "." + m;
      if (!watched[n]) { watched[n] = true; live.watch(n, function () { paintDevice(); }); }
    });
    paintDevice();
  };
  document.addEventListener("click", function (ev) {
    var f = ev.target.closest && ev.target.closest(".act-faceplate");
    if (f) Kiln.openFaceplate(f.getAttribute("data-tag"));
  });
  // A member's name on the device faceplate opens that member's own faceplate.
  if (devDlg) {
    devDlg.addEventListener("click", function (ev) {
      var m = ev.target.closest && ev.target.closest(".dd-mname");
      if (!m) return;
      var n = m.parentNode.getAttribute("data-tag");
      if (Kiln.tagConfig[n]) { devDlg.close(); Kiln.openFaceplate(n); }
    });
  }
})();
