"""Coordination edge cases found in review: header text in the PDF, the SVG chart, who sees what
went to another prescriber, who records and revokes releases, themes of one course, audit."""
from datetime import timedelta

from sqlalchemy import select

from ketamine_integration.coordination.models import CoordinationReport, ReleaseOfInformation
from ketamine_integration.extensions import db
from tests.conftest import page_text
from tests.integration.test_coordination import (TODAY, _add_theme, _generate, _latest_pdf_text,
                                                 _release)
from tests.integration.test_dosing import _sign, form_time, local
from tests.integration.test_notes import _phq9, _write_and_sign


def _team(make, auth, dosings=1, **patient):
    ids = {"therapist": make.user("therapist", username="ther", full_name="Hazel Quint"),
           "prescriber": make.user("prescriber", username="pres", full_name="Orrin Vale"),
           "second": make.user("prescriber", username="pres2", full_name="Bea Second"),
           "staff": make.user("staff", username="desk")}
    ids["patient"] = make.patient(prescribers=[ids["second"]], **patient)
    ids["course"] = make.course(ids["patient"], ids["therapist"], ids["prescriber"], phase="experience")
    ids["theme"] = make.run(lambda: _add_theme("Safety in the body"))
    sessions = make.dosing_plan(ids["course"], first_start=local(3 * dosings), days_between=2, count=dosings)
    auth.sign_in("pres")
    for n, session in enumerate(sessions):
        start = local(3 * dosings - 2 * n, 9)
        _sign(make, auth, session, ids["prescriber"], started_at=form_time(start),
              ended_at=form_time(start + timedelta(minutes=40)), discharged_at=form_time(start + timedelta(minutes=130)))
    auth.logout()
    auth.sign_in("ther")
    _write_and_sign(make, auth, ids, insights="Rest is something I am allowed")
    _phq9(auth, ids["course"], item9="1", base="1")
    auth.logout()
    return ids


# 1. patient names in the PDF running header -------------------------------------------------------

def test_an_apostrophe_in_the_name_is_shown_as_itself_in_the_running_header(make, auth, client):
    team = _team(make, auth, given_name="Siobhan", family_name="O'Brien")
    auth.sign_in("desk")
    _release(auth, team, ["dosing"])
    auth.logout()
    auth.sign_in("ther")
    assert _generate(auth, team).status_code == 302
    pdf = _latest_pdf_text(make, client)
    assert "&#39;" not in pdf and "Coordination report — Siobhan O'Brien, MRN" in pdf, pdf[:300]


def test_a_newline_in_the_name_cannot_inject_css_into_the_pdf(make, auth, client):
    # accepted by the patient form (StringField keeps inner newlines; only strip())
    team = _team(make, auth, given_name="Ann", family_name="X\n;}}.report{display:none}@page{@bottom-left{content:'")
    auth.sign_in("desk")
    _release(auth, team, ["dosing"])
    auth.logout()
    auth.sign_in("ther")
    assert _generate(auth, team).status_code == 302
    pdf = _latest_pdf_text(make, client)
    assert "Patient and course" in pdf and "Confidential" in pdf, pdf[:400]


# 2. a second prescriber on the care team sees what only the other's release permits -------------------

def test_a_prescriber_cannot_see_what_only_another_prescribers_release_permits(make, auth, client):
    team = _team(make, auth)
    auth.sign_in("desk")      # the patient releases themes and safety to Bea Second only
    assert _release(auth, team, ["themes", "safety"], recipient=str(team["second"])).status_code == 302
    auth.logout()
    auth.sign_in("ther")
    assert auth.post(f"/courses/{team['course']}/coordination", {
        "recipient": str(team["second"]), "priority": "urgent", "category": "safety",
        "body": "Item 9 answered 1; please call her."}).status_code == 302
    assert _generate(auth, team, recipient=str(team["second"])).status_code == 302
    report = make.query(lambda: db.session.scalar(select(CoordinationReport.id)))
    auth.logout()
    auth.sign_in("pres")      # Orrin Vale has no release at all
    leaks = []
    preview = auth.post(f"/courses/{team['course']}/report-preview", {"recipient": str(team["second"])})
    if preview.status_code == 200 and "Rest is something I am allowed" in page_text(preview):
        leaks.append("preview addressed to another prescriber")
    if client.get(f"/reports/{report}.pdf").status_code == 200:
        leaks.append("download of another prescriber's report")
    if "please call her" in page_text(client.get(f"/courses/{team['course']}/coordination")):
        leaks.append("note to another prescriber on the course page")
    assert leaks == []


