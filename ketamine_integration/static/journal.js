// "Quote into the experience review" (templates/journal/_note_entries.html): with this script the
// button puts the quote (data-quote, written by the server: journal/staff.py) into the review field
// chosen beside it, at the cursor if the author has been typing there, else at its end, and says so
// in a status line; nothing is sent until the draft is saved. Without it the button submits the note
// form, which saves the draft with the quote added to that field.
"use strict";

document.addEventListener("DOMContentLoaded", () => {
  const touched = new WeakSet();
  const status = document.querySelector("[data-journal-status]");
  for (const area of document.querySelectorAll(".review-fields textarea")) {
    area.addEventListener("focus", () => touched.add(area));
  }
  for (const button of document.querySelectorAll("button[data-quote]")) {
    button.addEventListener("click", (event) => {
      const choice = document.getElementById(button.dataset.quoteInto);
      const area = choice && document.getElementById(choice.value);
      if (!area) return;  // the form action does it instead
      event.preventDefault();
      const text = area.value;
      const at = touched.has(area) ? area.selectionEnd : text.length;
      const before = text.slice(0, at).replace(/\s+$/, "");
      const after = text.slice(at).replace(/^\s+/, "");
      const quote = button.dataset.quote;
      area.value = (before ? before + "\n\n" : "") + quote + (after ? "\n\n" + after : "");
      const end = (before ? before.length + 2 : 0) + quote.length;
      area.focus();
      area.setSelectionRange(end, end);
      area.dispatchEvent(new Event("input", { bubbles: true }));
      const label = choice.options[choice.selectedIndex].text;
      if (status) status.textContent = `Quoted into “${label}”. Save the draft to keep it.`;
    });
  }
});
