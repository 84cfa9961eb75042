/* Kiln HMI core: the `Kiln` namespace with the page's config, DOM helpers, value / time / quality formatting, and
 * the CSV helpers. The other HMI scripts build on it, loaded after it in this order by templates/base.html:
 *
 *   kiln.js      this file: namespace, helpers, formatting, CSV
 *   session.js   session lock, API token, REST client (Kiln.api)
 *   live.js      the live value stream (/ws), started once the page scripts registered what they watch
 *   banner.js    the alarm banner
 *   dialogs.js   write dialog, device faceplate and commands, right-click trend
 *
 * Every page loads them. They talk to the same REST API and WebSocket as any external client, with a
 * short-lived JWT that POST /hmi/token issues for the logged-in session; the server enforces every rule.
 * Plain scripts sharing `window.Kiln` (no bundler), served by whitenoise: the HMI works offline.
 */
(function () {
  "use strict";

  var cfgEl = document.getElementById("kiln-config");
  var config = cfgEl ? JSON.parse(cfgEl.textContent) : null;
  var Kiln = (window.Kiln = { config: config });
  if (!config) return; // the login page: nothing live to do

  // ---------------------------------------------------------------------------------------------------
  // Helpers
  function $(sel, root) { return (root || document).querySelector(sel); }
  function $all(sel, root) { return Array.prototype.slice.call((root || document).querySelectorAll(sel)); }
  function el(tag, attrs, text) {
    var e = document.createElement(tag);
    if (attrs) for (var k in attrs) if (attrs[k] !== undefined && attrs[k] !== null) e.setAttribute(k, attrs[k]);
    if (text !== undefined && text !== null) e.textContent = text;
    return e;
  }
  Kiln.$ = $; Kiln.$all = $all; Kiln.el = el;
  Kiln.roleAtLeast = function (level) { return config.role_level >= level; };

  function fmtNumber(v, decimals) {
    if (typeof v !== "number" || !isFinite(v)) return String(v);
    if (decimals === undefined || decimals === null) {
      var a = Math.abs(v);
      decimals = Number.isInteger(v) ? 0 : a >= 1000 ? 0 : a >= 100 ? 1 : a >= 1 ? 2 : 3;
    }
    return v.toFixed(decimals);
  }
  Kiln.fmtNumber = fmtNumber;
  Kiln.fmtValue = function (v, decimals, labels) {
    if (v === null || v === undefined) return "–";
    if (labels) {
      var key = typeof v === "boolean" ? (v ? "true" : "false") : String(v);
      if (labels[key] !== undefined) return labels[key];
    }
    if (typeof v === "boolean") return v ? "ON" : "OFF";
    if (typeof v === "number") return fmtNumber(v, decimals);
    return String(v);
  };
  Kiln.fmtTime = function (iso) {
    if (!iso) return "–";
    var d = new Date(iso);
    if (isNaN(d)) return iso;
    return d.toISOString().replace("T", " ").replace(/\.\d+Z$/, "Z").replace(/Z$/, "");
  };
  // The one place a quality becomes a look: BAD, UNCERTAIN and stale never share the normal style.
  Kiln.qualityClass = function (u) {
    if (!u) return "q-none";
    if (u.quality === "BAD") return "q-bad";
    if (u.substatus === "stale") return "q-stale";
    if (u.quality === "UNCERTAIN") return "q-uncertain";
    return "q-good";
  };
  Kiln.qualityText = function (u) {
    if (!u) return "NO VALUE";
    return u.quality + (u.substatus ? " (" + u.substatus + ")" : "");
  };
  var Q_CLASSES = ["q-good", "q-bad", "q-stale", "q-uncertain", "q-none"];
  Kiln.setQualityClass = function (node, cls) {
    if (node.__q === cls) return;
    for (var i = 0; i < Q_CLASSES.length; i++) node.classList.remove(Q_CLASSES[i]);
    node.classList.add(cls);
    node.__q = cls;
  };
  // A reason code as people read it: "sensor_fault" → "Sensor fault" (the code itself is what the API stores).
  Kiln.codeLabel = function (code) {
    var s = String(code).replace(/[_-]+/g, " ").trim();
    return s ? s.charAt(0).toUpperCase() + s.slice(1) : String(code);
  };
  Kiln.trendUrl = function (names) {
    return config.urls.trends + "?tags=" + encodeURIComponent([].concat(names).join(","));
  };

  // ---------------------------------------------------------------------------------------------------
  // Files the browser writes itself: downloads and CSV cells.
  Kiln.download = function (filename, text, mime) {
    var blob = new Blob([text], { type: mime || "text/csv" });
    var a = el("a", { href: URL.createObjectURL(blob), download: filename });
    document.body.appendChild(a); a.click();
    setTimeout(function () { URL.revokeObjectURL(a.href); a.remove(); }, 1000);
  };
  // The server's CSV guard (scada/csv_safe.py), for the CSVs the browser writes itself: no line of a cell may
  // start a spreadsheet formula (= + - @, after any leading whitespace or control characters, or a leading tab/CR).
  function csvGuardLine(line) {
    var skip = /^[\s\x00-\x1f\x7f]*/.exec(line)[0].length, t = line.trim();
    if (t !== "" && isFinite(Number(t))) return line;
    if (skip === line.length) return /^[\t\r]/.test(line) ? "'" + line : line;
    return (/[=+\-@]/.test(line.charAt(skip)) || /^[\t\r]/.test(line)) ? "'" + line : line;
  }
  Kiln.csvCell = function (v) {
    if (v === null || v === undefined) return "";
    if (typeof v === "number" || typeof v === "boolean") return String(v);
    var s = String(v).replace(/\r\n?/g, "\n").split("\n").map(csvGuardLine).join("\n");
    return /[",\n\r]/.test(s) ? '"' + s.replace(/"/g, '""') + '"' : s;
  };
})();