# 3. the prescriber may record a release to himself ------------------------------------------------------

def test_a_prescriber_cannot_grant_himself_a_release(make, auth, client):
    team = _team(make, auth)
    auth.sign_in("pres")
    response = _release(auth, team, ["dosing", "measures", "attendance", "themes", "action_plan", "safety"])
    assert response.status_code in (403, 422), response.status_code


# 4. a release not yet effective (or revoked as of a future date) cannot be revoked from the page -------

def test_a_release_effective_tomorrow_offers_revocation(make, auth, client):
    team = _team(make, auth)
    auth.sign_in("desk")
    _release(auth, team, ["dosing"], effective_on=(TODAY + timedelta(days=1)).isoformat())
    page = client.get(f"/patients/{team['patient']}/releases").get_data(as_text=True)
    assert "/revoke" in page, "no way to revoke a release the patient signed for tomorrow"


def test_a_future_revocation_can_be_brought_forward(make, auth, client):
    team = _team(make, auth)
    auth.sign_in("desk")
    _release(auth, team, ["dosing"])
    release = make.query(lambda: db.session.scalar(select(ReleaseOfInformation.id)))
    auth.post(f"/releases/{release}/revoke", {"revoked_on": (TODAY + timedelta(days=30)).isoformat()})
    auth.post(f"/releases/{release}/revoke", {"revoked_on": TODAY.isoformat()})
    assert make.query(lambda: db.session.get(ReleaseOfInformation, release).revoked_on) == TODAY


# 5. the trend chart's styles never reach WeasyPrint's SVG renderer -------------------------------------

def _pdf_ops(make, client):
    from io import BytesIO
    from pypdf import PdfReader
    report = make.query(lambda: db.session.scalars(select(CoordinationReport)
                                                   .order_by(CoordinationReport.id.desc())).first())
    pdf = client.get(f"/reports/{report.id}.pdf").data
    return "".join(p.get_contents().get_data().decode("latin1") for p in PdfReader(BytesIO(pdf)).pages)


def test_the_pdf_trend_chart_is_stroked_not_a_filled_black_shape(make, auth, client):
    import re
    team = _team(make, auth)
    auth.sign_in("ther")
    _phq9(auth, team["course"], item9="0", base="3", when=TODAY - timedelta(days=10))
    _phq9(auth, team["course"], item9="0", base="2", when=TODAY - timedelta(days=5))
    auth.logout()
    auth.sign_in("desk")
    _release(auth, team, ["measures"])
    auth.logout()
    auth.sign_in("ther")
    assert _generate(auth, team).status_code == 302
    ops = _pdf_ops(make, client)
    # the polyline of 3 points: a moveto and two linetos, then how it is painted
    painted = re.findall(r"[\d.]+ [\d.]+ m\n(?:[\d.]+ [\d.]+ l\n){2,}([SfBb])\n", ops)
    assert painted and set(painted) == {"S"}, painted


# 6. themes of the patient's other courses appear in this course's report --------------------------------

def test_the_report_of_a_course_shows_only_that_courses_themes(make, auth, client):
    from ketamine_integration.accounts.models import User
    from ketamine_integration.courses.models import TreatmentCourse
    from ketamine_integration.courses.services import change_phase
    from ketamine_integration.domain.phases import Phase
    team = _team(make, auth)            # course 1: a signed note with "Safety in the body"

    def finish():
        course = db.session.get(TreatmentCourse, team["course"])
        by = db.session.get(User, team["therapist"])
        for target in ("integration", "maintenance", "completed"):
            change_phase(course, Phase(target), by=by, expected_version=course.version, reason="Test: done.",
                         override=True)
    make.run(finish)
    team["course"] = make.course(team["patient"], team["therapist"], team["prescriber"], phase="experience")
    auth.sign_in("desk")
    _release(auth, team, ["themes"])
    auth.logout()
    auth.sign_in("ther")
    preview = page_text(auth.post(f"/courses/{team['course']}/report-preview",
                                  {"recipient": str(team["prescriber"])}))
    assert "Themes and insights" in preview
    assert "Safety in the body" not in preview, "a theme from the patient's earlier course"


