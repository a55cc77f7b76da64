// Live parts of the pages: countdowns (a review's time limit on the queue, a claim's lease on a case)
// and, on an open case, a check every few seconds that nobody else decided it meanwhile. The server
// words the notice (GET .../state: metadata only, never features); this only shows it and stops the
// form from being sent in vain.
(function () {
  function minutes(seconds) { return Math.round(Math.abs(seconds) / 60) + " min"; }
  function tick() {
    const now = Date.now() / 1000;
    document.querySelectorAll("[data-deadline]").forEach(function (cell) {
      const left = parseFloat(cell.dataset.deadline) - now;
      const soon = parseFloat(cell.dataset.soon || "0");
      const row = cell.closest("[data-row]");
      if (left < 0) {
        cell.textContent = cell.dataset.expired || "overdue by " + minutes(left);
      } else if (left < soon) {
        cell.textContent = "due soon: " + minutes(left);
      } else {
        cell.textContent = minutes(left);
      }
      if (row) {
        row.classList.toggle("late", left < 0);
        row.classList.toggle("soon", left >= 0 && left < soon);
      }
    });
  }
  function overtaken(form, notice) {
    const box = document.getElementById("notice");
    box.textContent = notice;
    box.hidden = false;
    form.querySelectorAll("button, input, textarea").forEach(function (control) { control.disabled = true; });
  }
  function watch(form) {
    fetch(form.dataset.state, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (response) { return response.ok ? response.json() : null; })
      .then(function (state) {
        if (state && state.notice) overtaken(form, state.notice);
        else setTimeout(function () { watch(form); }, 5000);
      })
      .catch(function () { setTimeout(function () { watch(form); }, 5000); });
  }
  document.addEventListener("DOMContentLoaded", function () {
    tick();
    setInterval(tick, 15000);
    const form = document.querySelector("form[data-state]");
    if (form) watch(form);
  });
})();
