/* Batch pages: each <form data-api="..."> is sent as JSON to that REST route (POST) with the page's token; the
 * server checks the role, the input and any e-signature, and audits. Field names with dots nest
 * (`signature.password` → {"signature": {"password": ...}}); data-type="number" / "bool" convert. On success
 * the page reloads (or goes to data-next, `{id}` being the answer's id); on refusal the detail is shown.
 * Forms are `novalidate`: the server's checks and messages are the ones that count. Recorded tags' live values
 * and the batch's own changes come over /ws (see the end).
 */
(function () {
  "use strict";

  var Kiln = window.Kiln;
  if (!Kiln || !Kiln.config) return;
  var $all = Kiln.$all;

  function collect(form) {
    var body = {};
    $all("input[name], select[name], textarea[name]", form).forEach(function (input) {
      if (input.name === "csrfmiddlewaretoken") return;
      var type = input.getAttribute("data-type"), value = input.value;
      if (type === "number") value = value === "" ? null : Number(value);
      else if (type === "bool") value = input.checked;
      var path = input.name.split("."), node = body;
      for (var i = 0; i < path.length - 1; i++) node = node[path[i]] || (node[path[i]] = {});
      node[path[path.length - 1]] = value;
    });
    return body;
  }

  $all("form[data-api]").forEach(function (form) {
    var error = form.querySelector(".form-error"), button = form.querySelector("button[type=submit]");
    form.addEventListener("submit", function (ev) {
      ev.preventDefault();
      error.hidden = true;
      button.disabled = true;
      Kiln.api("POST", form.getAttribute("data-api"), collect(form)).then(function (res) {
        $all("input[type=password]", form).forEach(function (p) { p.value = ""; });
        button.disabled = false;
        if (res.ok) {
          var next = form.getAttribute("data-next");
          if (next) window.location.href = next.replace("{id}", res.data.id);
          else window.location.reload();
          return;
        }
        error.textContent = Kiln.apiError(res);
        error.hidden = false;
      }, function () {
        button.disabled = false;
        error.textContent = "No answer from the server.";
        error.hidden = false;
      });
    });
  });

  var names = [];
  $all("[data-live-tag]").forEach(function (n) {
    var name = n.getAttribute("data-live-tag");
    if (names.indexOf(name) < 0) names.push(name);
  });
  if (names.length) {
    Kiln.live.watch(names, function (u, name) {
      $all("[data-live-tag]").forEach(function (n) {
        if (n.getAttribute("data-live-tag") !== name) return;
        n.textContent = Kiln.fmtTag(u.value, (Kiln.tagConfig || {})[name]);
        Kiln.setQualityClass(n, Kiln.qualityClass(u));
      });
    });
  }

  // The batch page follows its batch over /ws: a change by anyone (a phase, a comment, the close) is pushed, and
  // the page reloads unless something is being typed (then it says so). On every (re)connect the server's
  // record hash is compared with the page's, so a change made while the socket was down is not missed.
  var marker = document.getElementById("batch-hash");
  if (marker && Kiln.config.batch_id) {
    var note = document.getElementById("batch-changed");
    var refresh = function () {
      var typing = $all("form[data-api] input").some(function (i) { return i.value && i.type !== "hidden"; });
      if (typing) { if (note) note.hidden = false; return; }
      window.location.reload();
    };
    Kiln.live.on("batch", function (msg) { if (msg.batch === Kiln.config.batch_id) refresh(); },
                 { type: "subscribe_batch", batch: Kiln.config.batch_id });
    Kiln.live.on("batch_subscribed", function (msg) {
      if (msg.batch === Kiln.config.batch_id && (msg.record_hash !== marker.getAttribute("data-hash")
                                                || msg.status !== marker.getAttribute("data-status"))) refresh();
    });
  }
})();
