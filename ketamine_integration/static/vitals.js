// Flags a vital-sign reading as it is typed, against the protocol's limits the record page carries
// in data-vital-limits (the same rules domain/vitals.py applies; the server checks them again when
// the record is saved, and only the saved flags count). Beside it only the header's menu script runs.
"use strict";

function breach(limit, value, unit) {
  if (!limit) return null;
  if (limit.below !== null && value < limit.below) return `below ${limit.below} ${unit}`;
  if (limit.at_or_above !== null && value >= limit.at_or_above) return `at or above ${limit.at_or_above} ${unit}`;
  return null;
}

function flagsOf(box, limits) {
  const words = [];
  for (const [reading, rule] of Object.entries(limits)) {
    const input = box.querySelector(`input[name$="-${reading}"]`);
    const value = input && input.value.trim() !== "" ? Number(input.value) : NaN;
    if (!Number.isFinite(value)) continue;
    const stop = breach(rule.stop, value, rule.unit);
    const flag = stop ? null : breach(rule.flag, value, rule.unit);
    if (stop) words.push(`${rule.name} ${value} ${rule.unit} is ${stop} (the protocol's limit for starting a dose).`);
    else if (flag) words.push(`${rule.name} ${value} ${rule.unit} is ${flag} (outside the protocol's range).`);
  }
  return words;
}

document.addEventListener("DOMContentLoaded", () => {
  for (const box of document.querySelectorAll("fieldset[data-vital-limits]")) {
    const limits = JSON.parse(box.dataset.vitalLimits);
    const out = box.querySelector("[data-live-flag]");
    box.addEventListener("input", () => {
      const words = flagsOf(box, limits);
      out.textContent = words.length ? "Flagged as typed: " + words.join(" ") : "";
      out.hidden = words.length === 0;
    });
  }
});
