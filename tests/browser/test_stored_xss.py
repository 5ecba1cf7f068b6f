"""Stored and reflected XSS in real Chromium (OWASP ASVS 5.0 V3 output encoding).

A clinic is built whose every free-text field holds a tagged payload (tests/browser/xss_world.py),
then every page that shows them is opened by the users who may see it: once with the app's
Content-Security-Policy, once with Chromium told to ignore it (bypass_csp), so a pass proves the
escaping itself holds. A payload that ran would call window.__xss (exposed to the page) or open
a dialog; an injected element would carry an event-handler attribute or be an inline script, which
the app's own templates never contain. Each field must also be seen as literal text somewhere,
so a field that was silently dropped or never shown cannot pass for one that was escaped.
The coordination report and the REMS form are PDFs: their text must hold the payloads verbatim.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from io import BytesIO
from urllib.parse import urlencode

from pypdf import PdfReader

from tests.browser.conftest import DEFAULT_TIMEOUT_MS, DESKTOP, live_app, serving, suite_chromium
from tests.browser.test_patients_browser import sign_in
from tests.browser.xss_world import PAYLOADS, Payloads, World, protocols_dir, xss_protocol_version
from tests.conftest import PASSWORD
from tests.figures import sized

SUITE = "Stored XSS (Chromium)"
#: fields the app promises never to keep (an imported calendar keeps only times)
NEVER_SHOWN = ("imported event summary", "imported event description")

#: Reports attempts to the test: a CSP violation means something tried to run and only the
#: policy stopped it, which is an escaping failure too.
INIT_SCRIPT = """
document.addEventListener('securitypolicyviolation', e => {
  window.__cspViolation && window.__cspViolation(e.violatedDirective + ' ' + (e.blockedURI || 'inline'));
});
"""
#: what a page shows, as text: body text, form values, option labels, title and labels
PAGE_TEXT = """() => [document.title, document.body.textContent,
  ...[...document.querySelectorAll('input, textarea')].map(e => e.value),
  ...[...document.querySelectorAll('[aria-label], [title]')].map(e =>
      (e.getAttribute('aria-label') || '') + ' ' + (e.getAttribute('title') || ''))].join('\\n')"""
#: markup only an injection could have produced (tests/integration checks templates have none)
INJECTED = """() => {
  const found = [];
  for (const el of document.querySelectorAll('*')) {
    for (const a of el.attributes) if (/^on/i.test(a.name)) found.push(el.tagName + '[' + a.name + ']');
    if (el.tagName === 'SCRIPT' && !el.src) found.push('inline SCRIPT');
    if (el.tagName === 'IMG' && el.getAttribute('src') === 'x') found.push('IMG[src=x]');
  }
  return found;
}"""


@dataclass
class Tally:
    visits: int = 0
    executions: list = field(default_factory=list)
    dialogs: list = field(default_factory=list)
    violations: list = field(default_factory=list)
    injected: list = field(default_factory=list)
    seen: str = ""


def folded(text: str) -> str:
    return re.sub(r"\s+", " ", text)


def pages(world: World, p: Payloads) -> dict[str, list[str]]:
    """Every page that shows a stored value, per user allowed to open it; reflected inputs too."""
    i = world.ids
    course, patient = i["course"], i["patient"]
    shared = [f"/courses/{course}", f"/patients/{patient}", f"/patients/{patient}/releases", "/calendar",
              "/calendars/", "/protocols/", f"/protocols/xss-rems/v{xss_protocol_version()}", "/",
              f"/appointments/{i['appointment_cancelled']}"]
    clinical = [f"/dosing/{i['dosing']}", f"/notes/{i['note_signed']}", f"/notes/{i['note_check_in']}",
                f"/notes/{i['note_dosing']}",
                f"/courses/{course}/measures", f"/courses/{course}/coordination", f"/courses/{course}/formulation",
                f"/patients/{patient}/themes", f"/courses/{course}/action-steps", f"/courses/{course}/techniques",
                f"/patients/{patient}/safety-plan", f"/safety-plans/{i['safety_plan']}"]
    return {
        "xadmin": shared + [f"/availability/{i['ther']}", "/patients/", f"/patients/?{urlencode({'q': p('patient search (reflected)')})}",
                            f"/patients/{patient}/edit", "/users/", f"/users/{i['pres']}/edit",
                            f"/users/{i['odd']}/edit", "/rooms/", "/session-types/", "/themes/", "/worklist",
                            "/schedule/auto", "/audit/",
                            f"/audit/?{urlencode({'patient': p('audit patient filter (reflected)')})}",
                            f"/calendar?view=day&date={world.dosing_day}"],
        "xther": shared + clinical + [f"/availability/{i['ther']}", f"/notes/{i['note_draft']}", f"/notes/{i['note_signed']}/process"],
        "xpres": shared + clinical + ["/prescriber/", "/rems/"],
    }


def report_preview(world: World, p: Payloads) -> tuple[str, dict[str, str]]:
    """The report preview (a POST): the course's coordination page and what to type into its report form."""
    return (f"/courses/{world.ids['course']}/coordination",
            {"recipient": str(world.ids["pres"]), "questions": p("report preview questions (reflected)"),
             "recommendations": p("report preview recommendations (reflected)")})


