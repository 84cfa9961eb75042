/* Tag browser: live values for the rows on this page; BAD, UNCERTAIN and stale rows never look normal. */
(function () {
  "use strict";
  var Kiln = window.Kiln, cfg = Kiln.config;
  if (!cfg || !cfg.order) return;
  cfg.order.forEach(function (name) {
    var row = document.querySelector('tr[data-tag="' + CSS.escape(name) + '"]');
    if (!row) return;
    var v = row.querySelector(".v"), q = row.querySelector(".q"), ts = row.querySelector(".ts");
    var t = cfg.tags[name] || {};
    Kiln.setQualityClass(row, "q-none");
    q.textContent = "NO VALUE";
    Kiln.live.watch(name, function (u) {
      var cls = Kiln.qualityClass(u);
      v.textContent = cls === "q-bad" ? "BAD" : Kiln.fmtValue(u.value, t.decimals !== null && t.decimals !== undefined ? t.decimals : t.datatype === "REAL" ? undefined : 0);
      v.title = "last value: " + Kiln.fmtValue(u.value);
      q.textContent = Kiln.qualityText(u);
      ts.textContent = Kiln.fmtTime(u.ts);
      Kiln.setQualityClass(row, cls);
    });
  });
  Kiln.live.seed(cfg.live || {});
})();
