/* Reports page: pick a report, fill its parameters (defaults from GET /api/reports), generate through
 * POST /api/reports/{id}/generate. A small report comes back at once and is saved; a large one answers 202 and
 * its job is polled (status, progress bar, cancel) until its file can be downloaded. Below: my recent runs. */
(function () {
  "use strict";
  var Kiln = window.Kiln, $ = Kiln.$, el = Kiln.el;
  var form = $("#report-form");
  if (!form) return;
  var select = $("#report-select"), paramsBox = $("#report-params"), errBox = $("#report-error"),
      okBox = $("#report-ok"), job = $("#report-job");
  var reports = {}, polling = null, current = null;

  function say(box, text) { errBox.hidden = true; okBox.hidden = true; if (box) { box.textContent = text; box.hidden = false; } }

  // Files come through Kiln.api's binary mode (a PDF is bytes); Kiln.download saves them.
  function fetchFile(method, path, body) { return Kiln.api(method, path, body, { binary: true }); }
  function save(res) { Kiln.download(res.filename, res.blob, res.blob.type); }

  function field(p) {
    var id = "param-" + p.name, wrap = el("label", { class: "param", for: id }), input;
    wrap.appendChild(el("span", null, p.label + (p.required ? " *" : "")));
    if (p.type === "choice") {
      input = el("select", { id: id, name: p.name });
      p.choices.forEach(function (c) { var o = el("option", { value: c }, c); if (c === p["default"]) o.selected = true; input.appendChild(o); });
    } else if (p.type === "choices") {
      input = el("select", { id: id, name: p.name, multiple: "multiple", size: Math.min(4, p.choices.length) });
      p.choices.forEach(function (c) { var o = el("option", { value: c }, c); if ((p["default"] || []).indexOf(c) >= 0) o.selected = true; input.appendChild(o); });
    } else {
      input = el("input", { id: id, name: p.name, type: p.type === "int" ? "number" : "text" });
      if (p.minimum !== undefined) input.min = p.minimum;
      if (p.maximum !== undefined) input.max = p.maximum;
      var d = p["default"];
      input.value = d === null || d === undefined ? "" : (Array.isArray(d) ? d.join(",") : String(d));
      if (p.type === "tags") input.placeholder = "Tag names, comma-separated";
      if (p.type === "datetime") input.placeholder = "now-8h or 2026-03-02T06:00:00Z";
    }
    input.dataset.type = p.type;
    wrap.appendChild(input);
    if (p.help) wrap.appendChild(el("small", { class: "muted" }, p.help));
    return wrap;
  }
  function showReport() {
    var r = reports[select.value];
    paramsBox.textContent = "";
    if (!r) return;
    $("#report-description").textContent = r.description;
    r.parameters.forEach(function (p) { paramsBox.appendChild(field(p)); });
    form.querySelectorAll("input[name=format]").forEach(function (i) {
      i.disabled = r.formats.indexOf(i.value) < 0;
    });
  }
  function parameters() {
    var out = {};
    paramsBox.querySelectorAll("input, select").forEach(function (i) {
      var t = i.dataset.type;
      if (t === "choices") { var v = Array.prototype.map.call(i.selectedOptions, function (o) { return o.value; }); if (v.length) out[i.name] = v; return; }
      var s = i.value.trim();
      if (s === "") return;
      out[i.name] = t === "int" ? Number(s) : t === "tags" ? s.split(",").map(function (x) { return x.trim(); }).filter(Boolean) : s;
    });
    return out;
  }

  function showJob(run) {
    current = run;
    job.hidden = false;
    $("#job-title").textContent = run.title + " (" + run.format.toUpperCase() + ")";
    $("#job-status").textContent = run.status + (run.message ? ": " + run.message : "");
    $("#job-progress").value = run.progress;
    $("#job-percent").textContent = run.progress + " %";
    $("#job-cancel").hidden = run.status !== "queued" && run.status !== "running";
    $("#job-download").hidden = !run.download_url;
    if (run.status === "failed") say(errBox, run.message || "The report failed.");
  }
  function poll() {
    if (!current) return;
    Kiln.api("GET", current.url).then(function (res) {
      if (!res.ok) { say(errBox, Kiln.apiError(res)); stopPolling(); return; }
      showJob(res.data);
      if (["done", "failed", "cancelled"].indexOf(res.data.status) >= 0) { stopPolling(); loadRuns(); }
    });
  }
  function stopPolling() { if (polling) { clearInterval(polling); polling = null; } }

  form.addEventListener("submit", function (ev) {
    ev.preventDefault();
    var slug = select.value, fmt = form.querySelector("input[name=format]:checked").value;
    say(null); stopPolling(); job.hidden = true;
    $("#report-generate").disabled = true;
    fetchFile("POST", "/api/reports/" + encodeURIComponent(slug) + "/generate", { format: fmt, parameters: parameters() })
      .then(function (res) {
        if (res.blob && res.ok) { save(res); say(okBox, "Saved " + res.filename + "."); loadRuns(); return; }
        if (res.status === 202) { showJob(res.data); polling = setInterval(poll, 1000); loadRuns(); return; }
        say(errBox, Kiln.apiError(res));
      }, function () { say(errBox, "No answer from the server."); })
      .then(function () { $("#report-generate").disabled = false; });
  });
  select.addEventListener("change", showReport);
  $("#job-cancel").addEventListener("click", function () {
    if (!current) return;
    Kiln.api("POST", current.url + "/cancel").then(function (res) {
      if (!res.ok) { say(errBox, Kiln.apiError(res)); return; }
      showJob(res.data); loadRuns();
    });
  });
  function download(url) {
    fetchFile("GET", url).then(function (res) {
      if (res.blob && res.ok) { save(res); say(okBox, "Saved " + res.filename + "."); } else { say(errBox, Kiln.apiError(res)); }
    });
  }
  $("#job-download").addEventListener("click", function () { if (current && current.download_url) download(current.download_url); });

  function size(n) { return n === null ? "" : n < 1024 ? n + " B" : n < 1048576 ? (n / 1024).toFixed(0) + " kB" : (n / 1048576).toFixed(1) + " MB"; }
  function loadRuns() {
    Kiln.api("GET", "/api/reports/runs?limit=20").then(function (res) {
      if (!res.ok) return;
      var body = el("tbody");
      res.data.results.forEach(function (r) {
        var tr = el("tr", { "data-run": r.id });
        tr.appendChild(el("td", { class: "muted" }, Kiln.fmtTime(r.created)));
        tr.appendChild(el("td", null, r.title));
        tr.appendChild(el("td", null, r.format.toUpperCase()));
        tr.appendChild(el("td", { class: "run-status" }, r.status + (r.status === "running" ? " " + r.progress + " %" : "")));
        tr.appendChild(el("td", { class: "num" }, r.rows === null ? "" : String(r.rows)));
        tr.appendChild(el("td", { class: "num" }, size(r.size)));
        tr.appendChild(el("td", null, r.requested_by || r.schedule || ""));
        var act = el("td", { class: "actions" });
        if (r.download_url) {
          var b = el("button", { type: "button" }, "Download");
          b.addEventListener("click", function () { download(r.download_url); });
          act.appendChild(b);
        }
        tr.appendChild(act);
        body.appendChild(tr);
      });
      if (!body.rows.length) { var tr = el("tr"); tr.appendChild(el("td", { colspan: 8, class: "muted" }, "No report yet.")); body.appendChild(tr); }
      var table = $("#runs-table");
      table.replaceChild(body, table.tBodies[0]);
    });
  }

  Kiln.api("GET", "/api/reports").then(function (res) {
    if (!res.ok) { say(errBox, Kiln.apiError(res)); return; }
    res.data.results.forEach(function (r) {
      reports[r.id] = r;
      select.appendChild(el("option", { value: r.id }, r.title));
    });
    var wanted = new URLSearchParams(location.search).get("report");
    if (wanted && reports[wanted]) select.value = wanted;
    showReport();
  });
  loadRuns();
})();
