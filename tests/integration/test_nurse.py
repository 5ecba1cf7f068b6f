"""The nurse (issue 18, point 3): records vitals and monitoring on their care-team patients'
dosing sessions, may be named as administering or monitoring, signs no dosing record, reads no
note content, sees the schedule and books nothing."""
import re

import pytest
from sqlalchemy import select

from ketamine_integration.accounts.models import User
from ketamine_integration.db.errors import DomainError
from ketamine_integration.experience.models import DosingSession
from ketamine_integration.experience.dose_roles import DOSE_FIELDS
from ketamine_integration.experience.services import save_record
from ketamine_integration.extensions import db
from tests.conftest import downgraded_world, page_text
from tests.security.clinic import Clinic, local


@pytest.fixture
def clinic(make, auth):
    return Clinic(make, auth)


@pytest.fixture
def elsewhere(clinic, make):
    """A dosing session of a patient whose care team the nurse is not on."""
    other = make.patient(family_name="Elsewhere", therapists=[clinic.users["victim"]],
                         prescribers=[clinic.users["prescriber"]])
    course = make.course(other, clinic.users["victim"], clinic.users["prescriber"], phase="experience")
    return make.dosing_plan(course, first_start=local(-4), days_between=2, count=1)[0]


def _session(make, session_id: int) -> DosingSession:
    return make.query(lambda: db.session.get(DosingSession, session_id))


def test_a_nurse_records_vitals_and_monitoring_on_a_care_team_patients_session(clinic, make):
    session = clinic.draft_session
    nurse = str(clinic.users["nurse"])
    assert clinic.get("nurse", f"/dosing/{session}").status_code == 200
    saved = clinic.post("nurse", f"/dosing/{session}", _as_a_nurses_browser_sends(
        clinic.record_data(session, monitored_by=nurse, administered_by=nurse)))
    assert saved.status_code == 302
    row = _session(make, session)
    assert row.status == "draft"
    assert (row.monitored_by_id, row.administered_by_id) == (clinic.users["nurse"],) * 2
    assert {v.timepoint for v in row.vitals} == {"baseline", "post_40", "discharge"}


def _select(page: str, field_id: str) -> str:
    return re.search(rf'<select[^>]*id="{field_id}".*?</select>', page, re.S).group(0)


def _as_a_nurses_browser_sends(data: dict) -> dict:
    """The record form as a nurse's browser submits it: the dose fields are disabled, so absent."""
    return {k: v for k, v in data.items() if k not in DOSE_FIELDS}


def test_a_nurse_keeps_the_dose_the_prescriber_recorded_and_cannot_change_it(clinic, make):
    session, nurse = clinic.draft_session, str(clinic.users["nurse"])
    assert clinic.post("prescriber", f"/dosing/{session}", clinic.record_data(session)).status_code == 302
    page = clinic.get("nurse", f"/dosing/{session}").get_data(as_text=True)
    assert re.search(r'<input[^>]*disabled[^>]*id="dose_mg"|<input[^>]*id="dose_mg"[^>]*disabled', page)
    kept = clinic.post("nurse", f"/dosing/{session}", _as_a_nurses_browser_sends(
        clinic.record_data(session)))
    assert kept.status_code == 302
    row = _session(make, session)
    assert (row.dose_mg, row.lot_number, row.route, row.monitoring_minutes) == (35, "LOT-7", "iv", 130)  # start to discharge
    before = row.version
    refused = clinic.post("nurse", f"/dosing/{session}", clinic.record_data(session, dose_mg="49"))
    assert refused.status_code == 422
    assert "Recorded by the prescriber" in refused.get_data(as_text=True)
    row = _session(make, session)
    assert (row.version, row.dose_mg) == (before, 35)


def test_a_nurse_names_only_themselves_as_administering_or_monitoring(clinic, make):
    session, prescriber = clinic.draft_session, str(clinic.users["prescriber"])
    before = _session(make, session).version
    refused = clinic.post("nurse", f"/dosing/{session}", _as_a_nurses_browser_sends(
        clinic.record_data(session, monitored_by=prescriber, administered_by=prescriber)))
    assert refused.status_code == 422
    assert "You can name only yourself here" in refused.get_data(as_text=True)
    assert _session(make, session).version == before