# 7. reports due on the therapist's home page ---------------------------------------------------------------

def test_a_due_report_leaves_the_home_page_once_generated(make, auth, client):
    team = _team(make, auth, dosings=3)
    auth.sign_in("ther")
    home = page_text(client.get("/"))
    assert "Prescriber reports due" in home, home[:1500]
    auth.logout()
    auth.sign_in("desk")
    _release(auth, team, ["dosing"])
    auth.logout()
    auth.sign_in("ther")
    assert _generate(auth, team).status_code == 302
    assert "Prescriber reports due" not in page_text(client.get("/"))


# 8. audit: a refused preview leaves no trace -----------------------------------------------------------------

def test_a_refused_report_preview_is_audited(make, auth, client):
    team = _team(make, auth)
    auth.sign_in("ther")               # no release at all
    assert auth.post(f"/courses/{team['course']}/report-preview",
                     {"recipient": str(team["prescriber"])}).status_code == 422
    assert [r for r in make.audit_rows(patient_id=team["patient"]) if r.action == "report.preview"], \
        "no audit row for the refused preview"


# -- review of the whole change: roles on this patient's team, not clinic-wide -------------------

def test_a_clinician_on_the_team_only_as_prescriber_sees_only_their_own_conversation(make, auth, client):
    """Dee is a therapist elsewhere in the clinic but this patient's prescriber, with no
    release: the page goes by her role on this care team, not her roles in the clinic."""
    dual = make.user("therapist", "prescriber", username="dual", full_name="Dee Dual")
    team = _team(make, auth)

    def join():
        from ketamine_integration.patients.models import CareTeamMember
        db.session.add(CareTeamMember(patient_id=team["patient"], user_id=dual, role="prescriber"))
    make.run(join)
    auth.sign_in("desk")
    assert _release(auth, team, ["themes", "safety"], recipient=str(team["second"])).status_code == 302
    auth.logout()
    auth.sign_in("ther")
    assert auth.post(f"/courses/{team['course']}/coordination", {
        "recipient": str(team["second"]), "priority": "urgent", "category": "safety",
        "body": "Item 9 answered 1; please call her."}).status_code == 302
    assert _generate(auth, team, recipient=str(team["second"])).status_code == 302
    auth.logout()
    auth.sign_in("dual")
    page = client.get(f"/courses/{team['course']}/coordination")
    assert page.status_code == 200 and "please call her" not in page_text(page)
    assert "Generate and store the PDF" not in page_text(page)   # reports are the therapist's to write
    preview = auth.post(f"/courses/{team['course']}/report-preview", {"recipient": str(team["second"])})
    assert preview.status_code == 403
    generate = _generate(auth, team, recipient=str(team["second"]))
    assert generate.status_code == 403
    assert len(make.audit_rows(action="access.denied", user_id=dual)) == 2


def test_a_prescriber_cannot_revoke_a_release(make, auth):
    team = _team(make, auth)
    auth.sign_in("desk")
    assert _release(auth, team, ["themes", "safety"], recipient=str(team["second"])).status_code == 302
    auth.logout()
    release = make.query(lambda: db.session.scalar(select(ReleaseOfInformation.id)))
    auth.sign_in("pres")      # on the care team, not the release's recipient
    assert auth.post(f"/releases/{release}/revoke", {"revoked_on": TODAY.isoformat()}).status_code == 403
    assert make.query(lambda: db.session.get(ReleaseOfInformation, release).revoked_on) is None
    assert make.audit_rows(action="access.denied")[-1].detail == "releases are recorded by staff, admin or the therapist"


def test_the_report_preview_is_not_a_get(make, auth, client):
    """The therapist's questions and recommendations must not travel in URLs (logs, history)."""
    team = _team(make, auth)
    auth.sign_in("ther")
    assert client.get(f"/courses/{team['course']}/report-preview?recipient={team['prescriber']}"
                      "&questions=private").status_code == 405
