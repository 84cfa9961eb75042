/* Kiln HMI live values over /ws: subscriptions, frame parsing, and one DOM pass per animation frame.
 *
 * WebSocket frames are parsed as they arrive, but the DOM is touched once per animation frame
 * (requestAnimationFrame): each tag's latest update is applied then, so a burst of changes costs one paint.
 * Loaded after session.js (the token); starts on DOMContentLoaded, after the page scripts registered what they watch.
 */
(function () {
  "use strict";

  var Kiln = window.Kiln;
  if (!Kiln.config) return; // the login page: nothing live to do
  var config = Kiln.config, $ = Kiln.$;

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
  // Other message types (batches: "batch", "batch_subscribed"): fn(msg) per message of that type; `subscribe`
  // is sent on every (re)connect, so a page following something hears of it again after a dropped socket.
  live.messageHandlers = {};
  live.connectMessages = [];
  live.on = function (type, fn, subscribe) {
    (live.messageHandlers[type] || (live.messageHandlers[type] = [])).push(fn);
    if (subscribe) {
      live.connectMessages.push(subscribe);
      if (live.connected) live.ws.send(JSON.stringify(subscribe));
    }
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
    var own = live.messageHandlers[type];
    if (own) {
      for (var k = 0; k < own.length; k++) own[k](msg);
      return;
    }
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
    if (live.ws || live.stopped || Kiln.sessionLocked()) return;
    if (!Object.keys(live.handlers).length && !live.wantAlarms && !live.connectMessages.length) return;
    Kiln.getToken().then(function (t) {
      var proto = location.protocol === "https:" ? "wss://" : "ws://";
      var ws = (live.ws = new WebSocket(proto + location.host + config.urls.ws + "?token=" + encodeURIComponent(t)));
      ws.onopen = function () {
        live.subscribed = {}; live.alarmsSubscribed = false;
        live.connected = true; live.everConnected = true; live.retry = 0;
        setConn("up", "live");
        sendSubscribe();
        live.connectMessages.forEach(function (m) { ws.send(JSON.stringify(m)); });
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
        if (ev.code === 4001 || ev.code === 4003) Kiln.dropToken(); // revoked or expired: fetch a new token
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

  // Start after page scripts registered what they watch.
  document.addEventListener("DOMContentLoaded", function () { live.start(); });
})();
