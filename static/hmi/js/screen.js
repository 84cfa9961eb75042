/* Screen page: applies a screen's bindings to its SVG drawing as live values arrive (see hmi/models.py).
 *
 * Everything that needs a layout read (bounding boxes for rotation, a fill element's full extent) is read
 * once here at start; the per-update handlers only write attributes, so a frame with 200 changes causes no
 * forced layout.
 */
(function () {
  "use strict";
  var Kiln = window.Kiln, cfg = Kiln.config;
  if (!cfg) return;
  var svg = null;

  function find(id) { return svg ? svg.querySelector('[id="' + CSS.escape(id) + '"]') : null; }
  function num(v) { return typeof v === "number" ? v : typeof v === "boolean" ? (v ? 1 : 0) : Number(v); }
  function stateKey(v) { return typeof v === "boolean" ? (v ? "true" : "false") : String(v); }
  function limits(b, t) {
    var lo = b.min !== undefined ? b.min : t && t.min_value !== null && t.min_value !== undefined ? t.min_value : 0;
    var hi = b.max !== undefined ? b.max : t && t.max_value !== null && t.max_value !== undefined ? t.max_value : 100;
    return [lo, hi];
  }

  var builders = {
    text: function (node, b, t) {
      var unit = b.unit !== undefined ? b.unit : (b.show_unit === false || !t ? "" : t.unit || "");
      var suffix = unit ? " " + unit : "";
      // The binding's own decimals, else the tag's (Tag.decimals), else automatic.
      var dec = b.decimals !== undefined && b.decimals !== null ? b.decimals : t ? t.decimals : undefined;
      return function (u) {
        var q = Kiln.qualityClass(u);
        var txt = q === "q-bad" ? "BAD" : Kiln.fmtValue(u.value, dec, b.labels) + suffix;
        if (q === "q-uncertain") txt = "?" + txt;
        if (node.__txt !== txt) { node.textContent = txt; node.__txt = txt; }
        return q;
      };
    },
    color: function (node, b) {
      var attr = b.attribute || "fill";
      return function (u) {
        var color = b["default"];
        if (b.states) {
          var c = b.states[stateKey(u.value)];
          if (c) color = c;
        } else if (b.ranges) {
          var v = num(u.value);
          for (var i = 0; i < b.ranges.length; i++) {
            var r = b.ranges[i];
            if (r.below === undefined || r.below === null || v < r.below) { color = r.color; break; }
          }
        }
        if (color && node.__color !== color) { node.style.setProperty(attr, color); node.__color = color; }
        return Kiln.qualityClass(u);
      };
    },
    fill: function (node, b, t) {
      var lim = limits(b, t), horizontal = b.direction === "right";
      var x0 = parseFloat(node.getAttribute("x")) || 0, y0 = parseFloat(node.getAttribute("y")) || 0;
      var w0 = parseFloat(node.getAttribute("width")) || 0, h0 = parseFloat(node.getAttribute("height")) || 0;
      return function (u) {
        var f = (num(u.value) - lim[0]) / (lim[1] - lim[0]);
        f = isFinite(f) ? Math.max(0, Math.min(1, f)) : 0;
        if (horizontal) node.setAttribute("width", (w0 * f).toFixed(2));
        else { node.setAttribute("height", (h0 * f).toFixed(2)); node.setAttribute("y", (y0 + h0 * (1 - f)).toFixed(2)); }
        if (horizontal) node.setAttribute("x", x0);
        return Kiln.qualityClass(u);
      };
    },
    visible: function (node, b) {
      return function (u) {
        var show = true;
        if (b.when !== undefined) show = stateKey(u.value) === stateKey(b.when);
        if (b.above !== undefined) show = show && num(u.value) > b.above;
        if (b.below !== undefined) show = show && num(u.value) < b.below;
        node.style.visibility = show ? "visible" : "hidden";
        return Kiln.qualityClass(u);
      };
    },
    rotate: function (node, b, t) {
      var lim = limits(b, t), deg = b.degrees !== undefined ? b.degrees : 360;
      var base = node.getAttribute("transform") || "";
      var cx = b.cx, cy = b.cy;
      if (cx === undefined || cy === undefined) {
        var box = node.getBBox();
        cx = box.x + box.width / 2; cy = box.y + box.height / 2;
      }
      return function (u) {
        var f = (num(u.value) - lim[0]) / (lim[1] - lim[0]);
        f = isFinite(f) ? Math.max(0, Math.min(1, f)) : 0;
        node.setAttribute("transform", base + " rotate(" + (f * deg).toFixed(1) + " " + cx + " " + cy + ")");
        return Kiln.qualityClass(u);
      };
    }
  };

  function clickAction(node, b) {
    var act = null, title = "";
    if (b.action === "write") {
      var t = Kiln.tagConfig[b.tag];
      if (Kiln.mayWrite(t)) {
        act = function () { Kiln.openWrite(b.tag); }; title = "Write " + b.tag;
        node.classList.add("writable");  // looks writable only to those who may write
      }
      // Not writable for this role: its faceplate (value, limits, trend), without the write control.
      else { act = function () { Kiln.openFaceplate(b.tag); }; title = b.tag + " (read-only for your role)"; }
    } else if (b.action === "command" || b.action === "device") {
      var dev = Kiln.devices[b.device];
      if (dev) {
        var usable = dev.commands.some(function (c) {
          return cfg.role_level >= c.min_role_level && (b.action === "device" || c.id === b.command);
        });
        if (b.action === "device" || usable) {
          act = function () { Kiln.openDevice(b.device, b.action === "command" ? b.command : null); };
          title = b.action === "command" ? "Run " + b.command + " on " + dev.name : dev.name;
        }
      }
    } else if (b.action === "screen") {
      act = function () { location.href = "/screens/" + encodeURIComponent(b.screen) + "/"; };
      title = "Open screen " + b.screen;
    } else if (b.action === "faceplate") {
      if (Kiln.tagConfig[b.tag]) { act = function () { Kiln.openFaceplate(b.tag); }; title = b.tag; }
    } else if (b.action === "trend") {
      act = function () { location.href = Kiln.trendUrl(b.tag); };
      title = "Trend " + b.tag;
    }
    if (!act) return;
    node.classList.add("clickable");
    node.setAttribute("role", "button");
    node.setAttribute("tabindex", "0");
    node.setAttribute("data-action", b.action);
    var tt = document.createElementNS("http://www.w3.org/2000/svg", "title");
    tt.textContent = title;
    node.insertBefore(tt, node.firstChild);
    node.__clicked = true;
    node.addEventListener("click", function (ev) { ev.stopPropagation(); act(); });
    node.addEventListener("keydown", function (ev) { if (ev.key === "Enter" || ev.key === " ") { ev.preventDefault(); act(); } });
  }

  /* Applies `bindings` to the drawing inside `root`. The screen page calls it once; the screen editor's live
   * preview calls it on each preview with its own `watch` (so it can drop the previous preview's handlers).
   * `missingNames`: tags that do not exist (shown as unresolved). Returns how many bindings were bound. */
  Kiln.bindScreen = function (root, bindings, missingNames, watch) {
    svg = root.querySelector("svg");
    watch = watch || Kiln.live.watch;
    var missing = {};
    (missingNames || []).forEach(function (n) { missing[n] = true; });
    var bound = 0;
    bindings.forEach(function (b) {
      var node = find(b.element);
      if (!node) return;
      if (b.kind === "click") { clickAction(node, b); return; }
      if (b.tag) node.setAttribute("data-tag", b.tag);
      if (missing[b.tag]) { Kiln.setQualityClass(node, "q-none"); node.classList.add("unresolved"); if (b.kind === "text") node.textContent = "?"; return; }
      var make = builders[b.kind];
      if (!make) return;
      var apply = make(node, b, Kiln.tagConfig[b.tag]);
      node.classList.add("bound", "kind-" + b.kind);
      // A setpoint (a writable tag) never looks like a measured value, whoever looks at it.
      if (b.kind === "text" && Kiln.tagConfig[b.tag] && Kiln.tagConfig[b.tag].is_writable) node.classList.add("setpoint");
      Kiln.setQualityClass(node, "q-none");
      watch(b.tag, function (u) { Kiln.setQualityClass(node, apply(u)); });
      bound++;
    });
    // A value with no click of its own opens its faceplate (its trend is one more click, or a right-click).
    bindings.forEach(function (b) {
      if (b.kind !== "text" || !b.tag || !Kiln.tagConfig[b.tag]) return;
      var node = find(b.element);
      if (!node || node.__clicked || node.closest(".clickable")) return;
      node.classList.add("clickable", "has-faceplate");
      node.addEventListener("click", function () { Kiln.openFaceplate(b.tag); });
    });
    return bound;
  };

  var root = document.getElementById("screen");
  if (!root || !cfg.bindings) return;
  Kiln.screen = { bound: Kiln.bindScreen(root, cfg.bindings, cfg.missing), root: root };
  Kiln.live.seed(cfg.live || {});
})();
