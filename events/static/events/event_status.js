// Live delivery status on the event page: polls the status endpoint until every delivery
// is final. Uses textContent only (no HTML from the server is interpreted).
(function () {
  "use strict";
  var table = document.getElementById("helios-deliveries");
  if (!table) { return; }
  var url = table.getAttribute("data-status-url");
  var banner = document.getElementById("helios-live-state");
  var FIELDS = ["mode", "attempts", "provider_message_id", "latency_ms", "last_error", "confirmed"];

  function setBadge(cell, value, label) {
    var span = cell.querySelector(".helios-badge") || cell;
    span.className = "helios-badge helios-badge--" + value;
    span.textContent = label;
  }

  function render(rows) {
    rows.forEach(function (row) {
      var tr = table.querySelector('tr[data-delivery-id="' + row.id + '"]');
      if (!tr) { return; }
      tr.setAttribute("data-status", row.status);
      setBadge(tr.querySelector('[data-field="status"]'), row.status, row.status_label);
      var waiting = tr.querySelector('[data-field="waiting"]');
      if (waiting) {
        // What it waits for, worded by the server as of now (an open circuit's probe, the next
        // attempt, or a worker); the circuit's full sentence as the tooltip.
        waiting.textContent = row.waiting || "—";
        waiting.title = row.circuit || "";
      }
      FIELDS.forEach(function (name) {
        var cell = tr.querySelector('[data-field="' + name + '"]');
        if (!cell) { return; }
        var value = row[name];
        if (name === "last_error" && row.last_error_code) { value = row.last_error_code + ": " + row.last_error; }
        cell.textContent = value === null || value === "" ? "—" : String(value);
      });
    });
  }

  function poll() {
    fetch(url, { headers: { Accept: "application/json" }, credentials: "same-origin" })
      .then(function (response) {
        if (!response.ok) { throw new Error("HTTP " + response.status); }
        return response.json();
      })
      .then(function (body) {
        render(body.deliveries);
        if (body.all_final && body.awaiting_round_trip) {
          // Sent: watch for the events to come back through the receivers (the round trip).
          banner.textContent = "All deliveries are final; waiting for the events to come back (round trip)…";
          table.setAttribute("data-all-final", "true");
          window.setTimeout(poll, 2000);
        } else if (body.all_final) {
          banner.textContent = "All deliveries are final.";
          table.setAttribute("data-all-final", "true");
        } else {
          banner.textContent = "Updating live…";
          window.setTimeout(poll, 1000);
        }
      })
      .catch(function () {
        banner.textContent = "Lost contact with the console; retrying…";
        window.setTimeout(poll, 3000);
      });
  }
  poll();
})();
