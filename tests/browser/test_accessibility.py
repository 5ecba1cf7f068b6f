"""Accessible by construction (issue 21, point 4): every key page of every role (key_pages.py)
passes axe-core in Chromium and the W3C Nu HTML checker, and fits a 375 px wide screen.

axe-core: no violations, and none of the "needs review" results that mean a control may lack
its name or a label may name another form's field (axe lists most of those only as needing
review; its deprecated duplicate-id rules are switched back on for this). At 375 px nothing in
`main` may sit out of sight though the page itself fits: no box scrolling sideways, no control past
the screen's edge, no chart text under 11 px. The Nu checker reads the
served HTML of the same pages, all in one run of vnu.jar. Both are npm packages, installed by
`make test` (`make a11y-deps`) into .cache/a11y; each check first proves on a canary page that it
reports what it is run to catch.
"""
from __future__ import annotations

import json
import shutil
import subprocess
from collections import Counter
from pathlib import Path

import pytest

from tests.browser.conftest import DEFAULT_TIMEOUT_MS, DESKTOP
from tests.browser.key_pages import ROLES, auth_for, demo_clinic, open_key_page, pages_for, sign_in_role, slug
from tests.browser.layout import page_width
from tests.conftest import IN_CI

NODE_MODULES = Path(__file__).resolve().parents[2] / ".cache" / "a11y" / "node_modules"
AXE = NODE_MODULES / "axe-core" / "axe.min.js"
VNU = NODE_MODULES / "vnu-jar" / "build" / "dist" / "vnu.jar"
#: "needs review" results that fail a page: a control whose name may be missing or taken from
#: another field
REVIEW_FAILS = frozenset({
    "duplicate-id", "duplicate-id-active", "duplicate-id-aria", "label", "label-title-only",
    "label-content-name-mismatch", "form-field-multiple-labels", "aria-input-field-name",
    "aria-toggle-field-name", "select-name", "input-button-name", "button-name", "input-image-alt"})
AXE_RUN = """async () => {
  const r = await axe.run(document, {
    rules: {'duplicate-id': {enabled: true}, 'duplicate-id-active': {enabled: true}},
    resultTypes: ['violations', 'incomplete']});
  const brief = items => items.map(i => ({id: i.id, help: i.help,
      nodes: i.nodes.map(n => n.target.join(' ') + (n.any[0] && n.any[0].message ? ': ' + n.any[0].message : ''))}));
  return {violations: brief(r.violations), incomplete: brief(r.incomplete)};
}"""
#: what the checks exist to catch: two fields sharing an id (the label names the first), two
#: paragraphs sharing one, a select with no label; a check that did not report them would pass
#: every page and prove nothing
CANARY = """<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Canary</title></head>
<body><main><h1>Canary</h1><p id="twice">One</p><p id="twice">Two</p><form><label for="room">Room</label>
<input id="room" name="room"><input id="room" name="minutes"><select name="clinician"><option>Ada</option></select>
</form></main></body></html>"""
#: one short run: the C1 compiler alone (C2's optimising never pays back in seconds; 4.7 s of CPU
#: instead of 11 for the demo's pages), one GC thread, and the deeper stack the checker's schema
#: then needs (it overflows the default)
JVM = ("-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC", "-Xss4m")
PHONE = {"width": 375, "height": 800}
#: what a page hides on a phone though the page itself fits: inside `main`, a box that scrolls
#: sideways (a table or a drawing past its frame, whose far columns a reader never sees), a
#: visible control whose box lies outside the screen's width, and a drawing's text shrunk below
#: 11 px; each named by a selector (and a control by its words)
HIDDEN_ON_A_PHONE = """(width) => {
  const main = document.querySelector('main');
  if (!main) return [];
  const name = el => {
    const parts = [];
    for (let e = el; e && e !== main.parentElement; e = e.parentElement) {
      let part = e.localName;
      if (e.id) { parts.unshift(part + '#' + e.id); break; }
      const cls = [...e.classList].filter(c => !/^tg-[a-z]?\\d/.test(c)).slice(0, 2);
      if (cls.length) part += '.' + cls.join('.');
      parts.unshift(part);
    }
    return parts.join(' > ');
  };
  const words = el => (el.getAttribute('aria-label') || el.innerText || el.value || el.name || '')
      .trim().replace(/\\s+/g, ' ').slice(0, 40);
  const shown = el => el.getClientRects().length > 0 && getComputedStyle(el).visibility !== 'hidden';
  const found = [];
  for (const el of [main, ...main.querySelectorAll('*')]) {
    const style = getComputedStyle(el);
    if (['auto', 'scroll'].includes(style.overflowX) && el.scrollWidth > el.clientWidth + 1)
      found.push(['scrolls sideways', `${name(el)} (${el.scrollWidth} px of content in ${el.clientWidth})`]);
  }
  for (const el of main.querySelectorAll('a[href], button, input:not([type=hidden]), select, textarea, summary')) {
    if (!shown(el)) continue;
    const box = el.getBoundingClientRect(), left = box.left + window.scrollX, right = box.right + window.scrollX;
    if (box.width > 1 && (left < -1 || right > width + 1))
      found.push(['control off-screen', `${name(el)} "${words(el)}" at x ${Math.round(left)}..${Math.round(right)}`]);
  }
  for (const svg of main.querySelectorAll('svg')) {
    const small = [...svg.querySelectorAll('text')].filter(t => shown(t) && t.textContent.trim()).map(t => {
      const m = t.getScreenCTM();
      return [parseFloat(getComputedStyle(t).fontSize) * Math.hypot(m.a, m.b), t.textContent.trim()];
    }).filter(([px]) => px < 10.95).sort((a, b) => a[0] - b[0]);
    if (small.length)
      found.push(['chart text under 11 px',
                  `${name(svg)}: ${small.length} labels, "${small[0][1].slice(0, 30)}" ${small[0][0].toFixed(1)} px`]);
  }
  return found;
}"""


