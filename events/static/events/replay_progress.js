// Replay progress: polls the replay's progress endpoint and moves the bar until it is final.
// Uses textContent only.
(function () {
  "use strict";
  var panel = document.getElementById("helios-replay-progress");
  if (!panel || panel.getAttribute("data-final") === "true") { return; }
  var url = panel.getAttribute("data-progress-url");
  var bar = document.getElementById("replay-progress-bar");
  var text = document.getElementById("replay-progress-text");
  var counts = document.getElementById("replay-progress-counts");

  function render(p) {
    bar.max = Math.max(p.total, 1);
    bar.value = p.done;
    text.textContent = p.done.toLocaleString("en-US") + " of " + p.total.toLocaleString("en-US") +
      " events (" + p.percent + " %) · " + p.state;
    counts.textContent = p.sent.toLocaleString("en-US") + " deliveries sent again, " +
      p.skipped.toLocaleString("en-US") + " already on their way.";
    panel.setAttribute("data-final", p.final ? "true" : "false");
  }

  function poll() {
    fetch(url, { credentials: "same-origin" })
      .then(function (response) { return response.json(); })
      .then(function (p) {
        render(p);
        if (!p.final) { window.setTimeout(poll, 1000); }
        else { var cancel = document.getElementById("replay-cancel"); if (cancel) { cancel.remove(); } }
      })
      .catch(function () { window.setTimeout(poll, 3000); });
  }
  poll();
})();
