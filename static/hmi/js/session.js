/* Kiln HMI session: the inactivity lock, the short-lived API token (POST /hmi/token) and the REST client
 * (Kiln.api). Loaded after kiln.js.
 */
(function () {
  "use strict";

  var Kiln = window.Kiln;
  if (!Kiln.config) return; // the login page: nothing live to do
  var config = Kiln.config, $ = Kiln.$;

  function csrfToken() {
    var input = $("input[name=csrfmiddlewaretoken]");
    if (input) return input.value;
    var m = document.cookie.match(/(?:^|;\s*)csrftoken=([^;]+)/);
    return m ? decodeURIComponent(m[1]) : "";
  }

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

  /* api(method, path, body[, options]) → Promise of {ok, status, data}. Never throws for HTTP errors: callers show
   * data.detail (or seed 004's data.error) to the user as the API wrote it.
   * options.binary: a file the server sends (a PDF, a CSV) is read as bytes, not text: res.blob and res.filename
   * (from Content-Disposition); a JSON answer (an error, a queued job) still comes parsed in res.data. */
  Kiln.api = function (method, path, body, options) {
    options = options || {};
    return Kiln.getToken().then(function (t) {
      var opts = { method: method, headers: { "Authorization": "Bearer " + t,
                                              "Accept": options.binary ? "*/*" : "application/json" } };
      if (body !== undefined) { opts.headers["Content-Type"] = "application/json"; opts.body = JSON.stringify(body); }
      return fetch(path, opts).then(function (r) {
        if (r.status === 401 && !options.retried) {
          token = null;
          return Kiln.api(method, path, body, Object.assign({}, options, { retried: true }));
        }
        var ctype = r.headers.get("Content-Type") || "";
        if (options.binary && ctype.indexOf("json") < 0) {
          return r.blob().then(function (blob) {
            return { ok: r.ok, status: r.status, data: null, blob: blob, filename: fileName(r), response: r };
          });
        }
        var parse = ctype.indexOf("json") >= 0 ? r.json() : r.text();
        return parse.then(function (data) { return { ok: r.ok, status: r.status, data: data, response: r }; },
          function () { return { ok: r.ok, status: r.status, data: null, response: r }; });
      });
    });
  };
  // The name a file answer asks to be saved as: RFC 6266's filename* (UTF-8) first, then filename.
  function fileName(r) {
    var cd = r.headers.get("Content-Disposition") || "";
    var star = /filename\*=UTF-8''([^;]+)/i.exec(cd), plain = /filename="?([^";]+)"?/i.exec(cd);
    try { if (star) return decodeURIComponent(star[1]); } catch (e) { /* a malformed name: use the plain one */ }
    return plain ? plain[1] : "download";
  }
  Kiln.apiError = function (res) {
    if (!res) return "No answer from the server.";
    var d = res.data;
    if (d && d.error && d.error.message) return d.error.message;
    if (d && d.detail) return String(d.detail);
    if (typeof d === "string" && d) return d.slice(0, 300);
    return "The server answered " + res.status + ".";
  };

  // For the live client (live.js): whether the session is locked, and forgetting a token the server refused.
  Kiln.sessionLocked = function () { return locked; };
  Kiln.dropToken = function () { token = null; };
})();