def _require(tool: Path, what: str, runner: str | None = None) -> None:
    """Skip (fail in CI) when a checker is not installed."""
    reason = None
    if runner and shutil.which(runner) is None:
        reason = f"{what} needs {runner}, which is not installed"
    elif not tool.exists():
        reason = f"{what} is not installed at {tool}; `make a11y-deps` (part of `make test`) installs it with npm"
    if reason:
        if IN_CI:
            pytest.fail(f"CI must run the accessibility checks: {reason}")
        pytest.skip(reason)


def _tally(kinds: Counter) -> str:
    """How many of each kind, most first: the summary above the details."""
    return "".join(f"  {n} × {kind}\n" for kind, n in kinds.most_common())


@pytest.fixture(scope="module")
def demo(browser_databases, tmp_path_factory):
    with demo_clinic(browser_databases, tmp_path_factory.mktemp("a11y-demo")) as clinic:
        yield clinic


def test_axe_reports_what_it_is_run_to_catch(chromium_browser):
    _require(AXE, "axe-core")
    context = chromium_browser.new_context()
    try:
        page = context.new_page()
        page.set_content(CANARY)
        page.add_script_tag(path=str(AXE))
        found = page.evaluate(AXE_RUN)
    finally:
        context.close()
    reported = {item["id"] for item in found["violations"] + found["incomplete"]}
    assert {"duplicate-id", "duplicate-id-aria", "select-name"} <= reported & REVIEW_FAILS, found


#: what the phone check exists to catch, in a page that itself fits 375 px: a table scrolling in its
#: box, a button past the screen's right edge, a chart shrunk to 6 px text
PHONE_CANARY = """<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Canary</title>
<meta name="viewport" content="width=device-width"></head><body><main>
<div style="overflow-x:auto"><table><tr><td style="white-space:nowrap">A cell far wider than any phone's screen,
and the one after it out of sight</td><td>Item 9</td></tr></table></div>
<div style="overflow:hidden"><div style="width:600px"><button style="margin-left:450px">Revoke</button></div></div>
<svg viewBox="0 0 640 100" width="640" style="max-width:100%"><text x="0" y="50" font-size="12">Dec 03</text></svg>
</main></body></html>"""


def test_the_phone_check_reports_what_it_is_run_to_catch(chromium_browser):
    context = chromium_browser.new_context(viewport=PHONE)
    try:
        page = context.new_page()
        page.set_content(PHONE_CANARY)
        assert page_width(page) <= PHONE["width"]  # the page fits
        found = page.evaluate(HIDDEN_ON_A_PHONE, PHONE["width"])
    finally:
        context.close()
    assert sorted(kind for kind, _what in found) == [
        "chart text under 11 px", "control off-screen", "scrolls sideways"], found


