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
