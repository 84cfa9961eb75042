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
  // A tag's value as the operator reads it everywhere: the tag's display decimals (Tag.decimals; automatic when
  // unset) and its engineering unit. `t` is the tag's configuration (Kiln.tagConfig[name]) or an alarm.
  Kiln.fmtTag = function (v, t, labels) {
    var txt = Kiln.fmtValue(v, t ? t.decimals : undefined, labels);
    return t && t.unit && typeof v === "number" ? txt + " " + t.unit : txt;
  };
  // Times: one format everywhere (ISO 8601 date, 24-hour clock: 2026-04-01 14:05:09), in the plant's time zone
  // (KILN_PLANT_TIME_ZONE, UTC by default), which every page shows in its top bar. CSVs carry ISO UTC with "Z".
  var TZ = config.time_zone || "UTC";
  var tzParts;
  try {
    tzParts = new Intl.DateTimeFormat("en-GB", { timeZone: TZ, hourCycle: "h23", year: "numeric", month: "2-digit",
      day: "2-digit", hour: "2-digit", minute: "2-digit", second: "2-digit" });
  } catch (e) { TZ = "UTC"; tzParts = null; }
  Kiln.timeZone = TZ;
  function wall(d) {  // {y, mo, d, h, mi, s} of the instant d in the plant's zone
    if (!tzParts) {
      return { y: d.getUTCFullYear(), mo: d.getUTCMonth() + 1, d: d.getUTCDate(), h: d.getUTCHours(),
               mi: d.getUTCMinutes(), s: d.getUTCSeconds() };
    }
    var o = {};
    tzParts.formatToParts(d).forEach(function (p) { o[p.type] = p.value; });
    return { y: +o.year, mo: +o.month, d: +o.day, h: +o.hour % 24, mi: +o.minute, s: +o.second };
  }
  function p2(n) { return n < 10 ? "0" + n : String(n); }
  Kiln.fmtTime = function (iso, withSeconds) {
    if (iso === null || iso === undefined || iso === "") return "–";
    var d = typeof iso === "number" ? new Date(iso) : new Date(iso);
    if (isNaN(d)) return String(iso);
    var w = wall(d);
    return w.y + "-" + p2(w.mo) + "-" + p2(w.d) + " " + p2(w.h) + ":" + p2(w.mi) + (withSeconds === false ? "" : ":" + p2(w.s));
  };
  Kiln.fmtClock = function (ms, withSeconds) {
    var w = wall(new Date(ms));
    return p2(w.h) + ":" + p2(w.mi) + (withSeconds ? ":" + p2(w.s) : "");
  };
  // "2026-04-01 14:05[:09]" as typed into a time filter, read in the plant's zone → ISO UTC; null if unreadable.
  // (Filters are text inputs, not datetime-local: the browser would show those in its own locale, AM/PM.)
  Kiln.zonedToIso = function (value) {
    var m = /^\s*(\d{4})-(\d{2})-(\d{2})[T ](\d{1,2}):(\d{2})(?::(\d{2}))?\s*$/.exec(value || "");
    if (!m || +m[2] < 1 || +m[2] > 12 || +m[3] < 1 || +m[3] > 31 || +m[4] > 23 || +m[5] > 59 || +(m[6] || 0) > 59) return null;
    var guess = Date.UTC(+m[1], +m[2] - 1, +m[3], +m[4], +m[5], +(m[6] || 0));
    for (var i = 0; i < 2; i++) {  // twice: the offset at the guess may differ from the one at the answer (DST)
      var w = wall(new Date(guess));
      var shown = Date.UTC(w.y, w.mo - 1, w.d, w.h, w.mi, w.s);
      guess += Date.UTC(+m[1], +m[2] - 1, +m[3], +m[4], +m[5], +(m[6] || 0)) - shown;
    }
    return new Date(guess).toISOString().replace(/\.\d+Z$/, "Z");
  };
  // The top bar's clock: plant time and its zone, so every page says which zone its times are in.
  var clock = document.getElementById("clock");
  if (clock) {
    var tick = function () { clock.textContent = Kiln.fmtTime(Date.now()) + " " + TZ; };
    tick(); setInterval(tick, 1000);
  }
  // Narrow screens: the nav collapses behind "☰ Menu".
  var navToggle = document.getElementById("nav-toggle");
  if (navToggle) {
    navToggle.addEventListener("click", function () {
      var bar = navToggle.closest(".topbar"), open = !bar.classList.contains("nav-open");
      bar.classList.toggle("nav-open", open);
      navToggle.setAttribute("aria-expanded", String(open));
    });
  }
  // The screens menu closes when one clicks elsewhere.
  document.addEventListener("click", function (ev) {
    var menu = document.getElementById("screens-menu");
    if (menu && menu.open && !menu.contains(ev.target)) menu.open = false;
  });
  // The other way: an instant (seconds) → the filter text that shows it in the plant's zone.
  Kiln.zonedInput = function (seconds) { return Kiln.fmtTime(seconds * 1000); };
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
