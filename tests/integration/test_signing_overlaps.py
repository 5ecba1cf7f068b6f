"""Follow-up review of issue 19, point 1: signing stretches a dosing session's booking to its
recorded times (start of dosing to discharge). The signature is never refused for an overlap (the
record is what happened, and its times are past), but the overlap is never silent: the signature's
audit row names the overlapped bookings, the record lists them (without other patients' names) and
the staff worklist lists those without an outcome until one is recorded."""
from datetime import timedelta

import pytest
from sqlalchemy import select

from ketamine_integration.bookings.models import Appointment
from ketamine_integration.courses.models import TreatmentCourse
from ketamine_integration.extensions import db
from tests.conftest import page_text
from tests.integration.test_dosing import _record_data, _session, form_time, local


@pytest.fixture
def clinic(make):
    ids = {"therapist": make.user("therapist", username="ther", full_name="Hazel Quint"),
           "other_therapist": make.user("therapist", username="ther2", full_name="Milo Fenn"),
           "prescriber": make.user("prescriber", username="pres", full_name="Orrin Vale"),
           "second_prescriber": make.user("prescriber", username="pres2", full_name="Ida Marsh"),
           "staff": make.user("staff", username="desk")}
    # the patient whose dose ran long; the second prescriber is on their team and monitors it
    ids["patient"] = make.patient(given_name="Avery", family_name="Overran", prescribers=[ids["second_prescriber"]])
    ids["course"] = make.course(ids["patient"], ids["therapist"], ids["prescriber"], phase="experience")
    ids["other_patient"] = make.patient(given_name="Blake", family_name="Elsewhere")
    ids["other_course"] = make.course(ids["other_patient"], ids["therapist"], ids["second_prescriber"],
                                      phase="experience")
    ids["third_patient"] = make.patient(given_name="Casey", family_name="Sameroom")
    ids["third_course"] = make.course(ids["third_patient"], ids["other_therapist"], ids["prescriber"],
                                      phase="integration")
    return ids


def _integration_in_the_dosing_room(make, clinic) -> int:
    """Another patient's integration session in the dosing room at 11:10 that day (after the dose's
    planned end at 11:00), as booked then; still without an outcome."""
    room = make.room("Dosing Suite")

    def book():
        start = local(3, 11) + timedelta(minutes=10)
        course = db.session.get(TreatmentCourse, clinic["third_course"])
        appointment = Appointment(patient_id=course.patient_id, course_id=course.id,
                                  clinician_id=clinic["other_therapist"], kind="integration", starts_at=start,
                                  ends_at=start + timedelta(minutes=50), room_id=room, created_by_id=clinic["staff"])
        db.session.add(appointment)
        db.session.flush()
        return appointment.id
    return make.run(book)


def _record(make, clinic, session_id, **overrides):
    start = local(3, 9)
    fields = dict(started_at=form_time(start), monitored_by=str(clinic["second_prescriber"]),
                  discharged_at=form_time(start + timedelta(minutes=210)))   # 12:30
    return _record_data(_session(make, session_id), clinic["prescriber"], **dict(fields, **overrides))


@pytest.mark.both_engines  # the overlaps are read by the booking query and the worklist's join on each engine
def test_a_signature_over_other_bookings_keeps_the_record_and_shows_the_overlap(clinic, make, auth, client):
    [session_id] = make.dosing_plan(clinic["course"], first_start=local(3, 9), days_between=2, count=1)   # 9-11
    # the second prescriber's own dosing session with another patient at 12:00, in another room
    [other_id] = make.dosing_plan(clinic["other_course"], first_start=local(3, 12), days_between=2, count=1,
                                  room="Room 2")
    integration_id = _integration_in_the_dosing_room(make, clinic)
    auth.sign_in("pres")
    assert auth.post(f"/dosing/{session_id}", _record(make, clinic, session_id)).status_code == 302
    draft = page_text(client.get(f"/dosing/{session_id}"))
    assert "Signing gives this session's booking the recorded times" in draft   # said before signing
    signed = auth.post(f"/dosing/{session_id}", dict(_record(make, clinic, session_id), then_sign="1"),
                       follow_redirects=True)
    assert _session(make, session_id).status == "signed"                        # never refused for it
    assert "Its recorded times overlap 2 other booking(s)" in page_text(signed)

    def bookings():
        rows = db.session.scalars(select(Appointment).order_by(Appointment.id)).all()
        return {a.id: (a.starts_at, a.ends_at, a.status) for a in rows}, _appointment_of(session_id)
    after, own = make.query(bookings)
    assert after[own][:3] == (local(3, 9), local(3, 12) + timedelta(minutes=30), "attended")   # the facts
    assert after[integration_id][2] == "booked"                                 # the others unchanged
    [sign] = make.audit_rows(action="dosing.sign", outcome="success")           # the overlapped bookings, by id
    other_appointment = make.query(lambda: _appointment_of(other_id))
    assert sign.detail == ("booking took the recorded times, overlapping 2 other booking(s): appointments "
                           f"{integration_id}, {other_appointment}")          # in the order they start

    record = page_text(client.get(f"/dosing/{session_id}"))
    assert "Bookings its recorded times overlapped" in record
    assert "Ida Marsh (monitored the dose)" in record and "the room Dosing Suite" in record
    assert "another patient" in record and "no outcome recorded yet" in record
    assert "Elsewhere" not in record and "Sameroom" not in record              # no other patient's name
    auth.logout()

    auth.sign_in("desk")
    worklist = page_text(client.get("/worklist"))
    assert worklist.count("A signed dosing session's recorded times ran over this booking") == 2
    assert "overlapped by dosing session 1 of Avery Overran" in worklist and "Record the outcome" in worklist
    # staff record what happened: the integration session was held (in another room), the dose cancelled
    assert auth.post(f"/appointments/{integration_id}/outcome", {"outcome": "attended"}).status_code == 302
    assert auth.post(f"/dosing/{other_id}/cancel", {"reason": "Moved to next week: room taken"}).status_code == 302
    assert "ran over this booking" not in page_text(client.get("/worklist"))
    auth.logout()
    auth.sign_in("pres")
    kept = page_text(client.get(f"/dosing/{session_id}"))
    assert "Integration session with Milo Fenn" in kept and "held" in kept     # the overlap stays on the record


def _appointment_of(session_id: int) -> int:
    return db.session.scalar(select(Appointment.id).where(Appointment.dosing_session_id == session_id))


def test_a_signature_within_the_booked_time_reports_no_overlap(clinic, make, auth, client):
    [session_id] = make.dosing_plan(clinic["course"], first_start=local(3, 9), days_between=2, count=1)
    _integration_in_the_dosing_room(make, clinic)                               # 11:10, after the planned end
    auth.sign_in("pres")
    within = _record(make, clinic, session_id, discharged_at=form_time(local(3, 11)))   # 9:00 to 11:00
    signed = auth.post(f"/dosing/{session_id}", dict(within, then_sign="1"), follow_redirects=True)
    assert _session(make, session_id).status == "signed" and "overlap" not in page_text(signed)
    [sign] = make.audit_rows(action="dosing.sign", outcome="success")
    assert "overlapping" not in (sign.detail or "")
    assert "Bookings its recorded times overlapped" not in page_text(client.get(f"/dosing/{session_id}"))
