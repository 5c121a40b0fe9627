// The operations home refreshes its live section in place (no page reload), while the tab is visible.
(function () {
  "use strict";
  const box = document.getElementById("helios-operations");
  if (!box) return;
  const url = box.dataset.refreshUrl;
  const period = Number(box.dataset.refreshSeconds || 10) * 1000;

  function note(text) {
    const state = box.querySelector(".helios-refresh-state");
    if (state) state.textContent = text;
  }

  async function refresh() {
    if (document.hidden) return;
    try {
      const response = await fetch(url, { credentials: "same-origin", redirect: "manual" });
      if (response.type === "opaqueredirect" || response.status === 302) {
        note("signed out: reload the page to sign in again");
        return;
      }
      if (!response.ok) throw new Error("HTTP " + response.status);
      box.innerHTML = await response.text();
      box.dataset.refreshes = String(Number(box.dataset.refreshes || 0) + 1);
    } catch (error) {
      note("refresh failed (" + error.message + "); trying again in " + period / 1000 + " s");
    }
  }

  setInterval(refresh, period);
  document.addEventListener("visibilitychange", function () {
    if (!document.hidden) refresh();
  });
})();
