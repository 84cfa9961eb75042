/* Kiln HMI alarm banner: unacknowledged alarms by priority on every page, kept current by the /ws alarm
 * stream, with an optional sound until acknowledged. Loaded after live.js.
 */
(function () {
  "use strict";

  var Kiln = window.Kiln;
  if (!Kiln.config) return; // the login page: nothing live to do
  var $ = Kiln.$, live = Kiln.live;

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
    // The horn sounds for unacknowledged alarms nobody silenced; a new one sounds it again.
    var loud = false;
    for (var i in banner.alarms) {
      var x = banner.alarms[i];
      if (isUnacked(x) && x.state !== "shelved" && !banner.silenced[x.id + ":" + x.activated_at]) loud = true;
    }
    sound(loud && banner.soundOn);
    var sil = $("#silence-horn");
    if (sil) sil.hidden = !banner.audio;
  }
  // Silence the horn for the alarms sounding now (this station only); acknowledging is still to be done.
  banner.silenced = {};
  banner.silence = function () {
    for (var i in banner.alarms) { var x = banner.alarms[i]; banner.silenced[x.id + ":" + x.activated_at] = true; }
    renderBanner();
  };
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
  function changed() {
    renderBanner();
    if (banner.onChange) banner.onChange();
    document.dispatchEvent(new CustomEvent("kiln:alarms"));  // screens' alarm indicators (alarm-indicators.js)
  }
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
  var silenceBtn = $("#silence-horn");
  if (silenceBtn) silenceBtn.addEventListener("click", banner.silence);
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
})();
