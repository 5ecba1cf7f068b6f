"""The discharge summary of an ended course (issue 24, point 6): computed from the record, never typed;
the clinician's plan and recommendations; signed and locked (service, ORM guard, database triggers),
corrected by addenda, rechecked by `signatures verify`; a PDF without process notes, and a prescriber's
copy carrying only what the release permits."""
from __future__ import annotations

import hashlib
from datetime import date, timedelta
from io import BytesIO

import pytest
from pypdf import PdfReader
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError

from ketamine_integration.discharge.models import DischargeAddendum, DischargeCopy, DischargeSummary
from ketamine_integration.discharge.services import verify_signed_summaries
from ketamine_integration.discharge.signed_guard import SignedSummaryChanged
from ketamine_integration.courses.models import TreatmentCourse
from ketamine_integration.extensions import db
from tests.clinic_day import follows_the_day
from tests.conftest import Auth, page_text, todays_world
from tests.integration.test_coordination import _add_theme, _release
from tests.integration.test_dosing import _sign, local
from tests.integration.test_notes import _phq9, _write_and_sign, entered_on_their_day

TODAY = follows_the_day(globals(), "TODAY", date.today)
#: written in a process note: must never reach the summary, its page or any PDF
PROCESS_CANARY = "Canary-process-7731: my own countertransference"
ENDING = "The patient moved out of state; care transferred."
WRITTEN = {"summary": "Mood lifted over the series; sleep steadier.", "ending_reason": "Moved out of state.",
           "warning_signs": "Withdrawing from friends; waking at 4 am.", "practices": "River walks three times a week.",
           "booster_or_return": "PHQ-9 above 10 twice in a row: call for a booster.",
           "recommendations": "Consider a booster at the first warning sign."}


@pytest.fixture
def ended(make, auth):
    """A discontinued course with one signed dose, a signed integration note (theme, insight) with a
    process note, a PHQ-9 baseline of 16 before the dose and 0 after it; the client signed in as its therapist.
    The clinicians sign in a client of their own; built once per day, worker and engine (reused_world)."""
    ids = todays_world(make.app, "discharge_ended", lambda: ended_course(make, Auth(make.app, make.app.test_client())))
    auth.sign_in("ther")
    return ids


def ended_course(make, auth, before_the_end=None) -> dict:
    """The `ended` fixture's course; `before_the_end(ids)` runs while it is still live (signed in as its
    therapist), for what an ended course no longer accepts (a treatment plan)."""
    ids = {"therapist": make.user("therapist", username="ther", full_name="Hazel Quint"),
           "prescriber": make.user("prescriber", username="pres", full_name="Orrin Vale"),
           "staff": make.user("staff", username="desk"), "admin": make.user("admin", username="boss")}
    ids["patient"] = make.patient(given_name="Wren", family_name="Discharged")
    ids["course"] = make.course(ids["patient"], ids["therapist"], ids["prescriber"], phase="experience")
    ids["theme"] = make.run(lambda: _add_theme("Safety in the body"))
    auth.sign_in("ther")
    with entered_on_their_day():
        assert _phq9(auth, ids["course"], base="2", when=TODAY - timedelta(days=10)).status_code == 302
    auth.logout()
    [session] = make.dosing_plan(ids["course"], first_start=local(3), days_between=2, count=1)
    auth.sign_in("pres")
    _sign(make, auth, session, ids["prescriber"])
    auth.logout()
    auth.sign_in("ther")
    note = _write_and_sign(make, auth, ids, insights="Rest is something I am allowed")
    assert auth.post(f"/notes/{note}/process", {"body": PROCESS_CANARY}).status_code == 302
    assert _phq9(auth, ids["course"], base="0").status_code == 302
    if before_the_end is not None:
        before_the_end(ids)
    version = str(make.query(lambda: db.session.get(TreatmentCourse, ids["course"]).version))
    assert auth.end_course(ids["course"], {"target": "discontinued", "reason": ENDING,
                                           "version": version}).status_code == 302
    return ids