def test_only_the_care_team_is_offered_or_accepted_as_administering_or_monitoring(clinic, make):
    outsider = make.user("nurse", username="outsider_nurse")
    session = clinic.draft_session
    page = clinic.get("prescriber", f"/dosing/{session}").get_data(as_text=True)
    assert f'value="{outsider}"' not in _select(page, "monitored_by") + _select(page, "administered_by")
    assert f'value="{clinic.users["nurse"]}"' in _select(page, "monitored_by")
    before = _session(make, session).version
    refused = clinic.post("prescriber", f"/dosing/{session}", clinic.record_data(session, monitored_by=str(outsider)))
    assert refused.status_code == 422 and _session(make, session).version == before

    def save_naming_the_outsider():  # the service refuses too, whatever a form offers
        record = db.session.get(DosingSession, session)
        with pytest.raises(DomainError) as refusal:
            save_record(record, values={"monitored_by_id": outsider}, vitals={}, adverse_events=[],
                        expected_version=record.version, by=db.session.get(User, clinic.users["prescriber"]))
        assert "on the patient's care team" in refusal.value.reasons["monitored_by"]
    make.run(save_naming_the_outsider)


def test_the_record_form_shows_who_is_recorded_so_a_second_save_keeps_them(clinic, make):
    session, nurse = clinic.draft_session, clinic.users["nurse"]
    assert clinic.post("prescriber", f"/dosing/{session}",
                       clinic.record_data(session, monitored_by=str(nurse))).status_code == 302
    page = clinic.get("prescriber", f"/dosing/{session}").get_data(as_text=True)
    assert re.search(rf'<option selected value="{nurse}"|<option value="{nurse}" selected', _select(page, "monitored_by"))
    make.run(lambda: setattr(db.session.get(User, nurse), "role_names", "staff"))  # an admin changed the role
    page = clinic.get("prescriber", f"/dosing/{session}").get_data(as_text=True)
    assert f'value="{nurse}"' in _select(page, "monitored_by")  # no longer a nurse, still who monitored
    assert clinic.post("prescriber", f"/dosing/{session}",
                       clinic.record_data(session, monitored_by=str(nurse))).status_code == 302
    assert _session(make, session).monitored_by_id == nurse


def test_a_nurse_cannot_record_on_another_patients_session(clinic, elsewhere, make):
    before = _session(make, elsewhere).version
    assert clinic.get("nurse", f"/dosing/{elsewhere}").status_code == 403
    refused = clinic.post("nurse", f"/dosing/{elsewhere}", clinic.record_data(elsewhere))
    assert refused.status_code == 403
    assert _session(make, elsewhere).version == before
    denials = [r for r in make.audit_rows(action="access.denied") if r.object_id == str(elsewhere)]
    assert [r.detail for r in denials] == ["patient not on the user's care team"] * 2


def test_a_nurse_cannot_sign_a_dosing_record(clinic, make):
    session = clinic.draft_session
    assert clinic.post("prescriber", f"/dosing/{session}", clinic.record_data(session)).status_code == 302
    refused = clinic.post("nurse", f"/dosing/{session}/sign", {"version": clinic.version("dosing", session)})
    assert refused.status_code == 403
    assert _session(make, session).status == "draft"
    [row] = [r for r in make.audit_rows(action="access.denied") if r.detail.startswith("experience.dosing_sign")]
    assert row.detail == "experience.dosing_sign needs permission dosing.sign (Prescriber)"


@pytest.mark.parametrize("page", [
    "/notes/{note}",                   # a signed integration note
    "/notes/{note}/process",           # the therapist's process notes: not found, as for anyone else
    "/courses/{course}/formulation",
    "/courses/{course}/measures",
    "/courses/{course}/coordination",
])
def test_a_nurse_cannot_open_note_content(clinic, page):
    note, course = clinic.process_note, clinic.course
    response = clinic.get("nurse", page.format(note=note, course=course))
    assert response.status_code in ((404,) if page.endswith("process") else (403,))
    assert clinic.text not in page_text(response)
    if response.status_code == 403:  # the role stops them, not the care team they are on
        assert "not part of your role's work" in page_text(response)
        assert "add you to the care team" not in page_text(response)


