// Keyboard shortcuts for reviewers: n takes the next case, c claims, s skips, 1-9 choose a class,
// Enter submits the form that has focus (the browser's own behaviour). They never fire while typing
// in a field, and the "Keyboard shortcuts" switch in the header turns them off (kept in localStorage).
(function () {
  const STORE = "slipway.shortcuts";
  const enabled = () => localStorage.getItem(STORE) !== "off";
  document.addEventListener("DOMContentLoaded", function () {
    const toggle = document.getElementById("shortcuts");
    if (!toggle) return;
    toggle.checked = enabled();
    toggle.closest("label").hidden = false;
    toggle.addEventListener("change", function () { localStorage.setItem(STORE, toggle.checked ? "on" : "off"); });
  });
  document.addEventListener("keydown", function (event) {
    if (!enabled() || event.ctrlKey || event.metaKey || event.altKey) return;
    const target = event.target;
    if (target instanceof HTMLElement && (target.isContentEditable ||
        /^(INPUT|TEXTAREA|SELECT)$/.test(target.tagName) && target.type !== "radio")) return;
    const control = document.querySelector('[data-key="' + CSS.escape(event.key) + '"]');
    if (!control || control.disabled) return;
    event.preventDefault();
    if (control instanceof HTMLInputElement && control.type === "radio") {
      control.checked = true;
      const note = document.getElementById("note");
      if (note) note.focus();
    } else {
      control.click();
    }
  });
})();
