/* Trends: history from /api/tags/{name}/history plus the live tail from /ws, drawn with uPlot.
 *
 * The historian stores changes (with a deadband), so a value holds until the next sample: series are drawn
 * as steps and forward-filled on the shared time axis. BAD samples break the line instead of being drawn.
 */
(function () {
  "use strict";
  var Kiln = window.Kiln, cfg = Kiln.config;
  if (!cfg || !cfg.trend || !window.uPlot) return;
  var $ = Kiln.$;
  var RANGES = { "1h": 3600, "8h": 8 * 3600, "24h": 86400 };
  var COLORS = ["#1565c0", "#c62828", "#2e7d32", "#6a1b9a", "#ef6c00", "#00838f", "#5d4037", "#37474f"];
  var state = {
    tags: cfg.trend.tags.slice(), range: cfg.trend.range || "1h", live: true,
    series: {},        // name → {xs: [], ys: []} raw samples (seconds, value|null)
    loaded: null,      // [start, end] seconds loaded from history
    view: null, plot: null
  };
  var status = $("#trend-status");
  function say(text, isError) { status.textContent = text || ""; status.classList.toggle("error", !!isError); }
  function nowS() { return Date.now() / 1000; }
  function isoS(s) { return new Date(s * 1000).toISOString().replace(/\.\d+Z$/, "Z"); }
  function localInput(s) { return Kiln.zonedInput(s); }

  function span() {
    if (state.range === "custom" && state.customStart && state.customEnd) return state.customEnd - state.customStart;
    return RANGES[state.range] || 3600;
  }
  function chips() {
    var box = $("#trend-chips");
    box.textContent = "";
    state.tags.forEach(function (n, i) {
      var c = Kiln.el("span", { class: "chip", "data-tag": n });
      var sw = Kiln.el("i", { class: "sw" }); sw.style.background = COLORS[i % COLORS.length];
      c.appendChild(sw);
      c.appendChild(document.createTextNode(n));
      var x = Kiln.el("button", { type: "button", title: "Remove " + n, class: "chip-x" }, "×");
      x.addEventListener("click", function () { state.tags.splice(state.tags.indexOf(n), 1); reload(); });
      c.appendChild(x);
      box.appendChild(c);
    });
  }
  function syncUrl() {
    var q = new URLSearchParams();
    if (state.tags.length) q.set("tags", state.tags.join(","));
    q.set("range", state.range);
    if (state.range === "custom" && state.customStart) { q.set("start", isoS(state.customStart)); q.set("end", isoS(state.customEnd)); }
    history.replaceState(null, "", "?" + q.toString());
  }

  function fetchHistory(name, start, end) {
    // Millisecond precision: the API's end is exclusive, so a whole-second end would hide this second's samples.
    var iso = function (x) { return new Date(x * 1000).toISOString(); };
    var q = "?start=" + encodeURIComponent(iso(start)) + "&end=" + encodeURIComponent(iso(end + 0.001));
    return Kiln.api("GET", "/api/tags/" + encodeURIComponent(name) + "/history" + q).then(function (res) {
      if (!res.ok) throw new Error(name + ": " + Kiln.apiError(res));
      var rows = Array.isArray(res.data) ? res.data : (res.data.data || res.data.results || []);
      var xs = [], ys = [];
      rows.forEach(function (p) {
        var t = Date.parse(p.ts || p.timestamp) / 1000;
        if (!isFinite(t)) return;
        var v = p.v !== undefined ? p.v : p.value;
        var q = p.q || p.quality;
        if (typeof v === "boolean") v = v ? 1 : 0;
        xs.push(t); ys.push(q === "BAD" || typeof v !== "number" ? null : v);
      });
      return { xs: xs, ys: ys };
    });
  }

  // Merge every series onto one sorted time axis, holding each value until its next sample.
  function build() {
    var names = state.tags, all = [];
    names.forEach(function (n) { var s = state.series[n]; if (s) all = all.concat(s.xs); });
    var t0 = state.view ? state.view[0] : nowS() - span(), t1 = state.view ? state.view[1] : nowS();
    all.push(t1);
    all.sort(function (a, b) { return a - b; });
    var xs = [];
    for (var i = 0; i < all.length; i++) if (i === 0 || all[i] !== all[i - 1]) xs.push(all[i]);
    var data = [xs];
    names.forEach(function (n) {
      var s = state.series[n] || { xs: [], ys: [] }, ys = new Array(xs.length), j = 0, last = null, started = false;
      for (var k = 0; k < xs.length; k++) {
        while (j < s.xs.length && s.xs[j] <= xs[k]) { last = s.ys[j]; started = true; j++; }
        ys[k] = started ? last : null;
      }
      data.push(ys);
    });
    return { data: data, t0: t0, t1: t1 };
  }

  function makePlot() {
    var holder = $("#trend-chart");
    holder.textContent = "";
    if (state.plot) { state.plot.destroy(); state.plot = null; }
    if (!state.tags.length) { say("Add a tag to trend it."); return; }
    var units = [];
    var series = [{ label: "Time (" + Kiln.timeZone + ")", value: function (u, v) { return v == null ? "–" : Kiln.fmtTime(v * 1000); } }];
    // 24-hour ticks in the plant's zone, the date under the first tick of each day (uPlot's default is 12-hour).
    var axes = [{ stroke: "#444", grid: { stroke: "#e3e3e3" }, size: 50,
                  values: function (u, splits, ax, space, incr) {
                    return splits.map(function (s, i) {
                      var full = Kiln.fmtTime(s * 1000), day = full.slice(0, 10);
                      if (incr >= 86400) return day;
                      var t = incr < 60 ? full.slice(11) : full.slice(11, 16);
                      return (i === 0 || Kiln.fmtTime(splits[i - 1] * 1000).slice(0, 10) !== day) ? t + "\n" + day : t;
                    });
                  } }];
    state.tags.forEach(function (n, i) {
      var t = Kiln.tagConfig[n] || {}, unit = t.unit || "";
      var scale = "u:" + unit;
      if (units.indexOf(unit) < 0) {
        units.push(unit);
        axes.push({ scale: scale, label: unit, side: units.length === 1 ? 3 : 1, stroke: "#444",
                    grid: { show: units.length === 1, stroke: "#e3e3e3" }, show: units.length <= 2 });
      }
      series.push({ label: n + (unit ? " [" + unit + "]" : ""), scale: scale, stroke: COLORS[i % COLORS.length], width: 1.5,
                    paths: uPlot.paths.stepped({ align: 1 }), spanGaps: false,
                    value: function (u, v) { return v == null ? "–" : Kiln.fmtNumber(v, t.decimals); } });
    });
    var b = build();
    state.shown = [b.t0, b.t1];
    // Each unit's axis reaches the alarm limits of its tags, so the dashed limit lines are always on the chart.
    var scales = { x: { time: true, min: b.t0, max: b.t1 } };
    units.forEach(function (unit) {
      var marks = [];
      state.tags.forEach(function (n) {
        if (((Kiln.tagConfig[n] || {}).unit || "") !== unit) return;
        ((Kiln.alarmLimits || {})[n] || []).forEach(function (l) { marks.push(l.setpoint); });
      });
      if (!marks.length) return;
      scales["u:" + unit] = { range: function (u, min, max) {
        var lo = Math.min.apply(null, marks.concat(min === null ? [] : [min]));
        var hi = Math.max.apply(null, marks.concat(max === null ? [] : [max]));
        return uPlot.rangeNum(lo, hi, 0.1, true);
      } };
    });
    var opts = {
      width: Math.max(400, holder.clientWidth), height: Math.max(300, Math.round(window.innerHeight * 0.6)),
      series: series, axes: axes,
      scales: scales,
      tzDate: function (ts) { return uPlot.tzDate(new Date(ts * 1000), Kiln.timeZone === "UTC" ? "Etc/UTC" : Kiln.timeZone); },
      cursor: { drag: { x: true, y: false, setScale: true } },
      legend: { live: true },
      hooks: {
        setScale: [function (u, key) {
          // Only a person's zoom (drag, wheel) counts; our own redraws set exactly the window in state.shown.
          var sh = state.shown;
          if (key !== "x" || state.applying) return;
          if (sh && Math.abs(u.scales.x.min - sh[0]) < 1e-3 && Math.abs(u.scales.x.max - sh[1]) < 1e-3) return;
          state.view = [u.scales.x.min, u.scales.x.max];
          setLive(false);
          ensureLoaded();
        }],
        ready: [function (u) { wheelZoom(u); }],
        draw: [drawLimits]
      }
    };
    state.applying = true;
    state.plot = new uPlot(opts, b.data, holder);
    state.applying = false;
    state.plot.root.addEventListener("dblclick", function () { resetView(); });
  }

  // ISA-101: a trend shows how close a value runs to its alarm limits (HH/H/L/LL, dashed, in the tag's colour).
  var LIMIT_LABEL = { HIHI: "HH", HI: "H", LO: "L", LOLO: "LL" };
  function drawLimits(u) {
    var ctx = u.ctx, box = u.bbox, px = window.devicePixelRatio || 1, drawn = 0;
    ctx.save();
    ctx.lineWidth = px;
    ctx.setLineDash([6 * px, 4 * px]);
    ctx.font = (10 * px) + "px sans-serif";
    ctx.textAlign = "right";
    state.tags.forEach(function (n, i) {
      var scale = "u:" + ((Kiln.tagConfig[n] || {}).unit || "");
      ((Kiln.alarmLimits || {})[n] || []).forEach(function (l) {
        var y = Math.round(u.valToPos(l.setpoint, scale, true));
        if (!(y >= box.top && y <= box.top + box.height)) return;
        ctx.strokeStyle = ctx.fillStyle = COLORS[i % COLORS.length];
        ctx.beginPath(); ctx.moveTo(box.left, y); ctx.lineTo(box.left + box.width, y); ctx.stroke();
        ctx.fillText((LIMIT_LABEL[l.kind] || l.kind) + " " + Kiln.fmtNumber(l.setpoint, (Kiln.tagConfig[n] || {}).decimals),
                     box.left + box.width - 4 * px, y - 3 * px);
        drawn++;
      });
    });
    ctx.restore();
    state.limitsDrawn = drawn;
  }

  function redraw() {
    if (!state.plot) return;
    var b = build();
    state.shown = [b.t0, b.t1];
    state.applying = true;
    state.plot.batch(function () {
      state.plot.setData(b.data, false);
      state.plot.setScale("x", { min: b.t0, max: b.t1 });
    });
    state.applying = false;
  }

  function wheelZoom(u) {
    u.over.addEventListener("wheel", function (ev) {
      ev.preventDefault();
      var min = u.scales.x.min, max = u.scales.x.max, w = max - min;
      var at = u.posToVal(ev.offsetX, "x");
      var f = ev.deltaY < 0 ? 0.8 : 1.25;
      var nmin = at - (at - min) * f, nmax = nmin + w * f;
      u.setScale("x", { min: nmin, max: nmax });
    }, { passive: false });
  }

  function setLive(on) {
    state.live = on;
    var b = $("#trend-live");
    b.setAttribute("aria-pressed", on ? "true" : "false");
    b.classList.toggle("on", on);
  }

  function load(start, end) {
    if (!state.tags.length) { makePlot(); return Promise.resolve(); }
    say("Loading history…");
    var errors = [];
    return Promise.all(state.tags.map(function (n) {
      // One tag's failure (say, 429 from the history rate limit) must not blank the others or the live tail.
      return fetchHistory(n, start, end).catch(function (err) { errors.push(err.message); return { xs: [], ys: [] }; });
    })).then(function (res) {
      state.tags.forEach(function (n, i) { state.series[n] = mergeSamples(state.series[n], res[i]); });
      state.loaded = state.loaded ? [Math.min(state.loaded[0], start), Math.max(state.loaded[1], end)] : [start, end];
      var total = res.reduce(function (a, r) { return a + r.xs.length; }, 0);
      if (errors.length) say(errors.join("; "), true);
      else say(total + " samples loaded" + (state.live ? "; following live values" : ""));
    });
  }
  function mergeSamples(old, add) {
    if (!old) return add;
    var pts = [];
    for (var i = 0; i < old.xs.length; i++) pts.push([old.xs[i], old.ys[i]]);
    for (var j = 0; j < add.xs.length; j++) pts.push([add.xs[j], add.ys[j]]);
    pts.sort(function (a, b) { return a[0] - b[0]; });
    var out = { xs: [], ys: [] };
    pts.forEach(function (p, k) { if (k && p[0] === pts[k - 1][0]) return; out.xs.push(p[0]); out.ys.push(p[1]); });
    return out;
  }
  var loadTimer = null;
  function ensureLoaded() {
    if (!state.view || !state.loaded) return;
    if (state.view[0] >= state.loaded[0] && state.view[1] <= state.loaded[1]) return;
    clearTimeout(loadTimer);
    loadTimer = setTimeout(function () {
      load(Math.min(state.view[0], state.loaded[0]), Math.max(state.view[1], state.loaded[1])).then(redraw);
    }, 400);
  }

  function reload() {
    chips(); syncUrl();
    state.series = {}; state.loaded = null;
    var end, start;
    if (state.range === "custom" && state.customStart && state.customEnd) {
      start = state.customStart; end = state.customEnd; setLive(false);
      state.view = [start, end];
    } else {
      end = nowS(); start = end - span(); state.view = null; setLive(true);
    }
    // Tags added on this page may lack configuration (unit); fetch it once from the API.
    var need = state.tags.filter(function (n) { return !Kiln.tagConfig[n]; });
    var cfgs = Promise.all(need.map(function (n) {
      return Kiln.api("GET", "/api/tags/" + encodeURIComponent(n)).then(function (r) {
        Kiln.tagConfig[n] = r.ok ? { unit: r.data.unit || "", datatype: r.data.datatype, decimals: r.data.decimals }
                                 : { unit: "" };
      });
    }));
    return cfgs.then(function () { return load(start, end); }).then(function () {
      makePlot();
      state.tags.forEach(watch);
    });
  }

  var watched = {};
  function watch(n) {
    if (watched[n]) return;
    watched[n] = true;
    Kiln.live.watch(n, function (u, name) {
      var s = state.series[name];
      if (!s || state.tags.indexOf(name) < 0) return;
      var t = Date.parse(u.ts) / 1000;
      if (!isFinite(t) || (s.xs.length && t <= s.xs[s.xs.length - 1])) return;
      var v = typeof u.value === "boolean" ? (u.value ? 1 : 0) : u.value;
      s.xs.push(t); s.ys.push(u.quality === "BAD" || typeof v !== "number" ? null : v);
      if (state.loaded) state.loaded[1] = Math.max(state.loaded[1], t);
      dirty = true;
    });
  }
  var dirty = false;
  // The live tail moves once a second (and on changes): the window follows now while Live is on.
  setInterval(function () {
    if (!state.plot) return;
    if (state.live) {
      var end = nowS();
      state.view = [end - span(), end];
      if (state.loaded) state.loaded[1] = end;
      redraw();
    } else if (dirty) redraw();
    dirty = false;
  }, 1000);

  function resetView() {
    if (state.range === "custom") { state.view = [state.customStart, state.customEnd]; redraw(); return; }
    setLive(true);
    var end = nowS(); state.view = [end - span(), end]; redraw();
  }
  function zoom(f) {
    var v = state.view || [nowS() - span(), nowS()], mid = (v[0] + v[1]) / 2, w = (v[1] - v[0]) * f;
    state.view = [mid - w / 2, mid + w / 2];
    setLive(false); redraw(); ensureLoaded();
  }
  function pan(f) {
    var v = state.view || [nowS() - span(), nowS()], w = v[1] - v[0];
    state.view = [v[0] + w * f, v[1] + w * f];
    setLive(false); redraw(); ensureLoaded();
  }

  // CSV of exactly what is shown: the visible time window, one column per tag, values as the tooltips show them
  // (each tag's display decimals; every digit is in the history API's CSV).
  function csv() {
    if (!state.plot) return;
    var u = state.plot, min = u.scales.x.min, max = u.scales.x.max, d = build().data;
    var decimals = state.tags.map(function (n) { return (Kiln.tagConfig[n] || {}).decimals; });
    var lines = [["timestamp"].concat(state.tags.map(function (n) {
      var t = Kiln.tagConfig[n] || {}; return n + (t.unit ? " [" + t.unit + "]" : "");
    })).map(Kiln.csvCell).join(",")];
    for (var i = 0; i < d[0].length; i++) {
      if (d[0][i] < min || d[0][i] > max) continue;
      var row = [isoS(d[0][i])];
      for (var s = 1; s < d.length; s++) {
        var v = d[s][i];
        row.push(v == null ? "" : typeof v === "number" ? Kiln.fmtValue(v, decimals[s - 1]) : v);
      }
      lines.push(row.map(Kiln.csvCell).join(","));
    }
    Kiln.download("trend_" + isoS(min).replace(/[:]/g, "") + "_" + isoS(max).replace(/[:]/g, "") + ".csv", lines.join("\r\n") + "\r\n");
  }
  Kiln.trend = { state: state, csv: csv, reload: reload };

  function addTag() {
    var input = $("#trend-add"), n = input.value.trim();
    if (!n) return;
    if (state.tags.indexOf(n) < 0) {
      if (state.tags.length >= 8) { say("At most 8 tags in one trend.", true); return; }
      state.tags.push(n);
    }
    input.value = "";
    reload();
  }
  $("#trend-add-btn").addEventListener("click", addTag);
  $("#trend-add").addEventListener("keydown", function (ev) { if (ev.key === "Enter") { ev.preventDefault(); addTag(); } });
  $("#trend-range").addEventListener("change", function (ev) {
    state.range = ev.target.value;
    $("#trend-custom").hidden = state.range !== "custom";
    if (state.range === "custom") {
      var v = state.view || [nowS() - 3600, nowS()];
      $("#trend-start").value = localInput(v[0]); $("#trend-end").value = localInput(v[1]);
      return;
    }
    reload();
  });
  $("#trend-apply").addEventListener("click", function () {
    var s = Date.parse(Kiln.zonedToIso($("#trend-start").value) || "") / 1000,
        e = Date.parse(Kiln.zonedToIso($("#trend-end").value) || "") / 1000;
    if (!isFinite(s) || !isFinite(e) || s >= e) { say("Write a start before the end, as YYYY-MM-DD HH:MM (24-hour, " + Kiln.timeZone + ").", true); return; }
    state.customStart = s; state.customEnd = e; reload();
  });
  $("#trend-zoom-in").addEventListener("click", function () { zoom(0.5); });
  $("#trend-zoom-out").addEventListener("click", function () { zoom(2); });
  $("#trend-pan-left").addEventListener("click", function () { pan(-0.5); });
  $("#trend-pan-right").addEventListener("click", function () { pan(0.5); });
  $("#trend-live").addEventListener("click", function () { resetView(); });
  $("#trend-csv").addEventListener("click", csv);
  window.addEventListener("resize", function () {
    if (state.plot) state.plot.setSize({ width: $("#trend-chart").clientWidth, height: state.plot.height });
  });

  if (state.range === "custom" && cfg.trend.start && cfg.trend.end) {
    state.customStart = Date.parse(cfg.trend.start) / 1000; state.customEnd = Date.parse(cfg.trend.end) / 1000;
    $("#trend-custom").hidden = false;
    $("#trend-start").value = localInput(state.customStart); $("#trend-end").value = localInput(state.customEnd);
  }
  reload();
})();
