// The portal journal's character counter (templates/portal/journal/): under each entry's text area,
// how many characters it holds of the most an entry keeps (data-count-to, domain/journal.py ENTRY_MAX).
// A line break counts twice, as the form sends it (CR LF) and the server counts it. Only a help: the
// server checks every entry, and without this script the page works the same, without the count.
"use strict";

document.addEventListener("DOMContentLoaded", () => {
  for (const counter of document.querySelectorAll("[data-count-for]")) {
    const area = document.getElementById(counter.dataset.countFor);
    const limit = Number(area && area.dataset.countTo);
    if (!area || !limit) continue;
    const show = () => {
      const used = area.value.length + (area.value.match(/\n/g) || []).length;
      counter.textContent = used > limit
        ? `${used} characters: ${used - limit} more than an entry keeps (${limit}). Nothing is lost: shorten it to save it.`
        : `${used} of ${limit} characters`;
      counter.classList.toggle("error", used > limit);
    };
    area.addEventListener("input", show);
    counter.hidden = false;
    show();
  }
});