def visit(browser, url: str, user: str, paths: list[str], *, bypass_csp: bool, tally: Tally,
          form_room: str | None, preview: tuple[str, dict[str, str]] | None = None) -> None:
    context = browser.new_context(base_url=url, bypass_csp=bypass_csp, viewport=DESKTOP)
    context.set_default_timeout(DEFAULT_TIMEOUT_MS)
    try:
        context.expose_function("__xss", lambda *args: tally.executions.append((user, args)))
        context.expose_function("__cspViolation", lambda what: tally.violations.append((user, what)))
        context.add_init_script(INIT_SCRIPT)
        page = context.new_page()
        current = {"path": ""}
        page.on("dialog", lambda d: (tally.dialogs.append((user, current["path"], d.message)), d.dismiss()))
        sign_in(page, user, PASSWORD)
        if form_room:  # one value typed into a real form in Chromium: the flash message repeats it
            page.goto("/rooms/")
            page.get_by_label("Room name").fill(form_room)
            page.get_by_role("button", name="Add").click()
            page.wait_for_load_state("load")
            _inspect(page, "/rooms/ (after the form)", tally)
        if preview:  # typed into the report form and previewed, as the therapist does
            course_page, values = preview
            page.goto(course_page)
            form = page.locator("form", has=page.get_by_role("button", name="Preview"))
            form.locator("[name=recipient]").select_option(values["recipient"])
            form.locator("[name=questions]").fill(values["questions"])
            form.locator("[name=recommendations]").fill(values["recommendations"])
            form.get_by_role("button", name="Preview").click()
            page.wait_for_load_state("load")
            _inspect(page, f"{course_page} (report preview)", tally)
        for path in paths:
            current["path"] = path
            response = page.goto(path)
            assert response is not None and response.status == 200, (user, path, response and response.status)
            _inspect(page, path, tally)
        page.wait_for_timeout(100)  # exposed-function calls arrive asynchronously
    finally:
        context.close()


def _inspect(page, path: str, tally: Tally) -> None:
    page.wait_for_load_state("load")
    tally.visits += 1
    tally.injected += [(path, found) for found in page.evaluate(INJECTED)]
    tally.seen += "\n" + folded(page.evaluate(PAGE_TEXT))


def pdf_text(response) -> str:
    assert response.status_code == 200 and response.mimetype == "application/pdf"
    reader = PdfReader(BytesIO(response.data))
    return "".join(page.extract_text() for page in reader.pages)


def check_pdfs(world: World, p: Payloads) -> int:
    """The report (header running elements included) and the REMS form carry payloads as text."""
    ther, pres = world.signed_in("xther"), world.signed_in("xpres")
    report = re.sub(r"\s+", "", pdf_text(ther.client.get(f"/reports/{world.ids['report']}.pdf")))
    wanted = ["clinic name (setting)", "patient given name", "patient family name", "course indication",
              "protocol name", "report questions", "report recommendations", "adverse event type",
              "adverse event action taken", "free theme", "integration insights", "action step what",
              "action step how often"]
    missing = [name for name in wanted if re.sub(r"\s+", "", p.fields[name]) not in report]
    assert not missing, f"not in the report PDF as literal text: {missing}"
    # The running header repeats the patient's name on every page, besides the body's one.
    assert report.count(re.sub(r"\s+", "", p.fields["patient family name"])) >= 2
    rems = re.sub(r"\s+", "", pdf_text(pres.client.get(f"/dosing/{world.ids['dosing']}/rems.pdf")))
    wanted_rems = ["lot number", "concomitant sedating medications", "patient family name"]
    missing = [name for name in wanted_rems if re.sub(r"\s+", "", p.fields[name]) not in rems]
    assert not missing, f"not in the REMS PDF as literal text: {missing}"
    return len(wanted) + len(wanted_rems)


