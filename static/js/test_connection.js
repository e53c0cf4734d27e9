// "Test connection" on the provider form: post the form's values, show each step's result.
(function () {
  "use strict";
  if (window.postdeskTestConnection) return; // the fragment may be included more than once
  window.postdeskTestConnection = true;

  const MARKS = { true: ["✔", "text-success"], false: ["✘", "text-danger"], null: ["–", "text-body-secondary"] };

  function show(root, data) {
    const result = root.querySelector("[data-test-connection-result]");
    const summary = root.querySelector("[data-test-connection-summary]");
    const list = root.querySelector("[data-test-connection-steps]");
    const transcript = root.querySelector("[data-test-connection-transcript]");
    list.replaceChildren();
    const errors = Object.entries(data.errors || {});
    if (errors.length) {
      summary.textContent = "Fix these fields first:";
      summary.className = "fw-semibold mb-1 text-danger";
      errors.forEach(function ([field, messages]) {
        const item = document.createElement("li");
        item.textContent = (field === "__all__" ? "" : field.replace(/_/g, " ") + ": ") + messages.join(" ");
        list.appendChild(item);
      });
    } else {
      summary.textContent = data.ok ? "The settings work." : "The check stopped at a failed step.";
      summary.className = "fw-semibold mb-1 " + (data.ok ? "text-success" : "text-danger");
      (data.steps || []).forEach(function (step) {
        const [mark, css] = MARKS[String(step.ok)];
        const item = document.createElement("li");
        const head = document.createElement("span");
        head.className = css + " fw-semibold";
        head.textContent = mark + " " + step.name + ": ";
        const detail = document.createElement("span");
        detail.textContent = step.detail;
        item.append(head, detail);
        list.appendChild(item);
      });
    }
    if (transcript) {
      transcript.hidden = !data.transcript;
      transcript.querySelector("pre").textContent = data.transcript || "";
    }
    result.hidden = false;
  }

  document.addEventListener("click", function (event) {
    const button = event.target.closest("[data-test-connection-url]");
    if (!button) return;
    const form = button.closest("form");
    const root = button.closest(".test-connection");
    const data = new FormData(form);
    data.append("_kind", button.dataset.kind || "");
    if (button.dataset.provider) data.append("_provider", button.dataset.provider);
    const label = button.textContent;
    button.disabled = true;
    button.textContent = "Testing…";
    fetch(button.dataset.testConnectionUrl, {
      method: "POST",
      body: data,
      credentials: "same-origin",
      headers: { Accept: "application/json" },
    })
      .then(function (response) {
        if (!response.ok) throw new Error("The check could not run (HTTP " + response.status + ").");
        return response.json();
      })
      .then(function (json) { show(root, json); })
      .catch(function (error) { show(root, { errors: { __all__: [error.message] } }); })
      .finally(function () {
        button.disabled = false;
        button.textContent = label;
      });
  });
})();
