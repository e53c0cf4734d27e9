// Progress of a profile import or export: polls the JSON endpoint named by data-progress-url
// until the job has finished, then reloads once so the page lists the bad lines (import) or
// offers the download (export).
(function () {
  "use strict";

  const card = document.querySelector("[data-progress-url]");
  if (!card || card.dataset.finished === "true") return;

  const url = card.dataset.progressUrl;
  const bar = card.querySelector('[data-field="bar"]');
  const number = new Intl.NumberFormat();
  let delay = 1000;

  function show(data) {
    ["status_label", "processed", "total", "created", "updated", "unchanged", "errors"].forEach(function (name) {
      const el = card.querySelector('[data-field="' + name + '"]');
      if (el) el.textContent = typeof data[name] === "number" ? number.format(data[name]) : data[name];
    });
    bar.value = data.percent;
    bar.textContent = data.percent + "%";
  }

  function poll() {
    fetch(url, { headers: { Accept: "application/json" }, credentials: "same-origin" })
      .then(function (response) {
        if (!response.ok) throw new Error("HTTP " + response.status);
        return response.json();
      })
      .then(function (data) {
        show(data);
        if (data.finished) {
          window.location.reload();
          return;
        }
        delay = 1000;
        setTimeout(poll, delay);
      })
      .catch(function () {
        // Back off on errors (server restarting, network hiccup) instead of hammering it.
        delay = Math.min(delay * 2, 30000);
        setTimeout(poll, delay);
      });
  }

  setTimeout(poll, delay);
})();
