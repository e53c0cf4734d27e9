// Postdesk's page behaviour. No inline scripts: everything hangs off data- attributes.
(function () {
  "use strict";

  // <button data-copy-target="#id"> copies the value or text of the target element.
  document.addEventListener("click", function (event) {
    const button = event.target.closest("[data-copy-target]");
    if (!button) return;
    const target = document.querySelector(button.dataset.copyTarget);
    if (!target) return;
    const text = "value" in target ? target.value : target.textContent.trim();
    const done = function () {
      const original = button.textContent;
      button.textContent = "Copied";
      setTimeout(function () { button.textContent = original; }, 1500);
    };
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(text).then(done);
    } else {
      target.select && target.select();
      document.execCommand("copy");
      done();
    }
  });

  // <select data-toggles="name"> shows elements with data-shown-when="name=value" for the chosen value.
  function syncToggles(select) {
    document.querySelectorAll('[data-shown-when^="' + select.name + '="]').forEach(function (el) {
      const wanted = el.dataset.shownWhen.split("=")[1];
      el.hidden = select.value !== wanted;
    });
  }
  document.querySelectorAll("select[data-toggles]").forEach(function (select) {
    syncToggles(select);
    select.addEventListener("change", function () { syncToggles(select); });
  });
})();
