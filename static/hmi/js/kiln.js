/* Kiln HMI core: API token, REST client, the live value stream (/ws), alarm banner, dialogs, session lock.
 *
 * Every page loads this file. It talks to the same REST API and WebSocket as any external client, with a
 * short-lived JWT that POST /hmi/token issues for the logged-in session; the server enforces every rule.
 *
 * Live values: WebSocket frames are parsed as they arrive, but the DOM is touched once per animation frame
 * (requestAnimationFrame): each tag's latest update is applied then, so a burst of changes costs one paint.
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
  function csrfToken() {
    var input = $("input[name=csrfmiddlewaretoken]");
    if (input) return input.value;
    var m = document.cookie.match(/(?:^|;\s*)csrftoken=([^;]+)/);
    return m ? decodeURIComponent(m[1]) : "";
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
  Kiln.trendUrl = function (names) {
    return config.urls.trends + "?tags=" + encodeURIComponent([].concat(names).join(","));
  };

  // ---------------------------------------------------------------------------------------------------
  // Session lock: after SESSION_COOKIE_AGE without activity the page locks and the session ends server-side.
  var lastActivity = Date.now();
  var locked = false;
  ["pointerdown", "keydown", "wheel", "touchstart"].forEach(function (ev) {
    window.addEventListener(ev, function () { lastActivity = Date.now(); }, { passive: true, capture: true });
  });
  function lock(reason) {
    if (locked) return;
    locked = true;
    Kiln.live.stop();
    token = null;
    var box = $("#lock");
    if (box) {
      var link = $("#lock-login");
      if (link) link.href = config.urls.login + "?locked=1&next=" + encodeURIComponent(location.pathname + location.search);
      if (reason) { var p = $("p", box); if (p) p.textContent = reason; }
      box.hidden = false;
    }
    document.body.classList.add("locked");
    fetch(config.urls.lock, { method: "POST", credentials: "same-origin", headers: { "X-CSRFToken": csrfToken() } })
      .catch(function () {});
  }
  Kiln.lock = lock;
  setInterval(function () {
    if (!locked && Date.now() - lastActivity > config.session_seconds * 1000) lock();
  }, 5000);

  // ---------------------------------------------------------------------------------------------------
  // API token and REST client
  var token = null, tokenExp = 0, tokenPromise = null;
  function fetchToken() {
    if (tokenPromise) return tokenPromise;
    tokenPromise = fetch(config.urls.token, {
      method: "POST", credentials: "same-origin", headers: { "X-CSRFToken": csrfToken(), "Accept": "application/json" }
    }).then(function (r) {
      return r.json().catch(function () { return {}; }).then(function (body) {
        tokenPromise = null;
        if (!r.ok) {
          lock(body.detail || "Your session has ended. Sign in again.");
          throw new Error("no token");
        }
        token = body.token;
        tokenExp = Date.parse(body.expires_at) || Date.now() + 60000;
        return token;
      });
    }, function (err) { tokenPromise = null; throw err; });
    return tokenPromise;
  }
  Kiln.getToken = function () {
    if (locked) return Promise.reject(new Error("locked"));
    if (token && Date.now() < tokenExp - 60000) return Promise.resolve(token);
    return fetchToken();
  };
  // Refresh ahead of expiry so an open WebSocket's reconnect never waits on it.
  setInterval(function () {
    if (!locked && token && Date.now() > tokenExp - 120000) fetchToken().catch(function () {});
  }, 30000);

  /* api(method, path, body) → Promise of {ok, status, data}. Never throws for HTTP errors: callers show
   * data.detail (or seed 004's data.error) to the user as the API wrote it. */
  Kiln.api = function (method, path, body, retried) {
    return Kiln.getToken().then(function (t) {
      var opts = { method: method, headers: { "Authorization": "Bearer " + t, "Accept": "application/json" } };
      if (body !== undefined) { opts.headers["Content-Type"] = "application/json"; opts.body = JSON.stringify(body); }
      return fetch(path, opts).then(function (r) {
        if (r.status === 401 && !retried) { token = null; return Kiln.api(method, path, body, true); }
        var ctype = r.headers.get("Content-Type") || "";
        var parse = ctype.indexOf("json") >= 0 ? r.json() : r.text();
        return parse.then(function (data) { return { ok: r.ok, status: r.status, data: data, response: r }; },
          function () { return { ok: r.ok, status: r.status, data: null, response: r }; });
      });
    });
  };
  Kiln.apiError = function (res) {
    if (!res) return "No answer from the server.";
    var d = res.data;
    if (d && d.error && d.error.message) return d.error.message;
    if (d && d.detail) return String(d.detail);
    if (typeof d === "string" && d) return d.slice(0, 300);
    return "The server answered " + res.status + ".";
  };
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

  // ---------------------------------------------------------------------------------------------------
  // Live values over /ws. Handlers run inside requestAnimationFrame with the latest update per tag.
  var live = (Kiln.live = {
    values: {},            // tag name → {value, quality, substatus, ts}
    handlers: {},          // tag name → [fn(update, name)]
    alarmHandlers: [],
    pending: new Map(),    // tag name → update waiting for the next frame
    rafScheduled: false,
    ws: null, connected: false, subscribed: {}, alarmsSubscribed: false, wantAlarms: false, stopped: false, retry: 0,
    stats: { frames: 0, updates: 0, messages: 0, maxLatency: 0, latencies: [], frameLatencies: [], e2e: false,
             e2eLatencies: [], firstPaint: null, maxWork: 0, work: [] }
  });

  live.watch = function (names, fn) {
    [].concat(names).forEach(function (n) {
      (live.handlers[n] || (live.handlers[n] = [])).push(fn);
      if (live.values[n]) fn(live.values[n], n);
    });
    if (live.connected) sendSubscribe();
  };
  live.seed = function (snapshot) {
    // First paint from the page's embedded values (same live table the snapshot reads), before /ws answers.
    for (var n in snapshot) if (snapshot[n]) enqueue(n, snapshot[n], performance.now());
  };
  live.onAlarm = function (fn) {
    live.alarmHandlers.push(fn);
    live.wantAlarms = true;
    if (live.connected) sendSubscribe();
  };

  function enqueue(name, u, arrived) {
    u.__t = arrived;
    // The oldest waiting arrival sets this frame's worst latency, even if a newer value of its tag replaced it.
    if (!live.pending.size) live.oldest = arrived;
    live.pending.set(name, u);
    if (!live.rafScheduled) { live.rafScheduled = true; requestAnimationFrame(flush); }
  }
  function flush() {
    live.rafScheduled = false;
    var now = performance.now();
    var stats = live.stats;
    live.pending.forEach(function (u, name) {
      live.values[name] = u;
      var hs = live.handlers[name];
      if (hs) for (var i = 0; i < hs.length; i++) {
        try { hs[i](u, name); } catch (e) { if (window.console) console.error(e); }
      }
      var lat = now - u.__t;
      if (lat > stats.maxLatency) stats.maxLatency = lat;
      if (stats.latencies.length < 20000) stats.latencies.push(lat);
      stats.updates++;
    });
    var worst = now - live.oldest;
    if (worst > stats.maxLatency) stats.maxLatency = worst;
    if (stats.frameLatencies.length < 20000) stats.frameLatencies.push(worst);
    if (stats.e2e) {
      // Bench only: from the value's timestamp (recorded on this machine's clock) to the DOM.
      var wall = Date.now();
      live.pending.forEach(function (u) {
        var t = Date.parse(u.ts);
        if (isFinite(t) && stats.e2eLatencies.length < 50000) stats.e2eLatencies.push(wall - t);
      });
    }
    live.pending.clear();
    var work = performance.now() - now;  // this frame's script work for live values
    if (work > stats.maxWork) stats.maxWork = work;
    if (stats.work.length < 20000) stats.work.push(work);
    if (!stats.frames) stats.firstPaint = now;
    stats.frames++;
  }
  Kiln.live.flushNow = flush;

  function handleUpdate(m, arrived) {
    if (!m || typeof m.tag !== "string") return;
    enqueue(m.tag, { value: m.value, quality: m.quality, substatus: m.substatus || null, ts: m.ts }, arrived);
  }
  function handleMessage(msg, arrived) {
    if (Array.isArray(msg)) { for (var i = 0; i < msg.length; i++) handleMessage(msg[i], arrived); return; }
    if (!msg || typeof msg !== "object") return;
    var type = msg.type || "";
    if (type.indexOf("alarm") === 0) {
      for (var j = 0; j < live.alarmHandlers.length; j++) live.alarmHandlers[j](msg);
      return;
    }
    if (typeof msg.tag === "string") { handleUpdate(msg, arrived); return; }
    // Snapshots and batched frames: a list of updates under one of these keys.
    var list = msg.values || msg.updates || msg.frames || msg.data || msg.tags || msg.changes;
    if (Array.isArray(list)) { handleMessage(list, arrived); return; }
    if (list && typeof list === "object") {
      for (var name in list) if (list[name] && typeof list[name] === "object") handleUpdate(Object.assign({ tag: name }, list[name]), arrived);
      return;
    }
    if (type === "error" && window.console) console.warn("Kiln /ws:", msg.detail || msg.message || msg);
  }
  live.inject = handleMessage; // the speed bench feeds frames through the same path as the socket

  // One subscribe message per batch of newly watched tags (the server counts messages, not tags, toward its
  // subscription limit); "batch": true asks for one frame per recorded batch instead of one per change, and
  // "snapshot": true for the initial values as one frame (a page of 500 tags is one frame, not 500).
  function sendSubscribe() {
    var names = Object.keys(live.handlers).filter(function (n) { return !live.subscribed[n]; });
    if (names.length) {
      names.forEach(function (n) { live.subscribed[n] = true; });
      live.ws.send(JSON.stringify({ type: "subscribe", tags: names, batch: true, snapshot: true }));
    }
    if (live.wantAlarms && !live.alarmsSubscribed) {
      live.alarmsSubscribed = true;
      live.ws.send(JSON.stringify({ type: "subscribe_alarms" }));
    }
  }
  function setConn(state, text) {
    var c = $("#conn");
    if (c) { c.className = "conn conn-" + state; c.textContent = text; }
    document.body.classList.toggle("ws-down", state !== "up");
    var sb = $("#stale-banner");
    if (sb) sb.hidden = state === "up" || state === "locked" || !live.everConnected;
  }
  live.start = function () {
    if (live.ws || live.stopped || locked) return;
    if (!Object.keys(live.handlers).length && !live.wantAlarms) return;
    Kiln.getToken().then(function (t) {
      var proto = location.protocol === "https:" ? "wss://" : "ws://";
      var ws = (live.ws = new WebSocket(proto + location.host + config.urls.ws + "?token=" + encodeURIComponent(t)));
      ws.onopen = function () {
        live.subscribed = {}; live.alarmsSubscribed = false;
        live.connected = true; live.everConnected = true; live.retry = 0;
        setConn("up", "live");
        sendSubscribe();
      };
      ws.onmessage = function (ev) {
        var arrived = performance.now();
        live.stats.messages++;
        var msg;
        try { msg = JSON.parse(ev.data); } catch (e) { return; }
        handleMessage(msg, arrived);
      };
      ws.onclose = function (ev) {
        live.ws = null; live.connected = false;
        if (live.stopped) return;
        setConn("down", "reconnecting…");
        if (ev.code === 4001 || ev.code === 4003) token = null; // revoked or expired: fetch a new token
        var delay = Math.min(10000, 500 * Math.pow(2, live.retry++));
        setTimeout(live.start, delay);
      };
    }).catch(function () { setConn("down", "no session"); });
  };
  live.stop = function () {
    live.stopped = true;
    if (live.ws) live.ws.close();
    setConn("down", "locked");
  };
  live.latencyPercentile = function (p) {
    var a = live.stats.latencies.slice().sort(function (x, y) { return x - y; });
    return a.length ? a[Math.min(a.length - 1, Math.floor(p / 100 * a.length))] : null;
  };

  // ---------------------------------------------------------------------------------------------------
  // Alarm banner: unacknowledged alarms by priority, on every page; optional sound until acknowledged.
  var banner = (Kiln.banner = { alarms: {}, soundOn: localStorage.getItem("kiln.sound") === "1", audio: null });
  var PRIORITIES = ["critical", "high", "medium", "low"];
  Kiln.priorityRank = { critical: 4, high: 3, medium: 2, low: 1 };
  function isUnacked(a) {
    if (a.acknowledged !== undefined) return !a.acknowledged;
    if (a.acked !== undefined) return !a.acked;
    return a.state === "active_unacked" || a.state === "rtn_unacked";
  }
  Kiln.alarmIsUnacked = isUnacked;
  function renderBanner() {
    var counts = { critical: 0, high: 0, medium: 0, low: 0 };
    for (var id in banner.alarms) {
      var a = banner.alarms[id];
      if (isUnacked(a) && a.state !== "shelved" && counts[a.priority] !== undefined) counts[a.priority]++;
    }
    var total = 0;
    PRIORITIES.forEach(function (p) {
      var span = $('#alarm-banner .ab-count[data-priority="' + p + '"]');
      if (span) { span.textContent = counts[p]; span.classList.toggle("hot", counts[p] > 0); }
      total += counts[p];
    });
    var b = $("#alarm-banner");
    if (b) b.classList.toggle("has-unacked", total > 0);
    banner.unacked = total;
    banner.counts = counts;
    sound(total > 0 && banner.soundOn);
  }
  function sound(on) {
    if (!on) { if (banner.audio) { clearInterval(banner.audio.timer); banner.audio.ctx.close(); banner.audio = null; } return; }
    if (banner.audio || !window.AudioContext) return;
    var ctx = new AudioContext();
    var beep = function () {
      var o = ctx.createOscillator(), g = ctx.createGain();
      o.frequency.value = 880; g.gain.value = 0.08;
      o.connect(g); g.connect(ctx.destination);
      o.start(); o.stop(ctx.currentTime + 0.25);
    };
    beep();
    banner.audio = { ctx: ctx, timer: setInterval(beep, 2000) };
  }
  var ANNUNCIATED = { active_unacked: 1, active_acked: 1, rtn_unacked: 1 };
  function changed() { renderBanner(); if (banner.onChange) banner.onChange(); }
  banner.set = function (list) {
    banner.alarms = {};
    list.forEach(function (a) { if (ANNUNCIATED[a.state]) banner.alarms[a.id] = a; });
    changed();
  };
  // One alarm's new summary (a push, or an API answer): `seq` grows with every change, so older news is ignored.
  banner.apply = function (a, quiet) {
    if (!a || a.id === undefined) return false;
    var old = banner.alarms[a.id];
    if (old && old.seq !== undefined && a.seq !== undefined && a.seq < old.seq) return true;
    if (ANNUNCIATED[a.state]) banner.alarms[a.id] = a; else delete banner.alarms[a.id];
    if (!quiet) changed();
    return true;
  };
  banner.refresh = function () {
    return Kiln.api("GET", "/api/alarms?limit=1000").then(function (res) {
      if (res.ok) banner.set(Array.isArray(res.data) ? res.data : (res.data.results || []));
      return res;
    }).catch(function () {});
  };
  live.onAlarm(function (msg) {
    if (msg.type === "alarms_snapshot" && Array.isArray(msg.alarms)) banner.set(msg.alarms);
    else if (msg.type === "alarms" && Array.isArray(msg.alarms)) {
      msg.alarms.forEach(function (a) { banner.apply(a, true); });
      changed();
    }
  });
  var st = $("#sound-toggle");
  if (st) {
    var paint = function () { st.textContent = banner.soundOn ? "Sound on" : "Sound off"; st.setAttribute("aria-pressed", banner.soundOn); };
    paint();
    st.addEventListener("click", function () {
      banner.soundOn = !banner.soundOn;
      localStorage.setItem("kiln.sound", banner.soundOn ? "1" : "0");
      paint(); renderBanner();
    });
  }

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
    $(".wd-value", dlg).textContent = cur ? Kiln.fmtValue(cur.value) + (cfg.unit ? " " + cfg.unit : "") : "–";
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
        var shown = t && t.value !== undefined ? Kiln.fmtValue(t.value) : Kiln.fmtValue(value);
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
      var paint = function (u) { v.textContent = Kiln.fmtValue(u.value) + (cfg.unit ? " " + cfg.unit : ""); Kiln.setQualityClass(v, Kiln.qualityClass(u)); };
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
  document.addEventListener("click", function (ev) {
    var w = ev.target.closest && ev.target.closest(".act-write");
    if (w) { Kiln.openWrite(w.getAttribute("data-tag")); return; }
    var d = ev.target.closest && ev.target.closest(".act-device");
    if (d) Kiln.openDevice(d.getAttribute("data-device"));
  });

  // Start after page scripts registered what they watch.
  document.addEventListener("DOMContentLoaded", function () { live.start(); });
})();
