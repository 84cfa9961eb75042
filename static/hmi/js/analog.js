/* ISA-101 analog indicators on a screen: a bar on a scale, with the normal range, the alarm limits and the
 * setpoint drawn on it, so an operator sees at a glance how close a value is to trouble.
 *
 * A drawing marks an indicator by convention, not by a new binding kind (the sanitizer keeps no data-*):
 *   <g id="X" class="k-analog"> <rect id="X-scale" .../> <rect id="X-bar" .../> </g>
 * with a fill binding on X-bar (its tag, min/max, direction). Drawn here, from the page config:
 *   - the normal range: a darker band between the highest low limit and the lowest high limit;
 *   - each HIHI/HI/LO/LOLO limit of the tag (alarm_limits, hmi.selectors): a tick outside the scale, HH/H/L/LL;
 *   - the setpoint: when a text binding shows a tag on element X-sp, a hollow mark at that tag's live value.
 * Geometry is read once here; live updates only move the setpoint mark. Loaded after screen.js. */
(function () {
  "use strict";
  var Kiln = window.Kiln, cfg = Kiln && Kiln.config;
  if (!cfg || !Kiln.screen || !cfg.bindings) return;
  var NS = "http://www.w3.org/2000/svg", svg = Kiln.screen.root.querySelector("svg");
  if (!svg) return;
  var LABEL = { HIHI: "HH", HI: "H", LO: "L", LOLO: "LL" };
  function byId(id) { return svg.querySelector('[id="' + CSS.escape(id) + '"]'); }
  function add(parent, tag, attrs, before) {
    var e = document.createElementNS(NS, tag);
    for (var k in attrs) e.setAttribute(k, attrs[k]);
    parent.insertBefore(e, before || null);
    return e;
  }
  function n(node, attr) { return parseFloat(node.getAttribute(attr)) || 0; }
  function given(v) { return v !== undefined && v !== null; }
  var textTags = {};
  cfg.bindings.forEach(function (b) { if (b.kind === "text" && b.tag) textTags[b.element] = b.tag; });

  var indicators = [];
  cfg.bindings.forEach(function (b) {
    if (b.kind !== "fill" || !b.tag) return;
    var bar = byId(b.element), g = bar && bar.parentNode;
    if (!g || !g.classList || !g.classList.contains("k-analog") || !g.id || b.element !== g.id + "-bar") return;
    var t = Kiln.tagConfig[b.tag] || {}, scale = byId(g.id + "-scale") || bar;
    var lo = given(b.min) ? b.min : given(t.min_value) ? t.min_value : 0;
    var hi = given(b.max) ? b.max : given(t.max_value) ? t.max_value : 100;
    if (!(hi > lo)) return;
    var x = n(scale, "x"), y = n(scale, "y"), w = n(scale, "width"), h = n(scale, "height");
    var across = b.direction === "right";
    function at(v) {
      var f = Math.max(0, Math.min(1, (v - lo) / (hi - lo)));
      return across ? x + f * w : y + h - f * h;
    }
    var limits = (Kiln.alarmLimits || {})[b.tag] || [];
    // Live data replaces the design-time marks an editor symbol was drawn with (editor-symbols.js, k-design-*).
    function drop(cls) { Array.prototype.forEach.call(g.querySelectorAll("." + cls), function (e) { e.remove(); }); }
    if (limits.length) drop("k-design-limits");
    // Normal range: below every high limit and above every low limit (the whole scale when there are none).
    var top = hi, bottom = lo;
    limits.forEach(function (l) {
      if (l.kind === "HI" || l.kind === "HIHI") top = Math.min(top, l.setpoint);
      else bottom = Math.max(bottom, l.setpoint);
    });
    if (limits.length && top > bottom) {
      var a = at(bottom), z = at(top);
      add(g, "rect", across ? { x: a, y: y, width: z - a, height: h, class: "k-normal-band" }
                            : { x: x, y: z, width: w, height: a - z, class: "k-normal-band" }, bar);
    }
    limits.forEach(function (l) {
      var p = at(l.setpoint).toFixed(1), tick, label;
      if (across) {
        tick = "M" + p + " " + (y + h) + " l-5 8 l10 0 Z";
        label = { x: p, y: y + h + 18, "text-anchor": "middle" };
      } else {
        tick = "M" + (x + w) + " " + p + " l8 -5 l0 10 Z";
        label = { x: x + w + 10, y: +p + 4, "text-anchor": "start" };
      }
      var mark = add(g, "g", { class: "k-limit-mark", "data-kind": l.kind, "data-priority": l.priority });
      add(mark, "title", {}).textContent = l.name + ": " + Kiln.fmtTag(l.setpoint, t);
      add(mark, "path", { d: tick, class: "k-limit" });
      add(mark, "text", Object.assign(label, { class: "k-limit-label", "font-size": 10 })).textContent =
        LABEL[l.kind] || l.kind;
    });
    var spTag = textTags[g.id + "-sp"], mark = null;
    if (spTag) {
      drop("k-design-sp");
      // A hollow mark on the other side from the limits: where the controller is told to hold the value.
      mark = add(g, "path", { d: across ? "M0 " + y + " l-6 -9 l12 0 Z" : "M" + x + " 0 l-9 -6 l0 12 Z",
                              class: "k-sp-mark", visibility: "hidden" });
      Kiln.live.watch(spTag, function (u) {
        var ok = u && typeof u.value === "number" && u.quality !== "BAD";
        mark.setAttribute("visibility", ok ? "visible" : "hidden");
        if (ok) mark.setAttribute("transform", across ? "translate(" + at(u.value).toFixed(1) + ",0)"
                                                      : "translate(0," + at(u.value).toFixed(1) + ")");
      });
    }
    g.setAttribute("data-limits", String(limits.length));
    indicators.push({ id: g.id, tag: b.tag, limits: limits.length, setpoint: spTag || null });
  });
  Kiln.analog = { indicators: indicators };
})();
