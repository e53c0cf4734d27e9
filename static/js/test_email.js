// Test email page: poll the JSON status endpoint until the verdict arrives. No inline scripts.
(function () {
  "use strict";
  const box = document.querySelector("[data-test-email-status-url]");
  if (!box) return;
  const url = box.dataset.testEmailStatusUrl;
  const started = Date.now();
  const GIVE_UP_MS = 15 * 60 * 1000;

  function delay() {
    const elapsed = Date.now() - started;
    return elapsed < 20000 ? 1000 : elapsed < 120000 ? 3000 : 10000;
  }

  function poll() {
    fetch(url, { headers: { Accept: "application/json" }, credentials: "same-origin" })
      .then(function (response) {
        if (!response.ok) throw new Error("HTTP " + response.status);
        return response.json();
      })
      .then(function (data) {
        box.innerHTML = data.html; // rendered by our own template, escaped server-side
        document.querySelectorAll("[data-events-hint]").forEach(function (hint) {
          hint.hidden = (hint.dataset.eventsHint === "failed") !== (data.status === "failed");
        });
        if (!data.is_finished && Date.now() - started < GIVE_UP_MS) setTimeout(poll, delay());
      })
      .catch(function () {
        if (Date.now() - started < GIVE_UP_MS) setTimeout(poll, 5000);
      });
  }
  setTimeout(poll, 500);
})();