def test_a_nurse_is_offered_the_dosing_record_and_nothing_their_role_refuses(clinic):
    session = clinic.draft_session
    assert clinic.post("prescriber", f"/dosing/{session}", clinic.record_data(session)).status_code == 302
    course_page = clinic.get("nurse", f"/courses/{clinic.course}").get_data(as_text=True)
    assert f'href="/dosing/{session}"' in course_page
    for refused in ("Plan dosing sessions", "Book a session", "/reschedule", "/cancel", "/outcome"):
        assert refused not in course_page, refused
    record = clinic.get("nurse", f"/dosing/{session}").get_data(as_text=True)
    for refused in ("Sign and lock", "/sign", "/addenda", "REMS Patient Monitoring Form"):
        assert refused not in record, refused
    assert "Sign and lock" in clinic.get("prescriber", f"/dosing/{session}").get_data(as_text=True)
    patient = clinic.get("nurse", f"/patients/{clinic.patient}").get_data(as_text=True)
    assert "Enrol in a protocol" not in patient


def test_a_nurse_sees_the_schedule_of_their_patients_but_books_nothing(clinic, make):
    clinic.dosing_sessions  # noqa: B018 - three sessions planned from six days ago
    calendar = clinic.get("nurse", f"/calendar?date={local(-4).date().isoformat()}")
    assert calendar.status_code == 200
    assert "Fictional" in page_text(calendar)            # the care-team patient's dosing session
    booked = clinic.post("nurse", f"/courses/{clinic.course}/sessions", clinic.booking_data())
    assert booked.status_code == 403
    assert clinic.post("nurse", f"/dosing/{clinic.planned_session}/cancel", {"reason": "no"}).status_code == 403


def test_a_nurse_sees_the_course_but_no_clinical_content(clinic):
    clinic.signed_note  # noqa: B018
    page = clinic.get("nurse", f"/courses/{clinic.course}")
    assert page.status_code == 200
    assert clinic.text not in page_text(page)


def test_front_desk_staff_are_not_offered_nor_accepted_as_monitor(clinic, make):
    session = clinic.draft_session
    form = clinic.get("prescriber", f"/dosing/{session}").get_data(as_text=True)
    monitors = form.split('name="monitored_by"', 1)[1].split("</select>", 1)[0]
    assert "Nell Brook" in monitors                     # the care team's nurse
    assert f'value="{clinic.users["staff"]}"' not in monitors
    refused = clinic.post("prescriber", f"/dosing/{session}",
                          clinic.record_data(session, monitored_by=str(clinic.users["staff"])))
    assert refused.status_code == 422
    assert _session(make, session).monitored_by_id is None


@pytest.mark.demo_clinic  # built by `flask demo` once per engine (tests/databases.py), copied here
def test_the_demo_nurses_monitor_every_signed_demo_session(app):
    from ketamine_integration.accounts.models import User
    from ketamine_integration.patients.models import CareTeamMember
    with app.app_context():
        signed = db.session.scalars(select(DosingSession).where(DosingSession.status == "signed")).all()
        monitors = {db.session.get(User, s.monitored_by_id) for s in signed}
        assert signed and {u.username for u in monitors} == {"nurse1", "nurse2"}
        for s in signed:   # each monitored by the nurse on that patient's care team
            assert db.session.scalar(select(CareTeamMember.role).where(
                CareTeamMember.patient_id == s.course.patient_id,
                CareTeamMember.user_id == s.monitored_by_id)) == "nurse"


def _admin_before_the_nurse_role(app, make) -> int:
    """An admin, and the database downgraded to the migration before the nurse role's: what each policy
    below starts from (tests.conftest.downgraded_world, once per worker on SQLite)."""
    return downgraded_world(app, "before_the_nurse_role", "0018_open_measure_registry", lambda: make.user("admin"))


@pytest.mark.parametrize("saved, upgraded", [("admin,staff,therapist,prescriber", "admin,staff,therapist,prescriber,nurse"),
                                             ("therapist", "therapist,nurse"), ("", "nurse")])
@pytest.mark.both_engines  # a migration
def test_a_saved_two_step_policy_requires_it_of_nurses_after_the_upgrade(app, make, saved, upgraded):
    from flask_migrate import upgrade
    from sqlalchemy import text

    admin = _admin_before_the_nurse_role(app, make)
    with app.app_context():
        db.session.execute(text("INSERT INTO clinic_settings (key, value, updated_at, updated_by_id) "
                                "VALUES ('mfa_required_roles', :v, CURRENT_TIMESTAMP, :by)"), {"v": saved, "by": admin})
        db.session.commit()
        db.session.remove()
        upgrade()
        assert db.session.scalar(text("SELECT value FROM clinic_settings WHERE key = 'mfa_required_roles'")) == upgraded
        db.session.remove()
