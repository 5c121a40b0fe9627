// Console-wide: copy buttons next to ids (the full id, whatever the list shows).
(function () {
  "use strict";
  document.addEventListener("click", function (event) {
    const button = event.target.closest("button.helios-copy");
    if (!button) return;
    event.preventDefault();
    const text = button.dataset.copy;
    const done = function () {
      button.classList.add("helios-copied");
      window.setTimeout(function () { button.classList.remove("helios-copied"); }, 1200);
    };
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(text).then(done);
    } else { // plain http on a private network: the older way
      const area = document.createElement("textarea");
      area.value = text;
      document.body.appendChild(area);
      area.select();
      document.execCommand("copy");
      area.remove();
      done();
    }
  });
})();

// Console-wide: a list fits the screen. Each row stays one line (cells do not wrap); when the
// table is wider than its box, wide columns are narrowed to a common width, just enough to fit,
// and what they cut ends in "…" with the whole text on hover. Short columns (a status, a name,
// a count) keep their width; the columns that say what happened (an error, a subject, a
// finding's detail) give up room last. No sideways scroll.
(function () {
  "use strict";
  const TELLING = ["error", "subject", "detail", "summary", "delivery_summary", "last_check", "filter_text"];
  // Who gives up room, in turn, and the narrowest each may become.
  const STEPS = [
    { telling: false, floor: 110 },
    { telling: true, floor: 160 },
    { telling: null, floor: 56 },
  ];

  function capped(widths, excess, floor) {
    // The width c >= floor such that narrowing every column wider than c to c removes at most
    // `excess` px (exactly, when the columns have that much above the floor).
    const sorted = widths.slice().sort(function (a, b) { return b - a; });
    let sum = 0;
    for (let k = 0; k < sorted.length; k++) {
      sum += sorted[k];
      const c = (sum - excess) / (k + 1);
      if (k + 1 === sorted.length || c >= sorted[k + 1]) return Math.max(c, floor);
    }
    return floor;
  }

  function fit() {
    const table = document.getElementById("result_list");
    if (!table || !table.tHead) return;
    const box = table.closest(".results") || table.parentElement;
    table.classList.remove("helios-fitted");
    table.style.width = "";
    const headers = Array.from(table.tHead.rows[0].cells);
    headers.forEach(function (h) { h.style.width = ""; });
    const room = box.clientWidth - 2; // borders and sub-pixel rounding
    let excess = table.offsetWidth - room;
    if (excess <= 0) return;
    const widths = headers.map(function (h) { return h.offsetWidth; });
    const telling = headers.map(function (h) {
      return TELLING.some(function (name) { return h.classList.contains("column-" + name); });
    });
    STEPS.forEach(function (step) {
      if (excess <= 0) return;
      const mine = widths.map(function (w, i) { return step.telling === null || telling[i] === step.telling; });
      const chosen = widths.filter(function (w, i) { return mine[i]; });
      const c = capped(chosen, excess, step.floor);
      widths.forEach(function (w, i) {
        if (mine[i] && w > c) {
          excess -= w - c;
          widths[i] = c;
        }
      });
    });
    headers.forEach(function (h, i) { h.style.width = Math.floor(widths[i]) + "px"; });
    table.style.width = room + "px";
    table.classList.add("helios-fitted");
    table.querySelectorAll("tbody td, tbody th").forEach(function (cell) {
      if (cell.scrollWidth > cell.clientWidth && !cell.title) cell.title = cell.innerText.trim();
    });
  }

  document.addEventListener("DOMContentLoaded", fit);
  let pending = null;
  window.addEventListener("resize", function () {
    window.clearTimeout(pending);
    pending = window.setTimeout(fit, 100);
  });
})();
