// Compose page live check: as the operator types, POST the form to the preview endpoint and
// show the JSON error (line, column), schema problems, and per chosen provider a size meter and
// exactly what it would receive. Nothing is created. Uses textContent only.
(function () {
  "use strict";
  var form = document.getElementById("compose-form");
  var panel = document.getElementById("helios-preview");
  if (!form || !panel) { return; }
  var url = panel.getAttribute("data-preview-url");
  var status = document.getElementById("helios-data-status");
  var schema = document.getElementById("helios-schema-problems");
  var previews = document.getElementById("helios-provider-previews");
  var dataField = document.getElementById("id_data");
  var timer = null;
  var sequence = 0;

  function element(tag, className, text) {
    var node = document.createElement(tag);
    if (className) { node.className = className; }
    if (text !== undefined) { node.textContent = text; }
    return node;
  }

  function number(value) { return value.toLocaleString("en-US"); }

  function providerBlock(p) {
    var block = element("div", "helios-preview-provider");
    block.setAttribute("data-provider", p.name);
    block.appendChild(element("h3", "", p.name + " — " + p.kind + " (" + p.mode + ")" +
      (p.route ? " · chosen by route " + p.route : "")));
    var meter = element("meter");
    meter.min = 0;
    meter.max = p.limit;
    meter.low = p.limit * 0.75;
    meter.high = p.limit * 0.95;
    meter.optimum = 0;
    meter.value = Math.min(p.bytes, p.limit);
    block.appendChild(meter);
    block.appendChild(element("span", "helios-meter-text",
      " " + number(p.bytes) + " of " + number(p.limit) + " bytes (" + p.percent + " %)"));
    if (p.problems.length) {
      var list = element("ul", "errorlist");
      p.problems.forEach(function (text) { list.appendChild(element("li", "", text)); });
      block.appendChild(list);
    }
    var details = element("details");
    details.appendChild(element("summary", "", "What " + p.name + " receives"));
    details.appendChild(element("pre", "helios-json", JSON.stringify(p.payload, null, 2)));
    block.appendChild(details);
    return block;
  }

  function render(result) {
    previews.replaceChildren();
    schema.replaceChildren();
    if (result.data_error) {
      status.className = "helios-data-status helios-data-status--error";
      status.textContent = result.data_error;
      dataField.setAttribute("aria-invalid", "true");
      return;
    }
    dataField.removeAttribute("aria-invalid");
    status.className = "helios-data-status helios-data-status--ok";
    status.textContent = "Valid JSON object, " + number(result.data_bytes) + " bytes." +
      (result.schema ? (result.schema_problems.length ? "" : " Matches the " + result.schema + " schema.") : "");
    result.envelope_problems.forEach(function (text) { schema.appendChild(element("li", "", text)); });
    result.schema_problems.forEach(function (text) {
      schema.appendChild(element("li", "", "Schema " + result.schema + ": " + text));
    });
    if (!result.providers.length) {
      previews.appendChild(element("p", "helios-note", result.routed && !result.envelope_problems.length ?
        "No route matches this event: choose a provider config (or ask an Admin for a route)." :
        "Choose a provider to see what it receives."));
    }
    result.providers.forEach(function (p) { previews.appendChild(providerBlock(p)); });
  }

  function check() {
    var mine = ++sequence;
    fetch(url, { method: "POST", body: new FormData(form), credentials: "same-origin",
                 headers: { "X-Requested-With": "fetch" } })
      .then(function (response) {
        if (!response.ok) { throw new Error("HTTP " + response.status); }
        return response.json();
      })
      .then(function (result) { if (mine === sequence) { render(result); } })
      .catch(function () {
        if (mine !== sequence) { return; }
        status.className = "helios-data-status";
        status.textContent = "The live check is unavailable; the event is still checked when you send.";
      });
  }

  function schedule() {
    window.clearTimeout(timer);
    timer = window.setTimeout(check, 250);
  }

  form.addEventListener("input", schedule);
  form.addEventListener("change", schedule);
  check();
})();
