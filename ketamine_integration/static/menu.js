// The header's "Menu" button: on a narrow screen (under 700 px, style.css "Layout") the menu folds
// behind it and the button opens and closes it. Without this script the button stays hidden and the
// whole menu shows, as on a wide screen: nothing depends on it.
"use strict";

document.addEventListener("DOMContentLoaded", () => {
  const button = document.querySelector(".menu-button");
  if (!button) return;  // signed out: no menu
  const header = button.closest(".site-header");
  const menu = document.getElementById(button.getAttribute("aria-controls"));
  const show = (open) => {
    button.setAttribute("aria-expanded", String(open));
    header.classList.toggle("menu-open", open);
  };
  header.classList.add("menu-ready");
  button.hidden = false;
  show(false);
  button.addEventListener("click", () => show(button.getAttribute("aria-expanded") !== "true"));
  // Escape closes an open menu from the button or from inside it, and hands focus back to the button.
  header.addEventListener("keydown", (event) => {
    if (event.key !== "Escape" || !header.classList.contains("menu-open")) return;
    if (event.target !== button && !menu.contains(event.target)) return;
    show(false);
    button.focus();
  });
});
