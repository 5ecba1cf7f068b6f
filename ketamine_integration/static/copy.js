// Copy buttons: a button[data-copy-target] copies the value of the input it names with the
// Clipboard API. The button is hidden in the markup and shown only where the API is there
// (a secure page), so without it the address stays what it always was: selectable text.
"use strict";

document.addEventListener("DOMContentLoaded", () => {
  if (!navigator.clipboard || !window.isSecureContext) return;
  for (const button of document.querySelectorAll("button[data-copy-target]")) {
    const id = button.dataset.copyTarget;
    const input = document.getElementById(id);
    const status = document.querySelector(`[data-copy-status="${id}"]`);
    if (!input) continue;
    button.hidden = false;
    button.addEventListener("click", async () => {
      try {
        await navigator.clipboard.writeText(input.value);
        if (status) status.textContent = "Copied: paste it into your calendar app.";
      } catch (error) {
        input.focus();
        input.select();
        if (status) status.textContent = "Could not copy here: the address is selected, copy it with Ctrl+C (⌘C on a Mac).";
      }
    });
  }
});
