// A new provider config: pick the kind first; only that cloud's options are shown.
(function () {
  "use strict";
  const kind = document.getElementById("id_kind");
  if (!kind || kind.tagName !== "SELECT") return; // a saved config keeps its kind: the server shows its options only
  function show() {
    document.querySelectorAll("fieldset.helios-kind-options").forEach(function (fieldset) {
      const mine = kind.value && fieldset.classList.contains("helios-kind-" + kind.value);
      fieldset.hidden = !mine;
    });
  }
  kind.addEventListener("change", show);
  show();
})();
