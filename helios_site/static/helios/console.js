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
