"""No unreviewed way around Jinja's autoescaping (OWASP ASVS 5.0 V3.2: context-aware output encoding).

Every construct that turns escaping off or builds markup by hand is listed below with the exact
line and why it is safe. The scan fails on any use missing from the list, and on any list entry
whose line no longer exists (a stale review is no review). It also checks that every template
really is autoescaped: Flask escapes only by file extension, so a `.txt` or `.ics` template
would render user text raw.
"""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from flask import render_template

from ketamine_integration import create_app
from tests.databases import app_settings

ROOT = Path(__file__).resolve().parents[2]
SCANNED = (ROOT / "templates", ROOT / "ketamine_integration")
SUITE = "No unreviewed |safe or Markup"

#: (path from the project root, the exact line with surrounding spaces stripped) -> why it is safe.
#: No template or module turns escaping off or builds markup from strings today; the one HTML
#: response made outside render_template() is reviewed here.
REVIEWED: dict[tuple[str, str], str] = {
    ("ketamine_integration/coordination/views.py",
     'response = Response(render_report_html(data, for_pdf=False, actions=actions), mimetype="text/html")'):
        "the body is coordination/report.html rendered by render_template() in the app's autoescaping "
        "environment (the preview's actions are URLs from url_for() and the typed text, autoescaped there too); "
        "the view wraps it only to loosen style-src for the report's own print stylesheet",
    ("ketamine_integration/mfa/services.py", "from markupsafe import Markup"):
        "imported only for the enrolment QR code below",
    ("ketamine_integration/mfa/services.py", "return Markup(svg)"):
        "segno draws the SVG from the QR module matrix: only <svg>, <g> and <path> with numeric path data "
        "and fixed colours; no text of the URI, username or secret is copied into it (test_mfa.py checks "
        "it carries no style= and no text)",
}

#: constructs that bypass or undo escaping, or that escape by hand where autoescape already does
#: (double escaping, or `|e` mistaken for JavaScript/URL encoding)
TEMPLATE_RISKS = {
    "|safe filter": re.compile(r"\|\s*safe\b"),
    "{% filter safe %} block": re.compile(r"\{%-?\s*filter\s+safe\b"),
    "{% autoescape false %} block": re.compile(r"\{%-?\s*autoescape\s+(false|False)\b"),
    "|e / |escape / |forceescape by hand": re.compile(r"\|\s*(e|escape|forceescape)\b(?!\w)"),
    "Markup in a template": re.compile(r"\bMarkup\b"),
}
PYTHON_RISKS = {
    "Markup(...)": re.compile(r"\bMarkup\s*\("),
    "markupsafe import": re.compile(r"\b(from|import)\s+markupsafe\b"),
    "render_template_string": re.compile(r"\brender_template_string\b"),
    ".unescape(...)": re.compile(r"\.unescape\s*\("),
    "from html import unescape": re.compile(r"\bfrom\s+html\s+import\b.*\bunescape\b"),
    "__html__ (markup by duck typing)": re.compile(r"\b__html__\b"),
    "autoescape switched off": re.compile(r"\bautoescape\s*=\s*(False|None|0)\b"),
    "jinja_env.autoescape replaced": re.compile(r"\bjinja_env\.autoescape\s*="),
    "|safe inside a Python string": re.compile(r"\|\s*safe\b"),
    "HTML response built outside render_template": re.compile(r"mimetype\s*=\s*[\"']text/html"),
}


def findings(path: Path, text: str) -> list[tuple[str, str, str]]:
    """(construct, path, stripped line) for each risky use in one file's text."""
    risks = PYTHON_RISKS if path.suffix == ".py" else TEMPLATE_RISKS
    rel = path.relative_to(ROOT).as_posix() if path.is_absolute() else path.as_posix()
    return [(name, rel, line.strip()) for line in text.splitlines()
            for name, pattern in risks.items() if pattern.search(line)]


def scanned_files() -> list[Path]:
    files = []
    for folder in SCANNED:
        files += [p for p in folder.rglob("*") if p.is_file() and p.suffix in (".py", ".html", ".htm", ".xml",
                                                                               ".txt", ".ics", ".svg", ".j2",
                                                                               ".jinja", ".jinja2")]
    return sorted(files)


