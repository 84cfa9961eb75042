/* Connection admin: only the chosen protocol's fieldsets show (drivers/admin.py names them kiln-proto-<protocol>);
 * fieldsets without such a class (name, timing) always show. Sparkplug's group and host ids only for Sparkplug. */
(function () {
  "use strict";
  function sync() {
    var select = document.getElementById("id_protocol");
    if (!select) return;
    var p = select.value;
    document.querySelectorAll("fieldset[class*='kiln-proto-']").forEach(function (fs) {
      fs.hidden = !fs.classList.contains("kiln-proto-" + p);
    });
    document.querySelectorAll(".form-row.field-group_id, .form-row.field-host_id").forEach(function (row) {
      row.hidden = p !== "sparkplug";
    });
  }
  document.addEventListener("DOMContentLoaded", function () {
    var select = document.getElementById("id_protocol");
    if (!select) return;
    select.addEventListener("change", sync);
    sync();
  });
})();