def _summary(make, course_id) -> DischargeSummary | None:
    return make.query(lambda: db.session.scalar(select(DischargeSummary)
                                                .where(DischargeSummary.course_id == course_id)))


def _start(auth, make, course_id) -> DischargeSummary:
    assert auth.post(f"/courses/{course_id}/discharge", {}).status_code == 302
    return _summary(make, course_id)


def _sign_summary(auth, make, course_id, **overrides):
    summary = _summary(make, course_id) or _start(auth, make, course_id)
    data = {"version": str(summary.version), **WRITTEN, "confirm_sign": "y", "sign": "1", **overrides}
    return auth.post(f"/discharge/{summary.id}", data)


def _pdf_text(response) -> str:
    assert response.status_code == 200 and response.mimetype == "application/pdf"
    return " ".join(" ".join((p.extract_text() or "") for p in PdfReader(BytesIO(response.data)).pages).split())


def test_an_ended_course_shows_its_summary_due_and_the_draft_computes_the_record(ended, make, auth, client):
    course = ended["course"]
    auth.sign_in("ther")
    assert "Discharge summary due" in page_text(client.get(f"/courses/{course}"))
    assert "Start the discharge summary" in page_text(client.get(f"/courses/{course}/discharge"))
    _start(auth, make, course)
    page = page_text(client.get(f"/courses/{course}/discharge"))
    assert "Draft started by Hazel Quint" in page
    assert "1 dose given" in page                                                 # the signed dose
    assert f"Ended {TODAY.isoformat()} (Discontinued)" in page and ENDING in page   # the course's end
    assert "16 (Moderately severe)" in page and "0 (None–minimal)" in page and "-16" in page
    assert "Response, remission" in page                                          # by the registry's rules
    assert "Safety in the body" in page and "Rest is something I am allowed" in page
    assert PROCESS_CANARY not in page
    assert "Discharge summary due" in page_text(client.get(f"/courses/{course}"))   # a draft is not signed


def test_a_course_not_ended_has_no_summary_and_a_refused_start_writes_nothing(make, auth, client):
    therapist = make.user("therapist", username="ther2")
    prescriber = make.user("prescriber", username="pres2")
    course = make.course(make.patient(), therapist, prescriber, phase="integration")
    auth.sign_in("ther2")
    refused = auth.post(f"/courses/{course}/discharge", {})
    assert refused.status_code == 422 and "once the course has ended" in page_text(refused)
    assert _summary(make, course) is None
    assert "Discharge summary due" not in page_text(client.get(f"/courses/{course}"))


def test_signing_needs_every_written_section_and_keeps_the_draft(ended, make, auth, client):
    auth.sign_in("ther")
    refused = _sign_summary(auth, make, ended["course"], warning_signs="", confirm_sign="")
    text_ = page_text(refused)
    assert refused.status_code == 200 and "Draft saved, not signed" in text_   # 200: the save is committed
    assert "Needed to sign: relapse prevention: early warning signs." in text_
    assert "Tick the box to confirm the summary will be locked." in text_
    summary = _summary(make, ended["course"])
    assert summary.status == "draft" and summary.written["summary"] == WRITTEN["summary"]   # the save stands


