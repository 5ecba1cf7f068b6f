// The calendar's filters apply as soon as one changes (issue 21, point 2). Without this script the
// Apply button does the same. A select applies at once; a date waits until it has been still for a
// moment, so typing a date digit by digit does not reload the page at each digit. Nothing else runs.
"use strict";

const DATE_PAUSE_MS = 700;

document.addEventListener("DOMContentLoaded", () => {
  for (const form of document.querySelectorAll("form[data-auto-submit]")) {
    let timer = null;
    const apply = () => {
      window.clearTimeout(timer);
      timer = null;
      form.requestSubmit ? form.requestSubmit() : form.submit();
    };
    form.addEventListener("change", (event) => {
      if (event.target.type === "date") {
        window.clearTimeout(timer);
        timer = window.setTimeout(apply, DATE_PAUSE_MS);
      } else {
        apply();
      }
    });
    // a date typed then left (Tab, Enter) applies without waiting
    form.addEventListener("focusout", (event) => {
      if (event.target.type === "date" && timer !== null) apply();
    });
  }
});
