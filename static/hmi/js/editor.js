/* Screen editor (Engineer+): edits a screen's SVG drawing and its bindings in place; saves them through
 * PUT/POST /api/screens, which sanitizes, validates (every tag must exist), versions and audits.
 *
 * The document is the SVG itself. Top-level children of the root <svg> are the objects: palette symbols and
 * groups (<g class="k-sym|k-group"> with their parameters in a <desc> JSON) and any other element of an
 * imported drawing (moved by a leading translate()). Editor-only things (grid, selection boxes, handles) live in
 * elements with class k-ed and are stripped when serializing. Undo/redo keep whole snapshots (markup + bindings):
 * simple, and a screen is a few kilobytes.
 */
(function () {
  "use strict";
  var Kiln = window.Kiln, cfg = Kiln.config;
  var host = document.getElementById("editor-canvas");
  if (!host || !cfg || !cfg.editor) return;
  var S = Kiln.EditorSymbols, NS = S.NS;
  var E = (Kiln.editor = {
    screen: cfg.editor.screen, bindings: (cfg.editor.screen && cfg.editor.screen.bindings) || [],
    selection: [], grid: 10, snap: true, zoom: 1, undo: [], redo: [], clipboard: null, dirty: false,
    listeners: []
  });
  var svg;

  // --- document -------------------------------------------------------------------------------------------
  function load(markup) {
    host.innerHTML = "";
    var doc = new DOMParser().parseFromString(markup, "image/svg+xml");
    var root = doc.documentElement;
    if (root.nodeName !== "svg" || doc.querySelector("parsererror")) {
      root = new DOMParser().parseFromString(blank(), "image/svg+xml").documentElement;
    }
    scrub(root);
    svg = document.importNode(root, true);
    if (!svg.getAttribute("viewBox")) svg.setAttribute("viewBox", "0 0 1000 560");
    host.appendChild(svg);
    E.svg = svg;
    addGrid();
    applyZoom();
  }
  function blank() {
    return '<svg xmlns="' + NS + '" viewBox="0 0 1000 560" font-family="DejaVu Sans, Arial, sans-serif"></svg>';
  }
  // What never belongs in the editor's DOM, even before the server's sanitizer sees it (an imported file).
  function scrub(node) {
    Array.prototype.slice.call(node.querySelectorAll("script,foreignObject,iframe,image,style,a")).forEach(function (n) { n.remove(); });
    [node].concat(Array.prototype.slice.call(node.querySelectorAll("*"))).forEach(function (n) {
      Array.prototype.slice.call(n.attributes).forEach(function (a) {
        if (/^on/i.test(a.name) || /href$/i.test(a.name) && !/^#/.test(a.value)) n.removeAttribute(a.name);
      });
    });
  }
  function viewBox() { var v = svg.getAttribute("viewBox").split(/[\s,]+/).map(Number); return { x: v[0], y: v[1], w: v[2], h: v[3] }; }
  function addGrid() {
    var vb = viewBox(), g = document.createElementNS(NS, "g");
    g.setAttribute("class", "k-ed k-grid");
    var d = "";
    for (var x = vb.x; x <= vb.x + vb.w; x += E.grid * 5) d += "M" + x + " " + vb.y + "V" + (vb.y + vb.h);
    for (var y = vb.y; y <= vb.y + vb.h; y += E.grid * 5) d += "M" + vb.x + " " + y + "H" + (vb.x + vb.w);
    S.el(g, "path", { d: d, stroke: "#c9ccd0", "stroke-width": 0.5, fill: "none" });
    svg.insertBefore(g, svg.firstChild);
  }
  E.serialize = function () {
    var copy = svg.cloneNode(true);
    Array.prototype.slice.call(copy.querySelectorAll(".k-ed")).forEach(function (n) { n.remove(); });
    Array.prototype.slice.call(copy.querySelectorAll(".k-selected")).forEach(function (n) { n.classList.remove("k-selected"); });
    copy.removeAttribute("style"); copy.removeAttribute("width"); copy.removeAttribute("height");
    return new XMLSerializer().serializeToString(copy);
  };
  E.objects = function () {
    return Array.prototype.slice.call(svg.children).filter(function (n) {
      return !n.classList.contains("k-ed") && ["defs", "title", "desc", "style"].indexOf(n.nodeName) < 0;
    });
  };
  E.params = function (node) {
    var d = node.querySelector(":scope > desc");
    if (!d || !node.classList.contains("k-sym") && !node.classList.contains("k-group")) return null;
    try { return JSON.parse(d.textContent); } catch (e) { return null; }
  };
  E.ids = function (node) {
    var out = node.id ? [node.id] : [];
    Array.prototype.slice.call(node.querySelectorAll("[id]")).forEach(function (n) { out.push(n.id); });
    return out;
  };
  function uniqueId(base, reserved) {
    var n = 1;
    while (document.getElementById(base + n) || reserved && reserved[base + n]
           || E.bindings.some(function (b) { return b.element === base + n; })) n++;
    if (reserved) reserved[base + n] = true;
    return base + n;
  }
  function transformOf(p) {
    if (p.kiln === "group") {
      return "translate(" + p.x + " " + p.y + ") rotate(" + (p.r || 0) + " " + (p.w * p.sx / 2) + " " + (p.h * p.sy / 2) + ") scale(" + p.sx + " " + p.sy + ") translate(" + (-p.ox) + " " + (-p.oy) + ")";
    }
    return "translate(" + p.x + " " + p.y + ")" + (p.r ? " rotate(" + p.r + " " + p.w / 2 + " " + p.h / 2 + ")" : "");
  }
  // Re-draws a node from its parameters (a symbol's children, a group's transform).
  E.render = function (node, p) {
    var desc = node.querySelector(":scope > desc") || document.createElementNS(NS, "desc");
    desc.textContent = JSON.stringify(p);
    if (p.kiln !== "group") {
      while (node.firstChild) node.removeChild(node.firstChild);
      S.defs[p.kiln].render(node, node.id, p);
    }
    node.insertBefore(desc, node.firstChild);
    node.setAttribute("transform", transformOf(p));
  };

  // --- changes, undo and redo -----------------------------------------------------------------------------
  function snapshot() { return { svg: E.serialize(), bindings: JSON.stringify(E.bindings) }; }
  E.change = function (fn) {
    E.undo.push(snapshot()); if (E.undo.length > 200) E.undo.shift();
    E.redo = [];
    fn();
    E.dirty = true;
    E.emit();
  };
  function restore(s) {
    var ids = E.selection.map(function (n) { return n.id; });
    load(s.svg); E.bindings = JSON.parse(s.bindings);
    E.select(ids.map(function (id) { return document.getElementById(id); }).filter(Boolean));
    E.dirty = true;
  }
  E.doUndo = function () { if (E.undo.length) { E.redo.push(snapshot()); restore(E.undo.pop()); } };
  E.doRedo = function () { if (E.redo.length) { E.undo.push(snapshot()); restore(E.redo.pop()); } };
  E.on = function (fn) { E.listeners.push(fn); };
  E.emit = function () { drawSelection(); E.listeners.forEach(function (fn) { fn(); }); };

  // --- placing, moving, sizing ----------------------------------------------------------------------------
  E.add = function (type, x, y) {
    var def = S.defs[type], node;
    E.change(function () {
      node = document.createElementNS(NS, "g");
      node.id = uniqueId(type);
      node.setAttribute("class", "k-sym k-" + type);
      var p = { kiln: type, x: snapTo(x - def.w / 2), y: snapTo(y - def.h / 2), w: def.w, h: def.h, r: 0 };
      for (var k in def.params) p[k] = def.params[k];
      svg.appendChild(node);
      E.render(node, p);
    });
    E.select([node]);
    return node;
  };
  function snapTo(v) { return E.snap ? Math.round(v / E.grid) * E.grid : Math.round(v * 10) / 10; }
  E.moveBy = function (node, dx, dy) {
    var p = E.params(node);
    if (p) { p.x = Math.round((p.x + dx) * 10) / 10; p.y = Math.round((p.y + dy) * 10) / 10; E.render(node, p); return; }
    var t = node.getAttribute("transform") || "", m = /^translate\(\s*([-\d.e]+)[\s,]+([-\d.e]+)\s*\)/.exec(t);
    if (m) node.setAttribute("transform", "translate(" + (+m[1] + dx) + " " + (+m[2] + dy) + ")" + t.slice(m[0].length));
    else node.setAttribute("transform", ("translate(" + dx + " " + dy + ") " + t).trim());
  };
  E.box = function (node) {
    // The node's extent in drawing coordinates (axis-aligned, rotation included).
    var r = node.getBoundingClientRect(), m = svg.getScreenCTM().inverse();
    var a = pt(r.left, r.top, m), b = pt(r.right, r.bottom, m);
    return { x: a.x, y: a.y, w: b.x - a.x, h: b.y - a.y };
  };
  function pt(x, y, m) { var p = svg.createSVGPoint(); p.x = x; p.y = y; return p.matrixTransform(m); }
  E.toDrawing = function (ev) { return pt(ev.clientX, ev.clientY, svg.getScreenCTM().inverse()); };
  E.resize = function (node, w, h) {
    var p = E.params(node);
    if (!p) return;
    if (p.kiln === "group") { p.sx = Math.max(0.05, w / p.w); p.sy = Math.max(0.05, h / p.h); }
    else { p.w = Math.max(4, w); p.h = Math.max(4, h); }
    E.render(node, p);
  };
  E.setParam = function (node, key, value) {
    E.change(function () { var p = E.params(node); p[key] = value; E.render(node, p); });
  };

  // --- selection ------------------------------------------------------------------------------------------
  E.select = function (nodes) {
    E.selection.forEach(function (n) { n.classList.remove("k-selected"); });
    E.selection = nodes;
    nodes.forEach(function (n) { n.classList.add("k-selected"); });
    E.emit();
  };
  function drawSelection() {
    var old = svg.querySelector(".k-sel");
    if (old) old.remove();
    if (!E.selection.length) return;
    var g = document.createElementNS(NS, "g");
    g.setAttribute("class", "k-ed k-sel");
    E.selection.forEach(function (n) {
      var b = E.box(n);
      S.el(g, "rect", { x: b.x - 3, y: b.y - 3, width: b.w + 6, height: b.h + 6, fill: "none", stroke: "#1f5f9e", "stroke-dasharray": "4 3", "stroke-width": 1.2 });
      if (E.selection.length === 1 && E.params(n)) {
        S.el(g, "rect", { class: "k-handle", x: b.x + b.w - 2, y: b.y + b.h - 2, width: 10, height: 10, fill: "#1f5f9e" });
      }
    });
    svg.appendChild(g);
  }
  function topObject(target) {
    var n = target;
    while (n && n.parentNode !== svg) n = n.parentNode;
    if (!n || n === svg || n.classList.contains("k-ed")) return null;
    // A drawing's full-size background rectangle is the page, not an object: clicking it deselects.
    var vb = viewBox();
    if (n.nodeName === "rect" && +n.getAttribute("width") >= vb.w && +n.getAttribute("height") >= vb.h) return null;
    return n;
  }

  // --- pointer: select, drag (snapping), resize handle ------------------------------------------------------
  var drag = null;
  function onDown(ev) {
    if (E.previewing || ev.button !== 0) return;
    var start = E.toDrawing(ev);
    if (ev.target.classList && ev.target.classList.contains("k-handle")) {
      var n = E.selection[0], p = E.params(n);
      E.undo.push(snapshot()); E.redo = [];
      drag = { resize: n, x0: p.x, y0: p.y };
      ev.preventDefault();
      return;
    }
    var obj = topObject(ev.target);
    if (!obj) {
      // Empty canvas: a rubber band selects every object it fully encloses (Shift adds to the selection).
      if (!ev.shiftKey) E.select([]);
      drag = { band: start, keep: E.selection.slice() };
      ev.preventDefault();
      return;
    }
    if (ev.shiftKey) {
      E.select(E.selection.indexOf(obj) >= 0 ? E.selection.filter(function (n) { return n !== obj; }) : E.selection.concat([obj]));
      return;
    }
    if (E.selection.indexOf(obj) < 0) E.select([obj]);
    E.undo.push(snapshot()); E.redo = [];
    drag = { start: start, moved: { x: 0, y: 0 } };
    ev.preventDefault();
  }
  function onMove(ev) {
    if (!drag) return;
    var p = E.toDrawing(ev);
    if (drag.band) {
      var r = svg.querySelector(".k-band") || S.el(svg, "rect", { class: "k-ed k-band", fill: "rgba(31,95,158,.08)", stroke: "#1f5f9e", "stroke-dasharray": "3 2" });
      drag.rect = { x: Math.min(p.x, drag.band.x), y: Math.min(p.y, drag.band.y), w: Math.abs(p.x - drag.band.x), h: Math.abs(p.y - drag.band.y) };
      r.setAttribute("x", drag.rect.x); r.setAttribute("y", drag.rect.y); r.setAttribute("width", drag.rect.w); r.setAttribute("height", drag.rect.h);
      return;
    }
    if (drag.resize) {
      var q = E.params(drag.resize);
      E.resize(drag.resize, snapTo(p.x) - q.x, snapTo(p.y) - q.y);
    } else {
      var dx = snapTo(p.x - drag.start.x) - drag.moved.x, dy = snapTo(p.y - drag.start.y) - drag.moved.y;
      if (!dx && !dy) return;
      E.selection.forEach(function (n) { E.moveBy(n, dx, dy); });
      drag.moved.x += dx; drag.moved.y += dy;
    }
    drag.changed = true;
    drawSelection();
  }
  function onUp() {
    if (!drag) return;
    if (drag.band) {
      var band = svg.querySelector(".k-band"), q = drag.rect, keep = drag.keep;
      if (band) band.remove();
      drag = null;
      if (!q || q.w < 2 && q.h < 2) return;
      E.select(keep.concat(E.objects().filter(function (n) {
        if (keep.indexOf(n) >= 0 || topObject(n) !== n) return false;
        var b = E.box(n);
        return b.x >= q.x && b.y >= q.y && b.x + b.w <= q.x + q.w && b.y + b.h <= q.y + q.h;
      })));
      return;
    }
    if (drag.changed) { E.dirty = true; E.emit(); } else E.undo.pop();
    drag = null;
  }

  // --- arrange: align, group, rotate, order, delete, copy and paste -------------------------------------------
  E.align = function (how) {
    if (E.selection.length < 2) return;
    var boxes = E.selection.map(E.box);
    var minX = Math.min.apply(null, boxes.map(function (b) { return b.x; })), maxX = Math.max.apply(null, boxes.map(function (b) { return b.x + b.w; }));
    var minY = Math.min.apply(null, boxes.map(function (b) { return b.y; })), maxY = Math.max.apply(null, boxes.map(function (b) { return b.y + b.h; }));
    E.change(function () {
      E.selection.forEach(function (n, i) {
        var b = boxes[i], dx = 0, dy = 0;
        if (how === "left") dx = minX - b.x;
        if (how === "right") dx = maxX - b.x - b.w;
        if (how === "center") dx = (minX + maxX) / 2 - b.x - b.w / 2;
        if (how === "top") dy = minY - b.y;
        if (how === "bottom") dy = maxY - b.y - b.h;
        if (how === "middle") dy = (minY + maxY) / 2 - b.y - b.h / 2;
        E.moveBy(n, dx, dy);
      });
    });
  };
  E.group = function (nodes, id) {
    nodes = nodes || E.selection;
    if (!nodes.length) return null;
    var g;
    E.change(function () {
      var boxes = nodes.map(E.box);
      var x = Math.min.apply(null, boxes.map(function (b) { return b.x; })), y = Math.min.apply(null, boxes.map(function (b) { return b.y; }));
      var w = Math.max.apply(null, boxes.map(function (b) { return b.x + b.w; })) - x, h = Math.max.apply(null, boxes.map(function (b) { return b.y + b.h; })) - y;
      g = document.createElementNS(NS, "g");
      g.id = id || uniqueId("group");
      g.setAttribute("class", "k-group");
      svg.insertBefore(g, nodes[0]);
      nodes.forEach(function (n) { n.classList.remove("k-selected"); g.appendChild(n); });
      E.render(g, { kiln: "group", x: x, y: y, w: Math.max(w, 1), h: Math.max(h, 1), ox: x, oy: y, sx: 1, sy: 1, r: 0 });
    });
    E.select([g]);
    return g;
  };
  E.ungroup = function () {
    var out = [];
    E.change(function () {
      E.selection.forEach(function (g) {
        var p = E.params(g);
        if (!p || p.kiln !== "group") { out.push(g); return; }
        var plain = p.r === 0 && p.sx === 1 && p.sy === 1, t = g.getAttribute("transform");
        Array.prototype.slice.call(g.children).forEach(function (c) {
          if (c.nodeName === "desc") return;
          svg.insertBefore(c, g);
          if (plain) E.moveBy(c, p.x - p.ox, p.y - p.oy);
          else { c.setAttribute("transform", (t + " " + (c.getAttribute("transform") || "")).trim()); c.classList.remove("k-sym", "k-group"); }
          out.push(c);
        });
        g.remove();
      });
    });
    E.select(out);
  };
  E.rotate = function (deg, absolute) {
    E.change(function () {
      E.selection.forEach(function (n) {
        var p = E.params(n);
        if (!p) return;
        p.r = ((absolute ? deg : (p.r || 0) + deg) % 360 + 360) % 360;
        E.render(n, p);
      });
    });
  };
  E.order = function (front) {
    E.change(function () {
      E.selection.forEach(function (n) { if (front) svg.appendChild(n); else svg.insertBefore(n, svg.querySelector(".k-grid").nextSibling); });
    });
  };
  E.remove = function () {
    if (!E.selection.length) return;
    E.change(function () {
      var gone = {};
      E.selection.forEach(function (n) { E.ids(n).forEach(function (id) { gone[id] = true; }); n.remove(); });
      E.bindings = E.bindings.filter(function (b) { return !gone[b.element]; });
      E.selection = [];
    });
  };
  E.copy = function () {
    if (!E.selection.length) return;
    var ids = {};
    E.selection.forEach(function (n) { E.ids(n).forEach(function (id) { ids[id] = true; }); });
    E.clipboard = { nodes: E.selection.map(function (n) { return n.cloneNode(true); }),
                    bindings: E.bindings.filter(function (b) { return ids[b.element]; }) };
  };
  E.paste = function () {
    if (!E.clipboard) return;
    var added = [];
    E.change(function () {
      var reserved = {};
      E.clipboard.nodes.forEach(function (src) {
        var n = src.cloneNode(true), map = {};
        n.classList.remove("k-selected");
        // Symbols and groups (the pasted one and any inside it) get fresh numbers (value1 → value2), and their
        // parts follow (value1-value → value2-value); any other id gets a -c suffix.
        var families = [];
        [n].concat(Array.prototype.slice.call(n.querySelectorAll("[id]"))).forEach(function (e) {
          if (!e.id) return;
          var old = e.id, nid = null;
          families.forEach(function (f) { if (!nid && old.indexOf(f[0] + "-") === 0) nid = f[1] + old.slice(f[0].length); });
          if (!nid && (e === n || e.classList.contains("k-sym") || e.classList.contains("k-group"))) {
            nid = uniqueId(old.replace(/\d+$/, "") || "obj", reserved);
            families.unshift([old, nid]);
          }
          if (!nid) nid = uniqueId(old + "-c", reserved);
          map[old] = nid; e.id = nid;
        });
        svg.appendChild(n);
        E.moveBy(n, E.grid * 2, E.grid * 2);
        E.clipboard.bindings.forEach(function (b) {
          if (map[b.element]) { var c = JSON.parse(JSON.stringify(b)); c.element = map[b.element]; E.bindings.push(c); }
        });
        added.push(n);
      });
    });
    // A second paste copies the copies, so it lands further along.
    var ids = {};
    added.forEach(function (n) { E.ids(n).forEach(function (id) { ids[id] = true; }); });
    E.clipboard = { nodes: added.map(function (n) { return n.cloneNode(true); }),
                    bindings: E.bindings.filter(function (b) { return ids[b.element]; }) };
    E.select(added);
  };

  // --- zoom ----------------------------------------------------------------------------------------------
  function applyZoom() {
    var vb = viewBox();
    svg.style.width = Math.round(vb.w * E.zoom) + "px";
    svg.style.height = Math.round(vb.h * E.zoom) + "px";
    var z = document.getElementById("ed-zoom-level");
    if (z) z.textContent = Math.round(E.zoom * 100) + "%";
    if (E.selection.length) drawSelection();
  }
  E.setZoom = function (z) { E.zoom = Math.max(0.25, Math.min(4, z)); applyZoom(); };
  E.fit = function () { var vb = viewBox(); E.setZoom(Math.max(0.25, (host.clientWidth - 20) / vb.w)); };
  E.setSize = function (w, h) {
    E.change(function () { svg.setAttribute("viewBox", "0 0 " + w + " " + h); svg.querySelector(".k-grid").remove(); addGrid(); applyZoom(); });
  };

  // --- import an SVG drawing: its content becomes one group, movable, resizable and bindable -----------------
  E.importSvg = function (text) {
    var doc = new DOMParser().parseFromString(text, "image/svg+xml"), root = doc.documentElement;
    if (root.nodeName !== "svg" || doc.querySelector("parsererror")) return "Not an SVG drawing.";
    scrub(root);
    var nodes = [], clash = [];
    Array.prototype.slice.call(root.children).forEach(function (c) {
      var n = document.importNode(c, true);
      E.ids(n).forEach(function (id) { if (document.getElementById(id)) { clash.push(id); } });
      nodes.push(n);
    });
    if (clash.length) return "Ids already used on this screen: " + clash.slice(0, 5).join(", ");
    if (!E.objects().length && root.getAttribute("viewBox")) {
      // An empty screen takes the drawing as it is: its size and its elements, each one an object.
      E.change(function () { svg.setAttribute("viewBox", root.getAttribute("viewBox")); nodes.forEach(function (n) { svg.appendChild(n); }); svg.querySelector(".k-grid").remove(); addGrid(); applyZoom(); });
      return null;
    }
    E.change(function () { nodes.forEach(function (n) { svg.appendChild(n); }); });
    E.undo.pop();
    E.group(nodes);
    return null;
  };

  // --- keyboard ------------------------------------------------------------------------------------------
  document.addEventListener("keydown", function (ev) {
    if (/INPUT|TEXTAREA|SELECT/.test(ev.target.nodeName) || E.previewing) return;
    var k = ev.key.toLowerCase(), mod = ev.ctrlKey || ev.metaKey;
    if (mod && k === "z") { ev.preventDefault(); if (ev.shiftKey) E.doRedo(); else E.doUndo(); }
    else if (mod && k === "y") { ev.preventDefault(); E.doRedo(); }
    else if (mod && k === "c") { E.copy(); }
    else if (mod && k === "v") { ev.preventDefault(); E.paste(); }
    else if (mod && k === "d") { ev.preventDefault(); E.copy(); E.paste(); }
    else if (mod && k === "g") { ev.preventDefault(); if (ev.shiftKey) E.ungroup(); else E.group(); }
    else if (mod && k === "a") { ev.preventDefault(); E.select(E.objects()); }
    else if (k === "delete" || k === "backspace") { ev.preventDefault(); E.remove(); }
    else if (k.indexOf("arrow") === 0 && E.selection.length) {
      ev.preventDefault();
      var step = ev.shiftKey ? E.grid * 5 : E.snap ? E.grid : 1;
      var d = { arrowleft: [-step, 0], arrowright: [step, 0], arrowup: [0, -step], arrowdown: [0, step] }[k];
      E.change(function () { E.selection.forEach(function (n) { E.moveBy(n, d[0], d[1]); }); });
    }
  });

  // --- start ---------------------------------------------------------------------------------------------
  load(E.screen ? E.screen.svg : blank());
  host.addEventListener("pointerdown", onDown);
  window.addEventListener("pointermove", onMove);
  window.addEventListener("pointerup", onUp);
  host.addEventListener("dragover", function (ev) { ev.preventDefault(); });
  host.addEventListener("drop", function (ev) {
    ev.preventDefault();
    var type = ev.dataTransfer.getData("text/x-kiln-symbol");
    if (S.defs[type]) { var p = E.toDrawing(ev); E.add(type, p.x, p.y); }
  });
  host.addEventListener("wheel", function (ev) {
    if (!ev.ctrlKey) return;
    ev.preventDefault();
    E.setZoom(E.zoom * (ev.deltaY < 0 ? 1.1 : 1 / 1.1));
  }, { passive: false });
  window.addEventListener("beforeunload", function (ev) { if (E.dirty) { ev.preventDefault(); ev.returnValue = ""; } });
  E.fit();
})();
