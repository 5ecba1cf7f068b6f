"""Prescriber coordination: releases, notes with acknowledgement, and the report (HTML and PDF)
carrying only what the release permits, never process notes, including after a revocation."""
import hashlib
import re
from html import unescape
from datetime import date, timedelta
from io import BytesIO

import pytest
from pypdf import PdfReader
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError

from ketamine_integration.coordination.models import CATEGORIES, CoordinationNote, CoordinationReport
from ketamine_integration.extensions import db
from tests.clinic_day import follows_the_day
from tests.conftest import Auth, page_text, todays_world
from tests.integration.test_dosing import _sign, local
from tests.integration.test_notes import _phq9, _write_and_sign

TODAY = follows_the_day(globals(), "TODAY", date.today)
PROCESS_SECRET = "Countertransference: she reminds me of my sister"


@pytest.fixture
def team(make):
    """A course with a signed infusion, a signed note (theme, insight, step), a process note,
    PHQ-9s with an open item-9 alert, and no release of information yet: the fixture of a dozen files.
    The clinicians sign in a client of their own (the test's client is untouched). Built once per day, worker
    and engine (reused_world) and loaded from its snapshot after: a file copy on SQLite, the rows written back
    by COPY on PostgreSQL (a fraction of the forms' cost)."""
    return todays_world(make.app, "coordination_team", lambda: _team(make))


def _team(make) -> dict:
    auth = Auth(make.app, make.app.test_client())
    ids = {"therapist": make.user("therapist", username="ther", full_name="Hazel Quint"),
           "prescriber": make.user("prescriber", username="pres", full_name="Orrin Vale"),
           "outsider": make.user("prescriber", username="elsewhere", full_name="Pia Far"),
           "staff": make.user("staff", username="desk")}
    ids["patient"] = make.patient(given_name="Wren", family_name="O'Coordinated")   # a quote in the header
    ids["course"] = make.course(ids["patient"], ids["therapist"], ids["prescriber"], phase="experience")
    ids["theme"] = make.run(lambda: _add_theme("Safety in the body"))
    [session] = make.dosing_plan(ids["course"], first_start=local(3), days_between=2, count=1)
    auth.sign_in("pres")
    _sign(make, auth, session, ids["prescriber"], **{"adverse_events-0-event_type": "nausea",
                                                      "adverse_events-0-severity": "mild"})
    auth.logout()
    auth.sign_in("ther")
    note = _write_and_sign(make, auth, ids, insights="Rest is something I am allowed")
    assert auth.post(f"/notes/{note}/process", {"body": PROCESS_SECRET}).status_code == 302
    _phq9(auth, ids["course"], item9="0", base="2", when=TODAY - timedelta(days=10))
    _phq9(auth, ids["course"], item9="1", base="1")
    auth.logout()
    return ids


def _add_theme(name):
    from ketamine_integration.notes.models import Theme
    theme = Theme(name=name)
    db.session.add(theme)
    db.session.flush()
    return theme.id


def _release(auth, team, categories, **extra):
    data = {"recipient": str(team["prescriber"]), "recipient_name": "", "categories": categories,
            "purpose": "Coordination of ketamine treatment", "effective_on": TODAY.isoformat(), "expires_on": ""}
    data.update(extra)
    return auth.post(f"/patients/{team['patient']}/releases", data)


def _generate(auth, team, **extra):
    return auth.post(f"/courses/{team['course']}/reports", {
        "recipient": str(team["prescriber"]), "questions": "Is a booster worth discussing?",
        "recommendations": "Keep the 2-day spacing.", **extra})


def _latest_pdf_text(make, client):
    report = make.query(lambda: db.session.scalars(select(CoordinationReport)
                                                   .order_by(CoordinationReport.id.desc())).first())
    response = client.get(f"/reports/{report.id}.pdf")
    assert response.status_code == 200 and response.mimetype == "application/pdf"
    assert hashlib.sha256(response.data).hexdigest() == report.content_hash     # exactly as stored
    return " ".join(" ".join((p.extract_text() or "") for p in PdfReader(BytesIO(response.data)).pages).split())