@pytest.mark.parametrize("role", ROLES)
def test_every_key_page_passes_axe_and_fits_a_phone(role, chromium_browser, demo):
    """All of a role's key pages in one browser context; every problem of every page reported."""
    _require(AXE, "axe-core")
    context = chromium_browser.new_context(viewport=DESKTOP, base_url=demo.live.url)
    context.set_default_timeout(DEFAULT_TIMEOUT_MS)
    context.add_init_script(path=str(AXE))  # in every page, before its own scripts (the CSP allows no inline one)
    problems, kinds, checked = [], Counter(), 0
    try:
        page = context.new_page()
        sign_in_role(page, demo, role)
        ids = demo.ids[role]
        for key in pages_for(role):
            page.set_viewport_size(DESKTOP)
            response = open_key_page(page, key, ids)
            where = f"{role} · {key.label} ({page.url.removeprefix(demo.live.url)})"
            if response is None or response.status != key.status:
                kinds["wrong status"] += 1
                problems.append(f"{where}: answered {response and response.status}, expected {key.status}")
                continue
            found = page.evaluate(AXE_RUN)
            for item in found["violations"]:
                kinds[f"violation {item['id']}"] += len(item["nodes"])
                problems.append(f"{where}: axe violation {item['id']} ({item['help']}): {item['nodes']}")
            for item in found["incomplete"]:
                if item["id"] in REVIEW_FAILS:
                    kinds[f"needs review {item['id']}"] += len(item["nodes"])
                    problems.append(f"{where}: axe needs review {item['id']} ({item['help']}): {item['nodes']}")
            page.set_viewport_size(PHONE)  # the same page laid out again at a phone's width
            width = page_width(page)
            if width > PHONE["width"]:
                kinds["wider than 375 px"] += 1
                problems.append(f"{where}: {width} px wide at a 375 px viewport (scrolls sideways)")
            for kind, what in page.evaluate(HIDDEN_ON_A_PHONE, PHONE["width"]):
                kinds[kind] += 1
                problems.append(f"{where}: {kind} at 375 px: {what}")
            checked += 1
    finally:
        context.close()
    assert checked, f"no key page for {role}"
    assert not problems, f"{len(problems)} problems on {role}'s key pages:\n{_tally(kinds)}" + "\n".join(problems)


def test_every_key_page_passes_the_nu_html_checker(demo, tmp_path):
    """The served HTML of every role's key pages, checked by one run of vnu.jar."""
    _require(VNU, "The Nu HTML checker", runner="java")
    (tmp_path / "canary.html").write_text(CANARY)
    files, problems = {}, []
    for role in ROLES:
        auth = auth_for(demo, role)
        ids = demo.ids[role]
        for key in pages_for(role):
            url, data = key.post(ids) if key.post else (key.url(ids), None)
            response = auth.post(url, data) if data is not None else auth.client.get(url)
            if response.status_code != key.status:
                problems.append(f"{role} · {key.label} ({url}): answered {response.status_code}")
                continue
            name = f"{slug(role, key)}.html"
            (tmp_path / name).write_bytes(response.data)
            files[name] = f"{role} · {key.label} ({url})"
    run = subprocess.run(["java", *JVM, "-jar", str(VNU), "--errors-only", "--format", "json",
                          *(str(tmp_path / name) for name in ["canary.html", *sorted(files)])],
                         capture_output=True, text=True, timeout=300)
    kinds, canary = Counter(), []
    for m in json.loads(run.stderr or run.stdout)["messages"]:
        name = m.get("url", "").rsplit("/", 1)[-1]
        if name == "canary.html":
            canary.append(m["message"])
            continue
        kinds[m["message"]] += 1
        problems.append(f"{files.get(name, name)}: line {m.get('lastLine')}: {m['message']} "
                        f"[{' '.join(m.get('extract', '').split())}]")
    assert any("Duplicate ID" in message for message in canary), f"the checker missed the canary's repeated id: {canary}"
    assert len(files) >= len(ROLES)
    assert not problems, f"{len(problems)} Nu checker errors in {len(files)} pages:\n{_tally(kinds)}" \
        + "\n".join(problems)
