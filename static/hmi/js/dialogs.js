/* Kiln HMI dialogs: write a tag (with e-signature when the tag asks for one), a device faceplate with its
 * commands, and the page-wide clicks that open them (right-click or a long press on any value opens its trend).
 * Loaded after live.js.
 */
(function () {
  "use strict";

  var Kiln = window.Kiln;
  if (!Kiln.config) return; // the login page: nothing live to do
  var config = Kiln.config, $ = Kiln.$, el = Kiln.el, live = Kiln.live;

  // ---------------------------------------------------------------------------------------------------
  // Dialogs: write a tag (with e-signature when the tag asks for one); a device faceplate with commands.
  function showMsg(root, sel, text) {
    var p = $(sel, root);
    if (!p) return;
    p.textContent = text || "";
    p.hidden = !text;
  }
  Kiln.tagConfig = config.tags || {};
  Kiln.devices = config.devices || {};

  Kiln.mayWrite = function (cfg) {
    return !!(cfg && cfg.is_writable && config.role_level >= cfg.write_role_level);
  };

  function parseInput(cfg, form) {
    var input = form.elements.value;
    if (cfg.datatype === "BOOL") return input.value === "true";
    if (cfg.datatype === "STRING") return input.value;
    if (input.value.trim() === "") return undefined;
    var n = Number(input.value);
    return isNaN(n) ? input.value : n; // a non-number goes to the API as typed, which answers why it is wrong
  }

  Kiln.openWrite = function (name) {
    var cfg = Kiln.tagConfig[name];
    var dlg = $("#write-dialog");
    if (!dlg || !cfg) return;
    var form = $("#write-form");
    form.reset();
    form.dataset.tag = name;
    $(".wd-tag", dlg).textContent = name + (cfg.unit ? " [" + cfg.unit + "]" : "");
    $(".wd-desc", dlg).textContent = cfg.description || "";
    var cur = live.values[name];
    $(".wd-value", dlg).textContent = cur ? Kiln.fmtTag(cur.value, cfg) : "–";
    $(".wd-quality", dlg).textContent = cur ? Kiln.qualityText(cur) : "";
    var holder = $(".wd-input", dlg);
    holder.textContent = "";
    var input;
    if (cfg.datatype === "BOOL") {
      input = el("select", { name: "value" });
      input.appendChild(el("option", { value: "true" }, "ON / true"));
      input.appendChild(el("option", { value: "false" }, "OFF / false"));
      if (cur && cur.value === false) input.value = "false";
    } else {
      input = el("input", { name: "value", type: cfg.datatype === "STRING" ? "text" : "text", inputmode: cfg.datatype === "STRING" ? null : "decimal", autocomplete: "off" });
      if (cur && cur.value !== null && cur.value !== undefined) input.value = cur.value;
    }
    holder.appendChild(input);
    var range = [];
    if (cfg.min_value !== null && cfg.min_value !== undefined) range.push("min " + cfg.min_value);
    if (cfg.max_value !== null && cfg.max_value !== undefined) range.push("max " + cfg.max_value);
    $(".wd-range", dlg).textContent = range.length ? "(" + range.join(", ") + ")" : "";
    $(".wd-sig", dlg).hidden = !cfg.requires_signature;
    $(".wd-signer", dlg).textContent = config.user;
    showMsg(dlg, ".dlg-error", ""); showMsg(dlg, ".dlg-ok", "");
    dlg.showModal();
    input.focus();
    if (input.select) input.select();
  };

  var writeForm = $("#write-form");
  if (writeForm) {
    writeForm.addEventListener("submit", function (ev) {
      ev.preventDefault();
      var dlg = $("#write-dialog"), name = writeForm.dataset.tag, cfg = Kiln.tagConfig[name];
      var value = parseInput(cfg, writeForm);
      if (value === undefined) { showMsg(dlg, ".dlg-error", "Enter a value."); return; }
      var body = { value: value };
      var reason = writeForm.elements.reason.value.trim();
      if (reason) body.reason = reason;
      if (cfg.requires_signature) {
        body.signature = { password: writeForm.elements.password.value, meaning: writeForm.elements.meaning.value,
                           reason: reason };
      }
      var btn = $("button[type=submit]", writeForm);
      btn.disabled = true;
      showMsg(dlg, ".dlg-error", ""); showMsg(dlg, ".dlg-ok", "");
      Kiln.api("POST", "/api/tags/" + encodeURIComponent(name) + "/write", body).then(function (res) {
        btn.disabled = false;
        if (writeForm.elements.password) writeForm.elements.password.value = "";
        if (!res.ok) { showMsg(dlg, ".dlg-error", Kiln.apiError(res)); return; }
        var t = res.data && (res.data.tag || res.data);
        var shown = Kiln.fmtTag(t && t.value !== undefined ? t.value : value, cfg);
        showMsg(dlg, ".dlg-ok", (res.data && res.data.message) || ("Written: " + shown));
        setTimeout(function () { if (dlg.open) dlg.close(); }, 900);
      }, function () { btn.disabled = false; showMsg(dlg, ".dlg-error", "Could not reach the server."); });
    });
    $(".btn-trend", writeForm).addEventListener("click", function () { location.href = Kiln.trendUrl(writeForm.dataset.tag); });
  }

  // Device faceplate: live members (writable ones offer Write), and the commands this role may run.
  Kiln.openDevice = function (deviceId, onlyCommand) {
    var dev = Kiln.devices[deviceId];
    var dlg = $("#device-dialog");
    if (!dlg || !dev) return;
    $(".dd-name", dlg).textContent = dev.name;
    $(".dd-id", dlg).textContent = dev.id + (dev.type ? " · " + dev.type : "");
    showMsg(dlg, ".dlg-error", ""); showMsg(dlg, ".dlg-ok", "");
    var fails = $(".dd-failures", dlg); fails.textContent = ""; fails.hidden = true;
    var params = $(".dd-params", dlg); params.textContent = ""; params.hidden = true;
    var members = $(".dd-members", dlg);
    members.textContent = "";
    (dev.members || []).forEach(function (n) {
      var cfg = Kiln.tagConfig[n], row = el("div", { class: "dd-member", "data-tag": n });
      row.appendChild(el("span", { class: "dd-mname" }, cfg.member || n));
      var v = el("span", { class: "dd-mval" }, "–");
      row.appendChild(v);
      var paint = function (u) { v.textContent = Kiln.fmtTag(u.value, cfg); Kiln.setQualityClass(v, Kiln.qualityClass(u)); };
      if (live.values[n]) paint(live.values[n]);
      live.watch(n, function (u) { if (dlg.open) paint(u); });
      if (Kiln.mayWrite(cfg)) {
        var b = el("button", { type: "button" }, "Write");
        b.addEventListener("click", function () { dlg.close(); Kiln.openWrite(n); });
        row.appendChild(b);
      }
      members.appendChild(row);
    });
    var cmds = $(".dd-commands", dlg);
    cmds.textContent = "";
    var allowed = dev.commands.filter(function (c) { return config.role_level >= c.min_role_level && (!onlyCommand || c.id === onlyCommand); });
    if (!allowed.length) cmds.appendChild(el("p", { class: "muted" }, "No commands available to your role."));
    allowed.forEach(function (c) {
      var b = el("button", { type: "button", class: "cmd", "data-command": c.id, title: c.description || "" }, c.name);
      b.addEventListener("click", function () { Kiln.prepareCommand(dev, c); });
      cmds.appendChild(b);
    });
    dlg.showModal();
  };

  Kiln.prepareCommand = function (dev, c) {
    var dlg = $("#device-dialog");
    var names = Object.keys(c.parameters || {});
    var params = $(".dd-params", dlg);
    if (!names.length) return Kiln.runCommand(dev, c, {});
    params.textContent = "";
    params.hidden = false;
    names.forEach(function (p) {
      var spec = c.parameters[p] || {};
      var label = el("label", null, p + (spec.unit ? " [" + spec.unit + "]" : "") + " ");
      var input = el("input", { name: "param-" + p, type: "text", inputmode: "decimal", autocomplete: "off" });
      if (spec.default !== undefined) input.value = spec.default;
      label.appendChild(input);
      params.appendChild(label);
    });
    var go = el("button", { type: "button", class: "primary" }, "Run " + c.name);
    go.addEventListener("click", function () {
      var values = {};
      names.forEach(function (p) {
        var raw = params.querySelector('[name="param-' + p + '"]').value.trim();
        var spec = c.parameters[p] || {};
        values[p] = (spec.type === "STRING" || raw === "" || isNaN(Number(raw))) ? raw : Number(raw);
        if (spec.type === "BOOL") values[p] = raw === "true" || raw === "1";
      });
      Kiln.runCommand(dev, c, values);
    });
    params.appendChild(go);
  };

  Kiln.runCommand = function (dev, c, parameters) {
    var dlg = $("#device-dialog");
    showMsg(dlg, ".dlg-error", ""); showMsg(dlg, ".dlg-ok", "");
    var fails = $(".dd-failures", dlg); fails.textContent = ""; fails.hidden = true;
    if (!dev.site_id) { showMsg(dlg, ".dlg-error", "Device " + dev.id + " belongs to no site; it has no command API."); return; }
    var path = "/api/sites/" + encodeURIComponent(dev.site_id) + "/devices/" + encodeURIComponent(dev.id) +
               "/commands/" + encodeURIComponent(c.id);
    Kiln.api("POST", path, Object.keys(parameters).length ? { parameters: parameters } : {}).then(function (res) {
      if (res.ok) {
        showMsg(dlg, ".dlg-ok", c.name + ": " + ((res.data && res.data.status) || "executed") +
          (res.data && res.data.auditId ? " (audit " + res.data.auditId + ")" : ""));
        return;
      }
      showMsg(dlg, ".dlg-error", Kiln.apiError(res));
      var details = res.data && res.data.error && res.data.error.details;
      if (Array.isArray(details) && details.length) {
        details.forEach(function (d) {
          var li = el("li", null, (d.reason || d.message || "Condition not met") + (d.condition ? "  [" + d.condition + "]" : ""));
          fails.appendChild(li);
        });
        fails.hidden = false;
      }
    });
  };

  // Any value anywhere: right-click opens its trend.
  document.addEventListener("contextmenu", function (ev) {
    var t = ev.target.closest && ev.target.closest("[data-tag]");
    if (!t || ev.shiftKey) return;
    ev.preventDefault();
    location.href = Kiln.trendUrl(t.getAttribute("data-tag"));
  });
  // Touch has no right-click: a long press (600 ms without moving) on a value opens its trend too.
  var press = null;
  document.addEventListener("pointerdown", function (ev) {
    if (ev.pointerType === "mouse") return;
    var t = ev.target.closest && ev.target.closest("[data-tag]");
    if (!t) return;
    press = { x: ev.clientX, y: ev.clientY, fired: false };
    press.timer = setTimeout(function () {
      press.fired = true;
      location.href = Kiln.trendUrl(t.getAttribute("data-tag"));
    }, 600);
  }, { passive: true });
  function cancelPress(ev) {
    if (!press || press.fired) return;
    if (ev.type === "pointermove" && Math.abs(ev.clientX - press.x) < 10 && Math.abs(ev.clientY - press.y) < 10) return;
    clearTimeout(press.timer); press = null;
  }
  ["pointerup", "pointercancel", "pointermove"].forEach(function (n) { document.addEventListener(n, cancelPress, { passive: true }); });
  // The click that ends a long press must not also open the write dialog or follow a link.
  document.addEventListener("click", function (ev) {
    if (press && press.fired) { ev.preventDefault(); ev.stopPropagation(); press = null; }
  }, true);
  document.addEventListener("click", function (ev) {
    var w = ev.target.closest && ev.target.closest(".act-write");
    if (w) { Kiln.openWrite(w.getAttribute("data-tag")); return; }
    var d = ev.target.closest && ev.target.closest(".act-device");
    if (d) Kiln.openDevice(d.getAttribute("data-device"));
  });
})();