def test_no_report_before_a_release_but_the_care_team_still_coordinates(team, make, auth):
    auth.sign_in("ther")
    refused = _generate(auth, team)
    assert refused.status_code == 422 and "No release of information lets" in page_text(refused)
    # the patient's own prescriber is on the care team: coordination for treatment needs no release
    note = auth.post(f"/courses/{team['course']}/coordination", {
        "recipient": str(team["prescriber"]), "priority": "urgent", "category": "safety", "body": "Item 9 was 1."})
    assert note.status_code == 302
    assert make.query(lambda: [n.body for n in db.session.scalars(select(CoordinationNote))]) == ["Item 9 was 1."]


def test_the_report_carries_only_permitted_categories_and_never_process_notes(team, make, auth, client):
    auth.sign_in("desk")
    assert _release(auth, team, ["dosing", "measures", "attendance"]).status_code == 302
    auth.logout()
    auth.sign_in("ther")
    screened = auth.post(f"/courses/{team['course']}/measures/cssrs", {
        "cssrs-administered_on": TODAY.isoformat(), "cssrs-item1": "1", "cssrs-item2": "0", "cssrs-item6": "0"})
    assert screened.status_code == 302
    preview = auth.post(f"/courses/{team['course']}/report-preview", {"recipient": str(team["prescriber"])})
    assert preview.status_code == 200 and "Dosing history" in page_text(preview)
    # the route as the record's vocabulary writes it ("IV"), not its stored key ("iv")
    assert "ketamine, IV, 35.00 mg" in page_text(preview) and ", iv," not in page_text(preview)
    # item 9 of each PHQ-9 has its column; the screener shows its risk level, not a total
    assert "Item 9 (thoughts of self-harm)" in page_text(preview) and "1 (alert)" in page_text(preview)
    screener = page_text(preview).split("C-SSRS screener", 1)[1]
    assert "Risk level" in screener and "Low risk" in screener and "Total" not in screener.split("Integration")[0]
    assert _generate(auth, team).status_code == 302
    pdf = _latest_pdf_text(make, client)
    for required in ("Harbor Light", "Wren O'Coordinated", "MRN", "Dosing history", "nausea (mild)",
                     "Measures", "PHQ-9", "Integration attendance and window adherence",
                     "Is a booster worth discussing?", "Keep the 2-day spacing.", "Confidential", "Page 1 of",
                     "Coordination report — Wren O'Coordinated, MRN"):   # the running header
        assert required in pdf, required
    for absent in ("Safety in the body", "Rest is something I am allowed", "Walk by the river",
                   "Safety history", PROCESS_SECRET, "Countertransference",
                   "IV ketamine", "Treatment-resistant depression"):   # the treatment summary was not permitted
        assert absent not in pdf, absent
    withheld = ("Not permitted, so not included: Treatment summary: indication, protocol and course phase, "
                f"{CATEGORIES['dosing_notes']}, Themes and insights summary, Action-plan progress, Safety alerts")
    assert "".join(withheld.split()) in "".join(pdf.split())  # where the PDF's lines break is layout


@pytest.mark.both_engines  # database triggers refuse raw SQL
def test_a_full_release_adds_every_section_but_still_no_process_notes_and_revocation_stops_it(team, make, auth,
                                                                                            client):
    auth.sign_in("desk")
    _release(auth, team, ["dosing", "measures", "attendance", "themes", "action_plan", "safety"])
    auth.logout()
    auth.sign_in("ther")
    assert _generate(auth, team).status_code == 302
    pdf = _latest_pdf_text(make, client)
    for required in ("Themes and insights", "Safety in the body", "Rest is something I am allowed",
                     "Action-plan progress", "Walk by the river", "Safety history"):
        assert required in pdf, required
    assert PROCESS_SECRET not in pdf and "Countertransference" not in pdf
    first = make.query(lambda: db.session.scalar(select(CoordinationReport.id)))
    # the patient revokes: nothing more goes out, and what was sent stays exactly as it was
    release = make.query(lambda: db.session.scalar(select(__import__(
        "ketamine_integration.coordination.models", fromlist=["x"]).ReleaseOfInformation.id)))
    auth.logout()
    auth.sign_in("desk")
    assert auth.post(f"/releases/{release}/revoke", {"revoked_on": TODAY.isoformat()}).status_code == 302
    auth.logout()
    auth.sign_in("ther")
    refused = _generate(auth, team)
    assert refused.status_code == 422 and "No release of information" in page_text(refused)
    assert auth.post(f"/courses/{team['course']}/report-preview",
                     {"recipient": str(team["prescriber"])}).status_code == 422   # the page again, text kept
    assert client.get(f"/reports/{first}.pdf").status_code == 200          # downloadable later, as sent
    with pytest.raises(DBAPIError):
        make.run(lambda: db.session.execute(text("UPDATE coordination_reports SET content_hash = 'x'")))


