// The portal's idle timer (templates/portal/base.html, portal/idle.py). A page of a signed-in patient
// knows from the server how long its session has left (data-seconds-left: KI_PORTAL_IDLE_MINUTES from the
// last activity, or the session's absolute limit). A minute before, a warning offers "Stay signed in",
// which tells the server (POST keep-alive) and starts the count again. At the limit the page is replaced
// at once, so nothing private stays on the screen, and the browser posts to the timed-out address: the
// session ends there, and the text of a form the patient had changed is sent along and kept by the server
// (portal/recovery.py), offered back after signing in, as a form sent after a timeout is. Nothing private
// is stored in the browser: localStorage holds only the time the session ends, so that a tab in use keeps
// the portal's other tabs open. Without this script the server still ends the session after the limit.
"use strict";

(() => {
  const warning = document.getElementById("idle-warning");
  if (!warning) return;
  const SHARED = "ki-portal-session-ends";
  const message = document.getElementById("idle-message");
  const stay = document.getElementById("idle-stay");
  const token = warning.dataset.csrf;
  const warnMs = Number(warning.dataset.warnSeconds) * 1000;
  const forms = [...document.querySelectorAll("main form")];
  let ends = Date.now() + Number(warning.dataset.secondsLeft) * 1000;
  // true once "Stay signed in" could not extend the session: its absolute limit is near
  let atLimit = false;
  let leaving = false;

  // Whether the patient changed a control: measured against what the page was sent with (each control's
  // default), not against its value when this script ran. The script is deferred, and on a slow connection
  // the page shows and takes typing before it runs: words typed then were taken for the page's own.
  function changedControl(control) {
    if (control instanceof HTMLSelectElement) {
      const options = [...control.options];
      if (control.multiple) return options.some((option) => option.selected !== option.defaultSelected);
      const marked = options.filter((option) => option.defaultSelected).pop();
      const sent = marked || options.find((option) => !option.disabled);
      return (sent ? sent.index : -1) !== control.selectedIndex;
    }
    if (control.type === "checkbox" || control.type === "radio") return control.checked !== control.defaultChecked;
    if (control instanceof HTMLTextAreaElement || control instanceof HTMLInputElement) {
      return control.type !== "file" && control.value !== control.defaultValue;
    }
    return false;
  }

  function changed(form) {
    return [...form.elements].some(changedControl);
  }

  function share(time) {
    try { localStorage.setItem(SHARED, String(time)); } catch (e) { /* storage off: this tab alone */ }
  }

  function shared() {
    try { return Number(localStorage.getItem(SHARED)) || 0; } catch (e) { return 0; }
  }

  function show(text, offerStay) {
    if (warning.hidden || message.textContent !== text) {
      warning.hidden = false;
      message.textContent = text;  // filled once shown, so that screen readers announce it
    }
    stay.hidden = !offerStay;
  }

  function hide() {
    warning.hidden = true;
    message.textContent = "";
  }

  function field(form, name, value) {
    const input = document.createElement("input");
    input.type = "hidden";
    input.name = name;
    input.value = value;
    form.append(input);
  }

  function signOut() {
    if (leaving) return;
    leaving = true;
    const post = document.createElement("form");
    post.method = "post";
    post.action = warning.dataset.timedOut;
    post.hidden = true;
    field(post, "csrf_token", token);
    field(post, "page", location.pathname);
    const typed = forms.find(changed);
    if (typed) {
      field(post, "kept_for", new URL(typed.action, location.href).pathname);
      for (const [name, value] of new FormData(typed)) {
        if (name !== "csrf_token" && typeof value === "string") field(post, name, value);
      }
    }
    const gone = document.createElement("p");
    gone.textContent = "You were signed out after a period of inactivity.";
    document.body.replaceChildren(gone, post);
    post.submit();
  }

  function tick() {
    if (leaving) return;
    ends = Math.max(ends, shared());
    const left = ends - Date.now();
    if (left <= 0) signOut();
    else if (left <= warnMs) show(atLimit ? warning.dataset.limitText : message.dataset.text, !atLimit);
    else hide();
  }

  stay.addEventListener("click", async () => {
    let answer = null;
    try {
      const response = await fetch(warning.dataset.keepAlive, {method: "POST", headers: {"X-CSRFToken": token},
                                                 credentials: "same-origin", redirect: "manual"});
      answer = response.ok ? await response.json() : null;
    } catch (e) { answer = null; }
    if (!answer) { signOut(); return; }  // the session had ended already: the signed-out page says so
    ends = Date.now() + answer.seconds_left * 1000;
    share(ends);
    atLimit = answer.seconds_left * 1000 <= warnMs;
    tick();
  });

  share(Math.max(ends, shared()));
  window.addEventListener("storage", tick);
  document.addEventListener("visibilitychange", tick);
  setInterval(tick, 1000);
})();
