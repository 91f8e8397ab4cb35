// andon console: small progressive enhancements. Every page works without this file.
"use strict";
document.addEventListener("DOMContentLoaded", () => {
  // "Go back" links on error pages.
  for (const link of document.querySelectorAll("a[data-back]")) {
    link.addEventListener("click", (event) => {
      if (history.length > 1) { event.preventDefault(); history.back(); }
    });
  }
  // Ask before actions that cannot be undone (buttons with data-confirm).
  for (const button of document.querySelectorAll("button[data-confirm]")) {
    button.addEventListener("click", (event) => {
      if (!window.confirm(button.dataset.confirm)) { event.preventDefault(); }
    });
  }
  // Show/hide an inline form (e.g. the reject reason) from a toggle button.
  for (const toggle of document.querySelectorAll("[data-toggle]")) {
    toggle.addEventListener("click", () => {
      const target = document.getElementById(toggle.dataset.toggle);
      if (target) { target.hidden = !target.hidden; if (!target.hidden) { const f = target.querySelector("textarea, input:not([type=hidden])"); if (f) f.focus(); } }
    });
  }
  // Filters submit on change.
  for (const select of document.querySelectorAll("form.filters select")) {
    select.addEventListener("change", () => select.form.submit());
  }
  // Pages showing running jobs refresh themselves until nothing runs.
  if (document.body.dataset.autorefresh && document.querySelector(".badge.s-running, .badge.s-retrying")) {
    window.setTimeout(() => window.location.reload(), 4000);
  }
});