@pytest.mark.both_engines  # database triggers refuse raw SQL
def test_an_urgent_note_heads_the_prescribers_worklist_until_acknowledged(team, make, auth, client):
    auth.sign_in("desk")
    _release(auth, team, ["safety", "measures"])
    auth.logout()
    auth.sign_in("ther")
    assert auth.post(f"/courses/{team['course']}/coordination", {
        "recipient": str(team["prescriber"]), "priority": "routine", "category": "response",
        "body": "PHQ-9 down from 18 to 9."}).status_code == 302
    assert auth.post(f"/courses/{team['course']}/coordination", {
        "recipient": str(team["prescriber"]), "priority": "urgent", "category": "safety",
        "body": "Item 9 answered 1 today; safety plan reviewed."}).status_code == 302
    auth.logout()
    auth.sign_in("pres")
    worklist = page_text(client.get("/prescriber/"))
    assert worklist.index("Urgent · Wren O'Coordinated") < worklist.index("PHQ-9 down from 18 to 9.")
    assert "Open safety alerts" in worklist and "PHQ-9 item 9 (thoughts of self-harm) answered 1" in worklist
    urgent = make.query(lambda: db.session.scalar(select(CoordinationNote.id).where(
        CoordinationNote.priority == "urgent")))
    assert auth.post(f"/coordination/{urgent}/acknowledge", {"reply": "Seen; I will call her tonight.",
                                                             "next_page": "worklist"}).status_code == 302
    again = auth.post(f"/coordination/{urgent}/acknowledge", {"reply": "twice"}, follow_redirects=True)
    assert "acknowledged already" in page_text(again)
    assert "Item 9 answered 1 today" not in page_text(client.get("/prescriber/"))
    thread = page_text(client.get(f"/courses/{team['course']}/coordination"))
    assert "Seen; I will call her tonight." in thread
    with pytest.raises(DBAPIError):
        make.run(lambda: db.session.execute(text("UPDATE coordination_notes SET body = 'edited'")))
    auth.logout()
    auth.sign_in("ther")                                           # only the recipient acknowledges
    routine = make.query(lambda: db.session.scalar(select(CoordinationNote.id).where(
        CoordinationNote.priority == "routine")))
    assert "Only the note's recipient" in page_text(auth.post(f"/coordination/{routine}/acknowledge", {},
                                                              follow_redirects=True))


def test_outsiders_see_no_report_and_no_worklist_rows(team, make, auth, client):
    auth.sign_in("desk")
    _release(auth, team, ["dosing"])
    auth.logout()
    auth.sign_in("ther")
    _generate(auth, team)
    report = make.query(lambda: db.session.scalar(select(CoordinationReport.id)))
    auth.logout()
    auth.sign_in("elsewhere")
    assert client.get(f"/reports/{report}.pdf").status_code == 403
    assert client.get(f"/courses/{team['course']}/coordination").status_code == 403
    assert "Wren" not in page_text(client.get("/prescriber/"))
    auth.logout()
    auth.sign_in("desk")
    assert client.get(f"/reports/{report}.pdf").status_code == 403          # staff: not clinical


@pytest.mark.parametrize("data, message", [
    ({"categories": []}, "Choose at least one category"),
    ({"recipient": "0", "recipient_name": ""}, "Choose a prescriber, or name the outside clinic"),
    ({"expires_on": (TODAY - timedelta(days=1)).isoformat()}, "The release expires after it takes effect."),
    ({"categories": ["process_notes"]}, "is not a valid choice"),
])
def test_bad_releases_are_refused_on_their_field(team, make, auth, data, message):
    auth.sign_in("desk")
    data = dict(data)
    response = _release(auth, team, data.pop("categories", ["dosing"]), **data)
    assert response.status_code == 422 and message in page_text(response)
    assert re.search(r"None recorded", page_text(response))


