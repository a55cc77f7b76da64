// Keyboard shortcuts for reviewers: c claims, 1-9 choose a class, Enter submits the form that has focus
// (the browser's own behaviour). They never fire while typing in a field, and are off when
// localStorage "slipway.shortcuts" is "off".
(function () {
  if (localStorage.getItem("slipway.shortcuts") === "off") return;
  document.addEventListener("keydown", function (event) {
    const target = event.target;
    if (event.ctrlKey || event.metaKey || event.altKey) return;
    if (target instanceof HTMLElement && (target.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(target.tagName) && target.type !== "radio")) return;
    const control = document.querySelector('[data-key="' + CSS.escape(event.key) + '"]');
    if (!control) return;
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