def run_world(chromium_browser, browser_databases, tmp_path, shift: int) -> tuple[Payloads, Tally, Tally, int]:
    p = Payloads(shift=shift)
    app = live_app(browser_databases, tmp_path, CLINIC_NAME=p("clinic name (setting)"),
                   PROTOCOLS_DIR=str(protocols_dir(tmp_path, p)))
    with serving(app) as live:
        url = live.url
        world = World(live, p).build()
        plan = pages(world, p)
        normal, bypassed = Tally(), Tally()
        for bypass, tally in ((False, normal), (True, bypassed)):
            for user, paths in plan.items():
                room = p(f"room name (typed in Chromium, {'CSP bypassed' if bypass else 'CSP'})") \
                    if user == "xadmin" else None
                visit(chromium_browser, url, user, paths, bypass_csp=bypass, tally=tally, form_room=room,
                      preview=report_preview(world, p) if user == "xther" else None)
        pdf_checks = check_pdfs(world, p)
        stored = world.stored_not_shown()
    assert stored == {name: p.fields[name] for name in stored}, "a value meant to be stored was not"
    return p, normal, bypassed, pdf_checks


def test_no_payload_runs_on_any_page(chromium_browser, browser_databases, tmp_path_factory, figures):
    assert suite_chromium().exists()
    shifts = range(sized(1, len(PAYLOADS)))  # default: each field one payload; large: every payload
    totals, pairs, fields, pdf_checks = (Tally(), Tally()), 0, set(), 0
    for shift in shifts:
        p, normal, bypassed, checks = run_world(chromium_browser, browser_databases,
                                                tmp_path_factory.mktemp(f"xss-{shift}"), shift)
        found = {mode: {"executions": t.executions, "dialogs": t.dialogs, "injected markup": t.injected,
                        "CSP violations (escaping failed, the policy stopped it)": t.violations}
                 for mode, t in (("with CSP", normal), ("CSP bypassed", bypassed))}
        counts = {mode: {what: len(items) for what, items in kinds.items()} for mode, kinds in found.items()}
        assert not any(any(kinds.values()) for kinds in found.values()), f"{counts}\n{found}"
        for total, tally in zip(totals, (normal, bypassed)):
            total.visits += tally.visits
        seen = normal.seen + bypassed.seen
        shown = {name: value for name, value in p.fields.items() if name not in NEVER_SHOWN}
        unseen = [name for name, value in shown.items()
                  if folded(value) not in seen and name not in PDF_ONLY + NOT_DISPLAYED]
        assert not unseen, f"stored but never seen as literal text on any page: {unseen}"
        leaked = [name for name in NEVER_SHOWN if p.fields[name] in seen]
        assert not leaked, f"an imported calendar's text is shown though only times are kept: {leaked}"
        pairs += len(p.fields)
        fields |= set(p.fields)
        pdf_checks += checks
    figures.record(SUITE, "with CSP", f"{len(fields)} fields × {pairs // len(fields)} of {len(PAYLOADS)} payloads "
                                      f"each ({pairs} stored payload-field pairs), {totals[0].visits} page "
                                      f"visits, 0 executions")
    figures.record(SUITE, "with CSP bypassed", f"{totals[1].visits} page visits, 0 executions")
    figures.record(SUITE, "PDF text", f"{pdf_checks} payloads found verbatim in report and REMS PDFs")


#: fields no HTML page shows: the stored report's text goes only into its PDF
PDF_ONLY = ("report questions", "report recommendations")
#: stored (read back from the database by the world) but shown on no page today: a safety alert's
#: acknowledgement (an appointment's history is shown on its page, opened from the calendar)
NOT_DISPLAYED = ("safety alert acknowledgement",)