def test_a_correction_is_a_follow_up_linked_to_the_note(team, make, auth, client):
    auth.sign_in("desk")
    _release(auth, team, ["measures"])
    auth.logout()
    auth.sign_in("ther")
    assert auth.post(f"/courses/{team['course']}/coordination", {
        "recipient": str(team["prescriber"]), "priority": "routine", "category": "response",
        "body": "PHQ-9 down from 18 to 8."}).status_code == 302
    first = make.query(lambda: db.session.scalar(select(CoordinationNote.id)))
    assert auth.post(f"/courses/{team['course']}/coordination", {
        "recipient": str(team["prescriber"]), "priority": "routine", "category": "response", "follows": str(first),
        "body": "Correction: down to 9, not 8."}).status_code == 302
    for forged in ("abc", "99999999999", "999999"):
        assert auth.post(f"/courses/{team['course']}/coordination", {
            "recipient": str(team["prescriber"]), "priority": "routine", "category": "response", "follows": forged,
            "body": "x" * 5}).status_code == 400
    notes = make.query(lambda: db.session.scalars(select(CoordinationNote).order_by(CoordinationNote.id)).all())
    assert [(n.body, n.follows_id) for n in notes] == [("PHQ-9 down from 18 to 8.", None),
                                                       ("Correction: down to 9, not 8.", first)]
    assert "Follow-up to the note of" in page_text(client.get(f"/courses/{team['course']}/coordination"))


def test_the_preview_leads_back_to_the_coordination_page_with_the_text_kept(team, make, auth, client):
    """Issue 21, point 5: the preview replaced the page with no way back but the browser's button (which,
    the pages being no-store, lost what was typed). It opens with a way back that posts the text again."""
    auth.sign_in("desk")
    assert _release(auth, team, ["dosing"]).status_code == 302
    auth.logout()
    auth.sign_in("ther")
    typed = {"recipient": str(team["prescriber"]), "questions": "Is a booster <worth> discussing?\nSecond line",
             "recommendations": 'Keep the "2-day" spacing.'}
    preview = auth.post(f"/courses/{team['course']}/report-preview", typed)
    html = preview.get_data(as_text=True)
    body = html.split("<body>", 1)[1]
    back = f'action="/courses/{team["course"]}/report-form#report-form"'
    assert body.lstrip().startswith('<nav class="preview-actions" aria-label="Report preview">') and back in body
    assert "← Back to the coordination page" in body and "Generate and store this report" in body
    assert 'value="Is a booster &lt;worth&gt; discussing?\nSecond line"' in body            # escaped, whole
    assert "booster" not in back                                  # the text goes back in the body, never a URL
    # going back: the coordination page, its report form filled in as typed, the note form untouched
    form = {name: unescape(value) for name, value in
            re.findall(r'name="(recipient|questions|recommendations)" value="([^"]*)"', body, re.S)}
    assert form == typed                                                  # what a browser would post back
    again = auth.post(f"/courses/{team['course']}/report-form", form)
    page = again.get_data(as_text=True)
    assert again.status_code == 200 and "<h1>Prescriber coordination</h1>" in page
    report_form = page.split('id="report-form"', 1)[1]
    assert ">\r\nIs a booster &lt;worth&gt; discussing?\nSecond line</textarea>" in report_form
    assert re.search(r">\r\nKeep the (&#34;|&quot;)2-day(&#34;|&quot;) spacing.</textarea>", report_form)
    assert re.search(rf'<option selected value="{team["prescriber"]}">', report_form)
    note_form = page.split('id="report-form"', 1)[0]
    assert "selected" not in note_form.split('id="recipient"', 1)[1].split("</select>", 1)[0]
    # generating straight from the preview stores the report as previewed
    assert auth.post(f"/courses/{team['course']}/reports", form).status_code == 302
    stored = make.query(lambda: db.session.scalars(select(CoordinationReport)).one())
    assert stored.recipient_id == team["prescriber"]
    # the PDF has no preview bar
    assert "Back to the coordination page" not in _latest_pdf_text(make, client)


def test_a_refused_preview_keeps_the_typed_text_on_the_page(team, make, auth, client):
    auth.sign_in("ther")              # no release yet
    refused = auth.post(f"/courses/{team['course']}/report-preview", {
        "recipient": str(team["prescriber"]), "questions": "Typed before the release", "recommendations": ""})
    assert refused.status_code == 422
    assert "No release of information lets this record go to that prescriber today." in page_text(refused)
    assert ">\r\nTyped before the release</textarea>" in refused.get_data(as_text=True)  # as WTForms writes it
