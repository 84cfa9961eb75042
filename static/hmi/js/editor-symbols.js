/* Screen editor: the palette of ISA-101 symbols (grey, no 3-D; colour only for abnormal states).
 *
 * A placed symbol is plain SVG the HMI already renders: <g id="tank1" class="k-sym k-tank" transform=...> with a
 * <desc> holding its editor parameters as JSON (desc survives the sanitizer; the screen page ignores it) and
 * children whose ids are the group id plus a suffix (tank1-fill, tank1-value). Bindings name those ids, as any
 * hand-drawn screen does: the result is the same screen model (an SVG + its bindings), no second format.
 *
 * Each symbol has `slots`: quick bindings the property panel offers ("Level tag" on a tank makes a fill binding on
 * -fill and a text binding on -value). A slot owns the (element suffix, kind) pairs its bindings use.
 */
(function () {
  "use strict";
  var Kiln = window.Kiln;
  if (!Kiln.config) return;
  var NS = "http://www.w3.org/2000/svg";
  // ISA-101 greys (the HMI's own palette, static/hmi/css/kiln.css); colour is kept for alarms and abnormal states.
  var C = { line: "#4d4d4d", body: "#e0e0e0", light: "#f4f4f4", fill: "#9e9e9e", ink: "#1d2125", muted: "#6b6b6b",
            band: "#cfd8cf", on: "#5c5c5c", off: "#f4f4f4" };
  var PRIORITY = { critical: "#c62828", high: "#ef6c00", medium: "#f9a825", low: "#1565c0" };

  function el(parent, tag, attrs, text) {
    var e = document.createElementNS(NS, tag);
    for (var k in attrs) if (attrs[k] !== undefined && attrs[k] !== null) e.setAttribute(k, attrs[k]);
    if (text !== undefined) e.textContent = text;
    parent.appendChild(e);
    return e;
  }
  function txt(g, id, x, y, text, extra) {
    var a = { id: id, x: x, y: y, "text-anchor": "middle", "font-size": 13, fill: C.ink };
    for (var k in extra || {}) a[k] = extra[k];
    return el(g, "text", a, text);
  }
  function label(g, p) { if (p.label) txt(g, null, p.w / 2, -6, p.label, { "font-size": 12, fill: C.muted }); }
  function num(v, d) { v = parseFloat(v); return isFinite(v) ? v : d; }
  function tagRange(t, p) {
    var lo = t && t.min_value !== null && t.min_value !== undefined ? t.min_value : num(p.min, 0);
    var hi = t && t.max_value !== null && t.max_value !== undefined ? t.max_value : num(p.max, 100);
    return hi > lo ? [lo, hi] : [0, 100];
  }
  var RUN_STATES = { "true": C.on, "false": C.off };
  var RUN_LABELS = { "true": "RUNNING", "false": "STOPPED" };

  var defs = {
    tank: {
      label: "Tank / vessel", w: 80, h: 140, params: { label: "" },
      render: function (g, id, p) {
        label(g, p);
        el(g, "rect", { id: id + "-body", x: 0, y: 0, width: p.w, height: p.h, rx: 8, fill: C.light, stroke: C.line, "stroke-width": 2 });
        el(g, "rect", { id: id + "-fill", x: 4, y: 4, width: p.w - 8, height: p.h - 8, fill: C.fill });
        txt(g, id + "-value", p.w / 2, p.h + 18, "–");
      },
      slots: [{ key: "level", label: "Level tag", owns: [["-fill", "fill"], ["-value", "text"]],
        make: function (id, tag, t, p) {
          var r = tagRange(t, p);
          return [{ element: id + "-fill", kind: "fill", tag: tag, min: r[0], max: r[1] },
                  { element: id + "-value", kind: "text", tag: tag }];
        } }]
    },
    pump: {
      label: "Pump", w: 60, h: 60, params: { label: "" },
      render: function (g, id, p) {
        label(g, p);
        var r = Math.min(p.w, p.h) / 2;
        el(g, "circle", { id: id + "-body", cx: p.w / 2, cy: p.h / 2, r: r - 1, fill: C.off, stroke: C.line, "stroke-width": 2 });
        el(g, "path", { d: "M" + (p.w / 2) + " " + (p.h / 2 - r + 1) + " L" + (p.w - 1) + " " + (p.h / 2 - r + 1), stroke: C.line, "stroke-width": 2, fill: "none" });
        el(g, "polygon", { points: [p.w * 0.35, p.h * 0.3, p.w * 0.72, p.h / 2, p.w * 0.35, p.h * 0.7].join(","), fill: "none", stroke: C.line, "stroke-width": 2 });
        txt(g, id + "-state", p.w / 2, p.h + 16, "–", { "font-size": 11 });
      },
      slots: [runSlot(), deviceSlot()]
    },
    motor: {
      label: "Motor", w: 60, h: 60, params: { label: "" },
      render: function (g, id, p) {
        label(g, p);
        el(g, "circle", { id: id + "-body", cx: p.w / 2, cy: p.h / 2, r: Math.min(p.w, p.h) / 2 - 1, fill: C.off, stroke: C.line, "stroke-width": 2 });
        txt(g, null, p.w / 2, p.h / 2 + 6, "M", { "font-size": 18, "font-weight": "bold" });
        txt(g, id + "-state", p.w / 2, p.h + 16, "–", { "font-size": 11 });
      },
      slots: [runSlot(), deviceSlot()]
    },
    valve: {
      label: "Valve", w: 60, h: 40, params: { label: "" },
      render: function (g, id, p) {
        label(g, p);
        var h = p.h, w = p.w, top = h * 0.35;
        el(g, "path", { id: id + "-body", d: "M0 " + top + " L" + w + " " + h + " L" + w + " " + top + " L0 " + h + " Z", fill: C.off, stroke: C.line, "stroke-width": 2 });
        el(g, "path", { d: "M" + w / 2 + " " + ((top + h) / 2) + " L" + w / 2 + " 4 M" + (w / 2 - 10) + " 4 L" + (w / 2 + 10) + " 4", stroke: C.line, "stroke-width": 2, fill: "none" });
        txt(g, id + "-state", w / 2, h + 16, "–", { "font-size": 11 });
      },
      slots: [{ key: "open", label: "Open tag", owns: [["-body", "color"], ["-state", "text"], ["", "click"]],
        make: function (id, tag, t) {
          var out = [{ element: id + "-body", kind: "color", tag: tag, states: { "true": C.on, "false": C.off } },
                     { element: id + "-state", kind: "text", tag: tag, labels: { "true": "OPEN", "false": "CLOSED" } }];
          if (t && t.is_writable) out.push({ element: id, kind: "click", action: "write", tag: tag });
          return out;
        } }]
    },
    pipe: {
      label: "Pipe", w: 160, h: 10, params: {},
      render: function (g, id, p) {
        el(g, "rect", { id: id + "-body", x: 0, y: 0, width: p.w, height: p.h, fill: "#bdbdbd", stroke: "#8a8a8a", "stroke-width": 1 });
      },
      slots: []
    },
    analog: {
      label: "Analog indicator", w: 34, h: 150, params: { label: "", lo: "", hi: "", sp: "" },
      render: function (g, id, p) {
        label(g, p);
        var t = Kiln.tagConfig[p.tag] || null, r = tagRange(t, p), h = p.h, w = p.w;
        function y(v) { return h - (num(v, r[0]) - r[0]) / (r[1] - r[0]) * h; }
        // The screen page (analog.js) draws the tag's live alarm limits and normal band, and the setpoint mark of the
        // "Setpoint tag"; lo/hi/sp here are design-time marks (class k-design-*) that those replace when present.
        el(g, "rect", { id: id + "-scale", x: 0, y: 0, width: w, height: h, fill: C.light, stroke: C.line, "stroke-width": 1.5 });
        if (p.lo !== "" && p.hi !== "") el(g, "rect", { x: 1, y: y(p.hi), width: w - 2, height: Math.max(0, y(p.lo) - y(p.hi)), fill: C.band, "class": "k-design-limits" });
        el(g, "rect", { id: id + "-bar", x: w * 0.3, y: 0, width: w * 0.4, height: h, fill: C.fill });
        ["lo", "hi"].forEach(function (k) {
          if (p[k] === "") return;
          el(g, "path", { d: "M" + w + " " + y(p[k]) + " l8 -5 l0 10 Z", fill: C.ink, "class": "k-design-limits" });
          txt(g, null, w + 10, y(p[k]) + 4, k === "hi" ? "H" : "L", { "text-anchor": "start", "font-size": 10, "class": "k-design-limits" });
        });
        if (p.sp !== "") el(g, "path", { d: "M0 " + y(p.sp) + " l-9 -6 l0 12 Z", fill: "none", stroke: C.ink, "stroke-width": 1.5, "class": "k-design-sp" });
        txt(g, null, -3, 4, String(r[1]), { "text-anchor": "end", "font-size": 10, fill: C.muted });
        txt(g, null, -3, h, String(r[0]), { "text-anchor": "end", "font-size": 10, fill: C.muted });
        txt(g, id + "-value", w / 2, h + 18, "–");
        txt(g, id + "-sp", w / 2, h + 34, "", { "font-size": 11, fill: "#1f5f9e" });
      },
      slots: [{ key: "value", label: "Value tag", owns: [["-bar", "fill"], ["-value", "text"]],
        make: function (id, tag, t, p) {
          p.tag = tag; // the scale's numbers come from the tag's range
          var r = tagRange(t, p);
          return [{ element: id + "-bar", kind: "fill", tag: tag, min: r[0], max: r[1] },
                  { element: id + "-value", kind: "text", tag: tag }];
        } },
        { key: "sp", label: "Setpoint tag (its live mark)", owns: [["-sp", "text"]],
          make: function (id, tag) { return [{ element: id + "-sp", kind: "text", tag: tag }]; } }]
    },
    bar: {
      label: "Bar", w: 140, h: 16, params: { label: "" },
      render: function (g, id, p) {
        label(g, p);
        el(g, "rect", { x: 0, y: 0, width: p.w, height: p.h, fill: C.light, stroke: C.line, "stroke-width": 1.5 });
        el(g, "rect", { id: id + "-bar", x: 1, y: 1, width: p.w - 2, height: p.h - 2, fill: C.fill });
        txt(g, id + "-value", p.w + 6, p.h - 3, "–", { "text-anchor": "start" });
      },
      slots: [{ key: "value", label: "Value tag", owns: [["-bar", "fill"], ["-value", "text"]],
        make: function (id, tag, t, p) {
          var r = tagRange(t, p);
          return [{ element: id + "-bar", kind: "fill", tag: tag, min: r[0], max: r[1], direction: "right" },
                  { element: id + "-value", kind: "text", tag: tag }];
        } }]
    },
    value: {
      label: "Value text", w: 100, h: 26, params: { label: "" },
      render: function (g, id, p) {
        label(g, p);
        el(g, "rect", { id: id + "-box", x: 0, y: 0, width: p.w, height: p.h, fill: "#ffffff", stroke: "#a8a8a8", "stroke-width": 1 });
        txt(g, id + "-value", p.w / 2, p.h / 2 + 5, "–", { "font-size": 14 });
      },
      slots: [{ key: "value", label: "Value tag", owns: [["-value", "text"], ["", "click"]],
        make: function (id, tag, t) {
          var out = [{ element: id + "-value", kind: "text", tag: tag }];
          // A writable value looks writable (the page offers the write dialog only to roles that may write).
          if (t && t.is_writable) out.push({ element: id, kind: "click", action: "write", tag: tag });
          return out;
        } }]
    },
    multistate: {
      label: "Multi-state", w: 110, h: 28, params: { label: "", states: "0=STOPPED\n1=RUNNING\n2=FAULT!" },
      render: function (g, id, p) {
        label(g, p);
        el(g, "rect", { id: id + "-body", x: 0, y: 0, width: p.w, height: p.h, rx: 3, fill: C.body, stroke: C.line, "stroke-width": 1.5 });
        txt(g, id + "-value", p.w / 2, p.h / 2 + 5, "–");
      },
      slots: [{ key: "state", label: "State tag", owns: [["-body", "color"], ["-value", "text"]],
        make: function (id, tag, t, p) {
          // "value=LABEL" per line; a trailing ! marks an abnormal state, the only one shown in colour.
          var labels = {}, colours = {};
          String(p.states || "").split(/\n|,/).forEach(function (line) {
            var m = /^\s*([^=]+?)\s*=\s*(.*?)\s*$/.exec(line);
            if (!m) return;
            var abnormal = /!$/.test(m[2]);
            labels[m[1]] = m[2].replace(/!$/, "");
            colours[m[1]] = abnormal ? PRIORITY.medium : C.body;
          });
          return [{ element: id + "-body", kind: "color", tag: tag, states: colours },
                  { element: id + "-value", kind: "text", tag: tag, labels: labels }];
        } }]
    },
    alarm: {
      label: "Alarm indicator", w: 24, h: 24, params: { priority: "high", above: "" },
      render: function (g, id, p) {
        var c = PRIORITY[p.priority] || PRIORITY.high, w = p.w, h = p.h, shape;
        // Priority by colour AND shape (ISA-101): critical diamond, high triangle, medium square, low circle.
        var grp = el(g, "g", { id: id + "-ind" });
        if (p.priority === "critical") shape = el(grp, "polygon", { points: [w / 2, 0, w, h / 2, w / 2, h, 0, h / 2].join(",") });
        else if (p.priority === "medium") shape = el(grp, "rect", { x: 1, y: 1, width: w - 2, height: h - 2 });
        else if (p.priority === "low") shape = el(grp, "circle", { cx: w / 2, cy: h / 2, r: Math.min(w, h) / 2 - 1 });
        else shape = el(grp, "polygon", { points: [w / 2, 0, w, h, 0, h].join(",") });
        shape.setAttribute("fill", c); shape.setAttribute("stroke", C.ink);
        txt(grp, null, w / 2, h * 0.82, "!", { "font-size": h * 0.6, "font-weight": "bold", fill: p.priority === "medium" ? C.ink : "#fff" });
      },
      slots: [{ key: "cond", label: "Alarm tag (BOOL, or a value above 'above')", owns: [["-ind", "visible"], ["", "click"]],
        make: function (id, tag, t, p) {
          var b = { element: id + "-ind", kind: "visible", tag: tag };
          if (p.above !== "" && isFinite(parseFloat(p.above))) b.above = parseFloat(p.above); else b.when = true;
          return [b, { element: id, kind: "click", action: "trend", tag: tag }];
        } }]
    },
    button: {
      label: "Button", w: 110, h: 30, params: { text: "Start" },
      render: function (g, id, p) {
        el(g, "rect", { id: id + "-body", x: 0, y: 0, width: p.w, height: p.h, rx: 4, fill: C.light, stroke: C.line, "stroke-width": 1.5 });
        txt(g, id + "-text", p.w / 2, p.h / 2 + 5, p.text || "Button");
      },
      slots: [{ key: "command", label: "Device command (device.command)", type: "command", owns: [["", "click"]],
        make: function (id, value) {
          var i = value.lastIndexOf(".");
          return [{ element: id, kind: "click", action: "command", device: value.slice(0, i), command: value.slice(i + 1) }];
        } },
        { key: "write", label: "…or write a tag", owns: [["", "click"]],
          make: function (id, tag) { return [{ element: id, kind: "click", action: "write", tag: tag }]; } }]
    },
    nav: {
      label: "Navigation link", w: 150, h: 30, params: { text: "Next screen ›" },
      render: function (g, id, p) {
        el(g, "rect", { id: id + "-body", x: 0, y: 0, width: p.w, height: p.h, rx: 4, fill: "#5f6b76", stroke: "none" });
        txt(g, id + "-text", p.w / 2, p.h / 2 + 5, p.text || "›", { fill: "#fff" });
      },
      slots: [{ key: "screen", label: "Opens screen", type: "screen", owns: [["", "click"]],
        make: function (id, slug) { return [{ element: id, kind: "click", action: "screen", screen: slug }]; } }]
    },
    trend: {
      label: "Trend sparkline", w: 150, h: 44, params: { label: "" },
      render: function (g, id, p) {
        label(g, p);
        el(g, "rect", { x: 0, y: 0, width: p.w, height: p.h, fill: "#fff", stroke: "#a8a8a8" });
        var pts = [], n = 12;
        for (var i = 0; i <= n; i++) pts.push((4 + i * (p.w * 0.6) / n).toFixed(1) + "," + (p.h / 2 + Math.sin(i * 0.9) * p.h * 0.3).toFixed(1));
        el(g, "polyline", { points: pts.join(" "), fill: "none", stroke: C.muted, "stroke-width": 1.5 });
        txt(g, id + "-value", p.w * 0.83, p.h / 2 + 5, "–");
      },
      slots: [{ key: "tag", label: "Trend tag", owns: [["-value", "text"], ["", "click"]],
        make: function (id, tag) {
          return [{ element: id + "-value", kind: "text", tag: tag }, { element: id, kind: "click", action: "trend", tag: tag }];
        } }]
    }
  };

  function runSlot() {
    return { key: "running", label: "Running tag", owns: [["-body", "color"], ["-state", "text"]],
      make: function (id, tag) {
        // Running / stopped by fill and text, not by green and red (ISA-101).
        return [{ element: id + "-body", kind: "color", tag: tag, states: RUN_STATES },
                { element: id + "-state", kind: "text", tag: tag, labels: RUN_LABELS }];
      } };
  }
  function deviceSlot() {
    return { key: "device", label: "Faceplate of device", type: "device", owns: [["", "click"]],
      make: function (id, device) { return [{ element: id, kind: "click", action: "device", device: device }]; } };
  }

  Kiln.EditorSymbols = { defs: defs, el: el, NS: NS, PRIORITY: PRIORITY };
})();