@pytest.mark.both_engines  # database triggers refuse raw SQL
def test_a_signed_summary_is_frozen_locked_amended_and_verified(ended, make, auth, client, app):
    auth.sign_in("ther")
    assert _sign_summary(auth, make, ended["course"]).status_code == 302
    summary = _summary(make, ended["course"])
    assert summary.status == "signed" and summary.content_digest and summary.signed_by_id == ended["therapist"]
    assert summary.computed["doses"]["count"] == 1
    [phq9] = [m for m in summary.computed["measures"] if m["name"] == "PHQ-9"]
    assert phq9["baseline"]["total"] == 16 and phq9["last"]["total"] == 0 and phq9["status"] == "Response, remission"
    assert summary.computed["themes"]["insights"][0]["text"] == "Rest is something I am allowed"
    assert "Discharge summary due" not in page_text(client.get(f"/courses/{ended['course']}"))
    # the service refuses, the ORM guard refuses, the database refuses
    again = auth.post(f"/discharge/{summary.id}", {"version": str(summary.version), **WRITTEN, "summary": "Rewritten"})
    assert again.status_code in (409, 422) and _summary(make, ended["course"]).written["summary"] == WRITTEN["summary"]

    def orm_edit():
        db.session.get(DischargeSummary, summary.id).written = {"summary": "edited"}
        db.session.flush()
    with pytest.raises(SignedSummaryChanged):
        make.run(orm_edit)
    for sql in ("UPDATE discharge_summaries SET written = '{}'", "UPDATE discharge_summaries SET computed = '{}'",
                "DELETE FROM discharge_summaries"):
        with pytest.raises(DBAPIError):
            make.run(lambda: db.session.execute(text(sql)))
    # corrections are addenda, themselves never changed
    assert auth.post(f"/discharge/{summary.id}/addendum", {"body": "Booster discussed by phone."}).status_code == 302
    assert "Booster discussed by phone." in page_text(client.get(f"/courses/{ended['course']}/discharge"))
    assert make.query(lambda: db.session.scalar(select(DischargeAddendum.content_digest)))
    with pytest.raises(DBAPIError):
        make.run(lambda: db.session.execute(text("UPDATE discharge_addenda SET body = 'x'")))
    assert make.query(verify_signed_summaries) == [(summary.id, True)]
    result = app.test_cli_runner().invoke(args=["signatures", "verify"])
    assert result.exit_code == 0 and "1 of 1 signed discharge summaries verified." in result.output
    assert [r.action for r in make.audit_rows(patient_id=ended["patient"]) if r.action.startswith("discharge.")
            and r.outcome == "success"][-3:] == ["discharge.sign", "discharge.addendum", "discharge.view"]


def test_the_pdf_carries_every_section_and_never_a_process_note(ended, make, auth, client):
    auth.sign_in("ther")
    assert _sign_summary(auth, make, ended["course"]).status_code == 302
    summary = _summary(make, ended["course"])
    pdf = _pdf_text(client.get(f"/discharge/{summary.id}.pdf"))
    for heading in ("Discharge summary", "Course dates and phases", "Doses", "Integration sessions and windows",
                    "Measures from baseline to last", "Themes and insights", "Summary of the course",
                    "Reason for ending", "Relapse prevention: early warning signs", "Recommendations"):
        assert heading in pdf, heading
    assert "Rest is something I am allowed" in pdf and "River walks three times a week." in pdf
    assert "Canary-process-7731" not in pdf and "countertransference" not in pdf


@pytest.mark.both_engines  # the stored copy never changes (database triggers)
def test_the_prescribers_copy_leaves_out_what_the_release_does_not_permit(ended, make, auth, client):
    auth.sign_in("ther")
    assert _sign_summary(auth, make, ended["course"]).status_code == 302
    summary = _summary(make, ended["course"])
    refused = auth.post(f"/discharge/{summary.id}/send", {"recipient": str(ended["prescriber"])})
    assert refused.status_code == 422 and "No release of information" in page_text(refused)
    assert make.query(lambda: db.session.scalar(select(DischargeCopy.id))) is None
    assert _release(auth, ended, ["dosing", "measures", "attendance"]).status_code == 302
    assert auth.post(f"/discharge/{summary.id}/send", {"recipient": str(ended["prescriber"])}).status_code == 302
    copy = make.query(lambda: db.session.scalar(select(DischargeCopy)))
    auth.logout()
    auth.sign_in("pres")
    response = client.get(f"/discharge-copies/{copy.id}.pdf")
    assert hashlib.sha256(response.data).hexdigest() == copy.content_hash
    pdf = _pdf_text(response)
    assert "Discharge summary for Orrin Vale" in pdf and "Doses" in pdf and "Measures from baseline to last" in pdf
    assert "Not included" in pdf and "Themes and insights" in pdf           # named as left out ...
    assert "Rest is something I am allowed" not in pdf                      # ... and its content absent
    assert WRITTEN["warning_signs"] not in pdf and WRITTEN["summary"] not in pdf
    assert WRITTEN["recommendations"] in pdf                                # written for the prescriber
    assert "Canary-process-7731" not in pdf
    # the prescriber reads only the copy sent to them, never the summary itself
    assert client.get(f"/courses/{ended['course']}/discharge").status_code == 403
    assert client.get(f"/discharge/{summary.id}.pdf").status_code == 403
    with pytest.raises(DBAPIError):
        make.run(lambda: db.session.execute(text("UPDATE discharge_copies SET content_hash = 'x'")))


