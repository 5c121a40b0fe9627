// Bulk upload progress: polls the upload's progress endpoint and moves the bar until every
// delivery is final. Uses textContent only.
(function () {
  "use strict";
  var panel = document.getElementById("helios-bulk-progress");
  if (!panel) { return; }
  var url = panel.getAttribute("data-progress-url");
  var bar = document.getElementById("bulk-progress-bar");
  var text = document.getElementById("bulk-progress-text");

  function render(p) {
    bar.max = Math.max(p.deliveries, 1);
    bar.value = p.final;
    var percent = p.deliveries ? Math.floor(100 * p.final / p.deliveries) : 0;
    text.textContent = p.final.toLocaleString("en-US") + " of " + p.deliveries.toLocaleString("en-US") +
      " deliveries final (" + percent + " %)" + (p.done ? ": done." : "");
    Object.keys(p.by_status).forEach(function (status) {
      var count = panel.querySelector('[data-status="' + status + '"] .helios-count');
      if (count) { count.textContent = p.by_status[status].toLocaleString("en-US"); }
    });
    p.by_provider.forEach(function (row) {
      var tr = panel.querySelector('#bulk-progress-providers tr[data-provider="' + row.name + '"]');
      if (!tr) { return; }
      var rowBar = tr.querySelector('[data-field="bar"]');
      rowBar.max = Math.max(row.deliveries, 1);
      rowBar.value = row.final;
      tr.querySelector('[data-field="final"]').textContent = row.final + " of " + row.deliveries;
      tr.querySelector('[data-field="succeeded"]').textContent = row.succeeded;
      tr.querySelector('[data-field="failed"]').textContent = row.failed;
      tr.querySelector('[data-field="waiting"]').textContent = row.waiting || "—";
    });
    panel.setAttribute("data-done", p.done ? "true" : "false");
  }

  function poll() {
    fetch(url, { credentials: "same-origin" })
      .then(function (response) { return response.json(); })
      .then(function (p) {
        render(p);
        if (!p.done) { window.setTimeout(poll, 500); }
      })
      .catch(function () { window.setTimeout(poll, 2000); });
  }
  poll();
})();
