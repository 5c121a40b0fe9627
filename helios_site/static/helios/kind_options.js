// A new provider config: pick the kind first; only that cloud's options are shown, and the
// round-trip section only for kinds that have one.
(function () {
  "use strict";
  const kind = document.getElementById("id_kind");
  if (!kind || kind.tagName !== "SELECT") return; // a saved config keeps its kind: the server shows its options only
  function show() {
    document.querySelectorAll("fieldset.helios-kind-options").forEach(function (fieldset) {
      const mine = kind.value && fieldset.classList.contains("helios-kind-" + kind.value);
      fieldset.hidden = !mine;
    });
    const roundTrip = document.getElementById("receiver-group");
    const without = (kind.dataset.noRoundTrip || "").split(",");
    if (roundTrip) roundTrip.hidden = without.includes(kind.value);
  }
  kind.addEventListener("change", show);
  show();
})();