def test_only_the_care_teams_therapist_writes_it(ended, make, auth, client):
    for username in ("desk", "boss"):  # the front desk and the admin, who reads no clinical record
        auth.sign_in(username)
        assert client.get(f"/courses/{ended['course']}/discharge").status_code == 403
        assert auth.post(f"/courses/{ended['course']}/discharge", {}).status_code == 403
        assert _summary(make, ended["course"]) is None
        auth.logout()
    auth.sign_in("ther")
    assert _sign_summary(auth, make, ended["course"]).status_code == 302
    assert _summary(make, ended["course"]).signed_by_id == ended["therapist"]


def test_a_second_start_is_refused_and_shows_the_summary_started(ended, make, auth, client):
    auth.sign_in("ther")
    first = _start(auth, make, ended["course"])
    again = auth.post(f"/courses/{ended['course']}/discharge", {})
    assert again.status_code == 422 and "was started already" in page_text(again)
    assert "Draft started by Hazel Quint" in page_text(again)
    assert make.query(lambda: db.session.scalars(select(DischargeSummary.id)).all()) == [first.id]


def test_the_draft_and_signed_pages_label_every_control_once(ended, make, auth, client):
    from tests.page_html import read_forms
    auth.sign_in("ther")
    _start(auth, make, ended["course"])
    pages = [client.get(f"/courses/{ended['course']}/discharge")]
    assert _sign_summary(auth, make, ended["course"]).status_code == 302
    pages.append(client.get(f"/courses/{ended['course']}/discharge"))
    for response in pages:
        forms = read_forms(response.get_data(as_text=True))
        assert forms.controls and forms.repeated_ids() == [] and forms.unlabelled() == []


def test_a_stale_save_is_refused_with_the_text_kept(ended, make, auth, client):
    auth.sign_in("ther")
    summary = _start(auth, make, ended["course"])
    assert auth.post(f"/discharge/{summary.id}", {"version": str(summary.version), **WRITTEN}).status_code == 302
    stale = auth.post(f"/discharge/{summary.id}", {"version": str(summary.version), **WRITTEN,
                                                   "summary": "Typed in another tab"})
    assert stale.status_code == 409 and "Someone saved this discharge summary" in page_text(stale)
    assert "Typed in another tab" in stale.get_data(as_text=True)                  # kept in the form
    assert _summary(make, ended["course"]).written["summary"] == WRITTEN["summary"]   # nothing overwritten


def test_the_therapists_home_counts_and_lists_the_summaries_due(ended, make, auth, client):
    auth.sign_in("ther")
    home = page_text(client.get("/"))
    assert "1 discharge summary due" in home
    assert "Wren Discharged, the course has ended: write the discharge summary of Wren Discharged" in home
    assert _sign_summary(auth, make, ended["course"]).status_code == 302
    home = page_text(client.get("/"))
    assert "Nothing waiting:" in home and "discharge summaries due" in home.split("Nothing waiting:")[1]
    assert "write the discharge summary" not in home
    auth.logout()
    auth.sign_in("pres")                                   # the prescriber writes none: never counted
    assert "discharge summar" not in page_text(client.get("/"))
