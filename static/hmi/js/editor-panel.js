/* Screen editor: palette, toolbar, property panel (geometry, symbol parameters, quick bindings through the tag
 * picker, every binding of the selection as JSON), live preview, save, history. The canvas is editor.js. */
(function () {
  "use strict";
  var Kiln = window.Kiln, cfg = Kiln.config, E = Kiln.editor;
  if (!E) return;
  var S = Kiln.EditorSymbols, el = Kiln.el, $ = Kiln.$;
  var ed = cfg.editor, panel = $("#ed-panel"), status = $("#ed-status");

  function say(text, bad) { status.textContent = text; status.className = bad ? "ed-status error" : "ed-status"; }
  function button(text, onclick, attrs) { var b = el("button", attrs || {}, text); b.type = "button"; b.addEventListener("click", onclick); return b; }
  function field(labelText, input) { var l = el("label", { class: "ed-field" }); l.appendChild(el("span", null, labelText)); l.appendChild(input); return l; }
  function input(value, onchange, attrs) {
    var i = el("input", attrs || {}); i.value = value === undefined || value === null ? "" : value;
    i.addEventListener("change", function () { onchange(i.value); });
    return i;
  }

  // --- palette: drag a symbol onto the grid, or click it to drop it in the middle --------------------------------
  var palette = $("#ed-palette");
  Object.keys(S.defs).forEach(function (type) {
    var def = S.defs[type];
    var item = el("div", { class: "ed-sym", draggable: "true", "data-symbol": type, title: def.label, tabindex: "0", role: "button" });
    var icon = document.createElementNS(S.NS, "svg"), pad = 24;
    icon.setAttribute("viewBox", [-pad, -pad, def.w + 2 * pad, def.h + 2 * pad].join(" "));
    icon.setAttribute("class", "ed-icon");
    var g = document.createElementNS(S.NS, "g"), p = { w: def.w, h: def.h };
    for (var k in def.params) p[k] = def.params[k];
    def.render(g, "icon-" + type, p);
    Array.prototype.slice.call(g.querySelectorAll("[id]")).forEach(function (n) { n.removeAttribute("id"); });
    icon.appendChild(g);
    item.appendChild(icon);
    item.appendChild(el("span", null, def.label));
    item.addEventListener("dragstart", function (ev) { ev.dataTransfer.setData("text/x-kiln-symbol", type); });
    function drop() {
      var vb = E.svg.viewBox.baseVal, n = E.objects().length % 10;
      E.add(type, vb.x + vb.width / 2 + n * 20, vb.y + vb.height / 2 + n * 20);
    }
    item.addEventListener("click", drop);
    item.addEventListener("keydown", function (ev) { if (ev.key === "Enter") drop(); });
    palette.appendChild(item);
  });

  // --- toolbar --------------------------------------------------------------------------------------------
  var actions = {
    undo: E.doUndo, redo: E.doRedo, copy: E.copy, paste: E.paste, remove: E.remove, group: function () { E.group(); },
    ungroup: E.ungroup, front: function () { E.order(true); }, back: function () { E.order(false); },
    "rotate-left": function () { E.rotate(-90); }, "rotate-right": function () { E.rotate(90); },
    "zoom-in": function () { E.setZoom(E.zoom * 1.25); }, "zoom-out": function () { E.setZoom(E.zoom / 1.25); },
    fit: E.fit, save: save, preview: togglePreview
  };
  Kiln.$all("[data-cmd]").forEach(function (b) { b.addEventListener("click", function () { actions[b.getAttribute("data-cmd")](); }); });
  Kiln.$all("[data-align]").forEach(function (b) { b.addEventListener("click", function () { E.align(b.getAttribute("data-align")); }); });
  $("#ed-snap").addEventListener("change", function (ev) { E.snap = ev.target.checked; });
  $("#ed-import").addEventListener("change", function (ev) {
    var f = ev.target.files[0];
    if (!f) return;
    f.text().then(function (text) { var err = E.importSvg(text); say(err || "Imported " + f.name + ": drag it, resize it, bind its parts.", !!err); ev.target.value = ""; });
  });

  // --- tag picker: search by machine, name, member name, description ---------------------------------------
  function tagPicker(current, onPick) {
    var box = el("div", { class: "picker" });
    var q = el("input", { type: "search", placeholder: "Search tags: machine, name, description…", class: "picker-q" });
    q.value = current || "";
    var machine = el("select", { class: "picker-machine" });
    machine.appendChild(el("option", { value: "" }, "all machines"));
    ed.machines.forEach(function (m) { machine.appendChild(el("option", { value: m }, m)); });
    var list = el("div", { class: "picker-list" }), timer = null;
    function search() {
      var url = "/api/hmi/tag-picker?limit=20&search=" + encodeURIComponent(q.value === current ? "" : q.value) + "&machine=" + encodeURIComponent(machine.value);
      Kiln.api("GET", url).then(function (res) {
        list.innerHTML = "";
        if (!res.ok) { list.appendChild(el("div", { class: "error" }, Kiln.apiError(res))); return; }
        res.data.results.forEach(function (t) {
          var row = button("", function () { Kiln.tagConfig[t.name] = t; q.value = t.name; list.innerHTML = ""; onPick(t.name, t); }, { class: "picker-row", "data-tag": t.name });
          row.appendChild(el("b", null, t.name));
          row.appendChild(el("span", { class: "muted" }, " " + t.machine_id + (t.unit ? " · " + t.unit : "") + (t.description ? " · " + t.description : "")));
          list.appendChild(row);
        });
        if (!res.data.results.length) list.appendChild(el("div", { class: "muted" }, "No tag matches."));
      });
    }
    q.addEventListener("input", function () { clearTimeout(timer); timer = setTimeout(search, 200); });
    q.addEventListener("focus", function () { if (!list.children.length) search(); });
    machine.addEventListener("change", search);
    box.appendChild(q); box.appendChild(machine); box.appendChild(list);
    return box;
  }

  // --- quick bindings (slots) --------------------------------------------------------------------------------
  function owned(node, slot) {
    return E.bindings.filter(function (b) {
      return slot.owns.some(function (o) { return b.element === node.id + o[0] && b.kind === o[1]; });
    });
  }
  function slotValue(node, slot) {
    var b = owned(node, slot)[0];
    if (!b) return "";
    if (slot.type === "device") return b.device || "";
    if (slot.type === "command") return b.device && b.command ? b.device + "." + b.command : "";
    if (slot.type === "screen") return b.screen || "";
    return b.tag || "";
  }
  function setSlot(node, slot, value) {
    E.change(function () {
      var mine = owned(node, slot);
      E.bindings = E.bindings.filter(function (b) { return mine.indexOf(b) < 0; });
      if (!value) return;
      var p = E.params(node);
      slot.make(node.id, value, Kiln.tagConfig[value], p).forEach(function (b) { E.bindings.push(b); });
      E.render(node, p);
    });
  }
  function reapplySlots(node) {
    var def = S.defs[(E.params(node) || {}).kiln];
    (def && def.slots || []).forEach(function (slot) { var v = slotValue(node, slot); if (v) setSlot(node, slot, v); });
  }
  function slotEditor(node, slot) {
    var row = el("div", { class: "slot", "data-slot": slot.key }), value = slotValue(node, slot);
    row.appendChild(el("div", { class: "slot-label" }, slot.label + (value ? ": " : "")));
    if (value) row.firstChild.appendChild(el("b", { class: "slot-value" }, value));
    var choice;
    if (slot.type === "device" || slot.type === "command" || slot.type === "screen") {
      choice = el("select");
      choice.appendChild(el("option", { value: "" }, "—"));
      if (slot.type === "screen") ed.screens.forEach(function (s) { choice.appendChild(el("option", { value: s.slug }, s.name)); });
      else Object.keys(ed.devices).forEach(function (d) {
        if (slot.type === "device") choice.appendChild(el("option", { value: d }, ed.devices[d].name + " (" + d + ")"));
        else ed.devices[d].commands.forEach(function (c) { choice.appendChild(el("option", { value: d + "." + c.id }, d + ": " + c.name)); });
      });
      choice.value = value;
      choice.addEventListener("change", function () { setSlot(node, slot, choice.value); });
    } else {
      choice = tagPicker(value, function (name) { setSlot(node, slot, name); });
    }
    row.appendChild(choice);
    if (value) row.appendChild(button("Unbind", function () { setSlot(node, slot, ""); }, { class: "small" }));
    return row;
  }

  // --- every binding of the selection, as JSON (all kinds: text, color, fill, visible, rotate, click) -----------
  var TEMPLATES = {
    text: { kind: "text", tag: "" },  // decimals: the tag's own unless set here
    "color (states)": { kind: "color", tag: "", states: { "true": "#5c5c5c", "false": "#f4f4f4" } },
    "color (ranges)": { kind: "color", tag: "", ranges: [{ below: 90, color: "#e0e0e0" }, { color: "#ef6c00" }] },
    fill: { kind: "fill", tag: "", min: 0, max: 100 },
    visible: { kind: "visible", tag: "", when: true },
    rotate: { kind: "rotate", tag: "", min: 0, max: 100, degrees: 360 },
    "click → write": { kind: "click", action: "write", tag: "" },
    "click → command": { kind: "click", action: "command", device: "", command: "" },
    "click → device faceplate": { kind: "click", action: "device", device: "" },
    "click → screen": { kind: "click", action: "screen", screen: "" },
    "click → trend": { kind: "click", action: "trend", tag: "" },
    "click → tag faceplate": { kind: "click", action: "faceplate", tag: "" }
  };
  function bindingsEditor(node) {
    var box = el("div", { class: "ed-bindings" }), ids = E.ids(node);
    E.bindings.forEach(function (b) {
      if (ids.indexOf(b.element) < 0) return;
      var ta = el("textarea", { rows: 3, class: "ed-binding", spellcheck: "false" });
      ta.value = JSON.stringify(b);
      ta.addEventListener("change", function () {
        var nb;
        try { nb = JSON.parse(ta.value); } catch (e) { say("Binding is not valid JSON: " + e.message, true); return; }
        E.change(function () { E.bindings[E.bindings.indexOf(b)] = nb; });
      });
      var row = el("div", { class: "ed-binding-row" });
      row.appendChild(ta);
      if ("tag" in b) row.appendChild(tagPicker(b.tag, function (name) { E.change(function () { b.tag = name; }); }));
      row.appendChild(button("Remove", function () { E.change(function () { E.bindings.splice(E.bindings.indexOf(b), 1); }); }, { class: "small" }));
      box.appendChild(row);
    });
    if (!ids.length) { box.appendChild(el("p", { class: "muted" }, "Give the object an id to bind it.")); return box; }
    var elSel = el("select"), kindSel = el("select");
    ids.forEach(function (id) { elSel.appendChild(el("option", { value: id }, id)); });
    Object.keys(TEMPLATES).forEach(function (k) { kindSel.appendChild(el("option", { value: k }, k)); });
    var add = el("div", { class: "ed-add-binding" });
    add.appendChild(elSel); add.appendChild(kindSel);
    add.appendChild(button("Add binding", function () {
      E.change(function () { E.bindings.push(Object.assign({ element: elSel.value }, JSON.parse(JSON.stringify(TEMPLATES[kindSel.value])))); });
    }));
    box.appendChild(add);
    return box;
  }

  // --- the panel ------------------------------------------------------------------------------------------
  function renameId(node, id) {
    if (!/^[A-Za-z_][\w.:-]{0,63}$/.test(id) || document.getElementById(id)) { say("Id '" + id + "' is taken or not valid.", true); render(); return; }
    E.change(function () {
      var old = node.id, map = {};
      E.ids(node).forEach(function (i) { if (i === old || old && i.indexOf(old + "-") === 0) map[i] = id + i.slice(old.length); });
      if (!old) map[""] = id;
      Array.prototype.slice.call(node.querySelectorAll("[id]")).forEach(function (n) { if (map[n.id]) n.id = map[n.id]; });
      node.id = id;
      E.bindings.forEach(function (b) { if (old && map[b.element]) b.element = map[b.element]; });
    });
  }
  function geometry(node, p) {
    var box = el("div", { class: "ed-geom" });
    [["x", "x"], ["y", "y"], ["w", "width"], ["h", "height"], ["r", "rotation °"]].forEach(function (f) {
      var v = f[0] === "w" && p.kiln === "group" ? p.w * p.sx : f[0] === "h" && p.kiln === "group" ? p.h * p.sy : p[f[0]];
      box.appendChild(field(f[1], input(Math.round(v * 10) / 10, function (val) {
        var n = parseFloat(val);
        if (!isFinite(n)) return;
        E.change(function () {
          var q = E.params(node);
          if (f[0] === "w") E.resize(node, n, q.kiln === "group" ? q.h * q.sy : q.h);
          else if (f[0] === "h") E.resize(node, q.kiln === "group" ? q.w * q.sx : q.w, n);
          else { q[f[0]] = n; E.render(node, q); }
        });
      }, { type: "number", step: "any", "data-geom": f[0] })));
    });
    return box;
  }
  function render() {
    panel.innerHTML = "";
    var sel = E.selection;
    if (!sel.length) return screenPanel();
    if (sel.length > 1) {
      panel.appendChild(el("h3", null, sel.length + " objects"));
      panel.appendChild(el("p", { class: "muted" }, "Align with the toolbar, group with Ctrl+G, move with the arrow keys."));
      return;
    }
    var node = sel[0], p = E.params(node), def = p && S.defs[p.kiln];
    panel.appendChild(el("h3", null, def ? def.label : p ? "Group" : "<" + node.nodeName + ">"));
    panel.appendChild(field("id", input(node.id, function (v) { renameId(node, v.trim()); }, { "data-prop": "id" })));
    if (p) panel.appendChild(geometry(node, p));
    if (def) {
      Object.keys(def.params).forEach(function (k) {
        var multi = k === "states";
        var i = multi ? el("textarea", { rows: 4 }) : el("input", {});
        i.value = p[k] === undefined ? "" : p[k];
        i.addEventListener("change", function () { E.setParam(node, k, i.value); reapplySlots(node); });
        panel.appendChild(field(k, i));
      });
      if (def.slots.length) panel.appendChild(el("h4", null, "Bind"));
      def.slots.forEach(function (slot) { panel.appendChild(slotEditor(node, slot)); });
    }
    panel.appendChild(el("h4", null, "Bindings"));
    panel.appendChild(bindingsEditor(node));
  }
  function screenPanel() {
    panel.appendChild(el("h3", null, "Screen"));
    var vb = E.svg.viewBox.baseVal;
    panel.appendChild(field("width", input(vb.width, function (v) { E.setSize(+v || vb.width, vb.height); }, { type: "number", min: 100 })));
    panel.appendChild(field("height", input(vb.height, function (v) { E.setSize(vb.width, +v || vb.height); }, { type: "number", min: 100 })));
    panel.appendChild(el("p", { class: "muted" }, "Drag symbols from the palette, or click one. Select an object to bind it to tags. " +
      "Ctrl+Z/Y undo/redo, Ctrl+C/V copy/paste, Ctrl+G group, Delete removes, Ctrl+wheel zooms."));
    if (E.screen && E.screen.slug) {
      panel.appendChild(el("h4", null, "History"));
      var list = el("ol", { class: "ed-versions", reversed: "reversed" });
      panel.appendChild(list);
      Kiln.api("GET", "/api/screens/" + encodeURIComponent(E.screen.slug) + "/versions?limit=20").then(function (res) {
        if (!res.ok) return;
        res.data.results.forEach(function (v) {
          var li = el("li", { value: v.number }, "v" + v.number + " · " + Kiln.fmtTime(v.created_at) + " · " + (v.created_by || "system") + (v.note ? " · " + v.note : ""));
          if (v.number !== E.screen.version) li.appendChild(button("Restore", function () { restoreVersion(v.number); }, { class: "small" }));
          list.appendChild(li);
        });
      });
    }
  }
  function restoreVersion(n) {
    if (E.dirty && !window.confirm("Discard your unsaved changes and restore version " + n + "?")) return;
    Kiln.api("POST", "/api/screens/" + encodeURIComponent(E.screen.slug) + "/versions/" + n + "/restore").then(function (res) {
      if (!res.ok) { say(Kiln.apiError(res), true); return; }
      E.dirty = false; location.reload();
    });
  }
  E.on(render);

  // --- save ----------------------------------------------------------------------------------------------
  function save() {
    var name = $("#ed-name").value.trim(), slug = $("#ed-slug").value.trim();
    if (!name || !slug) { say("Give the screen a name and a slug (letters, digits, - and _).", true); return Promise.resolve(null); }
    var body = { name: name, slug: slug, svg: E.serialize(), bindings: E.bindings };
    var existing = E.screen && E.screen.slug;
    if (existing) body.version = E.screen.version;
    say("Saving…");
    return Kiln.api(existing ? "PUT" : "POST", existing ? "/api/screens/" + encodeURIComponent(existing) : "/api/screens", body).then(function (res) {
      if (!res.ok) { say("Not saved: " + Kiln.apiError(res), true); return null; }
      E.screen = res.data; E.dirty = false;
      var removed = res.data.removed || [];
      say("Saved version " + res.data.version + (removed.length ? "; sanitizing removed: " + removed.slice(0, 5).join("; ") : "") + ".");
      $("#ed-open").href = res.data.url; $("#ed-open").hidden = false;
      if (!existing || existing !== res.data.slug) history.replaceState(null, "", "/editor/" + res.data.slug + "/");
      render();
      return res.data;
    });
  }
  E.save = save;
  $("#ed-slug").addEventListener("input", function () { this.dataset.touched = "1"; });
  $("#ed-name").addEventListener("input", function () {
    var slug = $("#ed-slug");
    if (!slug.dataset.touched && !(E.screen && E.screen.slug)) slug.value = this.value.toLowerCase().replace(/[^a-z0-9]+/g, "-").replace(/^-|-$/g, "").slice(0, 64);
  });

  // --- live preview: the page's own binder (screen.js) on a copy of the drawing, with live values ------------------
  var pane = $("#ed-preview-pane"), handlers = {}, watched = {};
  function watch(tag, fn) {
    (handlers[tag] || (handlers[tag] = [])).push(fn);
    if (Kiln.live.values[tag]) fn(Kiln.live.values[tag]);
    if (!watched[tag]) { watched[tag] = "new"; }
  }
  function togglePreview() {
    var btn = $("[data-cmd=preview]");
    if (E.previewing) {
      E.previewing = false; handlers = {}; pane.innerHTML = ""; pane.hidden = true; $("#editor-canvas").hidden = false;
      btn.classList.remove("on"); btn.textContent = "Live preview";
      return;
    }
    E.previewing = true; btn.classList.add("on"); btn.textContent = "Back to editing";
    pane.innerHTML = E.serialize();
    var vb = E.svg.viewBox.baseVal, psvg = pane.querySelector("svg");
    psvg.style.width = Math.round(vb.width * E.zoom) + "px";
    $("#editor-canvas").hidden = true; pane.hidden = false;
    var bound = Kiln.bindScreen(pane, E.bindings, [], watch);
    var fresh = Object.keys(watched).filter(function (t) { return watched[t] === "new"; });
    fresh.forEach(function (t) { watched[t] = true; });
    // One subscribe for the preview's new tags; every preview after that reuses the same live handlers.
    if (fresh.length) Kiln.live.watch(fresh, function (u, name) { (handlers[name] || []).forEach(function (fn) { fn(u); }); });
    say("Live preview: " + bound + " binding(s) showing live values.");
  }
  render();
})();