@pytest.mark.parametrize("line, flagged", [
    ("{{ note.body|safe }}", True),                                # the classic
    ("{{ note.body | safe }}", True),                              # spaced
    ("{% filter safe %}{{ x }}{% endfilter %}", True),             # block form
    ("{%- autoescape false %}", True),                             # escaping off for a block
    ("{{ name|e }}", True),                                        # double escaping under autoescape
    ("<a onclick=\"go('{{ name|escape }}')\">", True),             # HTML escaping is not JS escaping
    ("{{ value|forceescape }}", True),
    ("{{ p.total }} {{ safety_plan_reviewed }}", False),           # 'safe' inside a name is fine
    ("{{ c.self_harm_thoughts or '—' }}", False),
    ("{{ items|join(', ')|replace('_', ' ') }}", False),           # |replace is not |e
    ("{{ rows|selectattr('x')|list }}", False),                    # |list is not |e
])
def test_the_template_scan_flags_what_it_should(line, flagged):
    assert bool(findings(Path("templates/x.html"), line)) is flagged


@pytest.mark.parametrize("line, flagged", [
    ("return Markup(f'<b>{name}</b>')", True),
    ("from markupsafe import Markup, escape", True),
    ("html = render_template_string(source, **data)", True),
    ("text = html.unescape(raw)", True),
    ("from html import escape, unescape", True),
    ("def __html__(self): return self.raw", True),
    ("env = Environment(autoescape=False)", True),
    ("app.jinja_env.autoescape = lambda name: False", True),
    ("label = '{{ x|safe }}'", True),
    ("return Response(f'<p>{name}</p>', mimetype='text/html')", True),
    ("from flask import render_template", False),
    ("token = secrets.token_urlsafe(32)", False),                # 'safe' in a name is fine
    ("return safe_next(target, default)", False),
])
def test_the_python_scan_flags_what_it_should(line, flagged):
    assert bool(findings(Path("ketamine_integration/x.py"), line)) is flagged


def test_every_use_is_reviewed_and_every_review_is_current(figures):
    uses = [f for path in scanned_files() for f in findings(path, path.read_text(encoding="utf-8"))]
    assert scanned_files(), "nothing was scanned"
    unreviewed = [use for use in uses if (use[1], use[2]) not in REVIEWED]
    stale = [key for key in REVIEWED if key not in {(u[1], u[2]) for u in uses}]
    assert not unreviewed, "unreviewed ways around escaping (review, fix, or list them with a reason): " + \
        "; ".join(f"{path}: {line!r} ({name})" for name, path, line in unreviewed)
    assert not stale, f"reviewed lines that no longer exist (remove them): {stale}"
    assert all(len(reason) > 20 for reason in REVIEWED.values()), "each review says why it is safe"
    reviewed = len(uses) - len(unreviewed)
    figures.record(SUITE, "uses", f"{len(uses)} uses, {reviewed} reviewed, {len(unreviewed)} unreviewed "
                                  f"({len(scanned_files())} files scanned)")


def test_every_template_is_autoescaped(figures):
    """Flask autoescapes by extension: a template whose name does not qualify would render raw."""
    payload = "<script>window.__xss(1)</script>"
    app = create_app({**app_settings("sqlite://"), "CLINIC_NAME": payload})
    names = app.jinja_env.list_templates()
    assert len(names) == len(list((ROOT / "templates").rglob("*.html"))) > 0, "a template that is not .html"
    raw = [n for n in names if not app.jinja_env.autoescape(n)]
    assert not raw, f"templates rendered without escaping: {raw}"
    # And the environment the views use really escapes (base.html shows the clinic's name).
    with app.test_request_context():
        page = render_template("errors/404.html")
    assert payload not in page and "&lt;script&gt;window.__xss(1)&lt;/script&gt;" in page
    figures.record(SUITE, "templates", f"{len(names)} templates, {len(raw)} rendered without autoescape")
