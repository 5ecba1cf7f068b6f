"""Self-guided practices (issue 23, point 5): the clinic's vocabulary, a therapist assigning and
ending practices on the course page (and from the integration note), the patient's logs through
the service the portal calls, and adherence shown to the therapist on the course page and in the
next integration note. Bad input changes nothing; another patient's assignment is out of reach."""
from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy import func, select

from ketamine_integration.db.clinic_time import clinic_today
from ketamine_integration.db.errors import DomainError
from ketamine_integration.db.types import utcnow
from ketamine_integration.extensions import db
from ketamine_integration.notes.models import SessionNote
from ketamine_integration.patients.models import Patient
from ketamine_integration.practices.models import Practice, PracticeAssignment, PracticeLog
from ketamine_integration.practices.patient import NotThePatients, log_practice, patient_practices
from tests.conftest import page_text, todays_world
from tests.integration.test_notes import _start, make_team

D = timedelta(days=1)


@pytest.fixture
def team(make):
    """make_team's clinic, its course begun four weeks ago (practices are assigned from then on). Built once
    per day, worker and engine (reused_world) and loaded from its snapshot after."""
    return todays_world(make.app, "practices_team", lambda: _begun_earlier(make))


def _begun_earlier(make) -> dict:
    from ketamine_integration.courses.models import TreatmentCourse
    ids = make_team(make)

    def begun_earlier():
        course = db.session.get(TreatmentCourse, ids["course"])
        course.start_date -= 28 * D
    make.run(begun_earlier)
    return ids


def _today(make) -> date:
    return make.query(clinic_today)


def _assign_data(today: date, **overrides) -> dict:
    data = {"assign-practice": "movement", "assign-times": "3", "assign-per": "week",
            "assign-starts_on": (today - 14 * D).isoformat(), "assign-ends_on": (today + 13 * D).isoformat(),
            "assign-instructions": "A walk counts; ten minutes is enough."}
    data.update(overrides)
    return data


def _count(make, model) -> int:
    return make.query(lambda: db.session.scalar(select(func.count()).select_from(model)))


def _assign(make, auth, team, **overrides) -> int:
    response = auth.post(f"/courses/{team['course']}/practices", _assign_data(_today(make), **overrides))
    assert response.status_code == 302, page_text(response)[-800:]
    return make.query(lambda: db.session.scalar(select(func.max(PracticeAssignment.id))))


def _log(make, patient_id: int, assignment_id: int, outcome: str, day: date, note: str | None = None):
    return make.run(lambda: log_practice(db.session.get(Patient, patient_id), assignment_id, outcome, day, note,
                                         utcnow()).id)


def _refused(make, call, error=DomainError):
    """Call a patient service that refuses: its reasons (or the error), with what it recorded of the
    refusal committed, as the portal's request keeps a refusal's durable audit row."""
    def attempt():
        try:
            call()
        except error as refusal:
            return refusal
        raise AssertionError("not refused")
    return make.run(attempt)


def _log_refused(make, patient_id: int, assignment_id: int, outcome, day, note=None) -> dict:
    return _refused(make, lambda: log_practice(db.session.get(Patient, patient_id), assignment_id, outcome, day,
                                               note, utcnow())).reasons


def test_a_therapist_assigns_a_practice_on_the_course_page_and_sees_its_adherence(team, make, auth, client):
    auth.sign_in("ther")
    page = page_text(client.get(f"/courses/{team['course']}"))
    assert "Self-guided practices" in page and "No practices assigned yet." in page
    today = _today(make)
    assignment = _assign(make, auth, team)
    stored = make.query(lambda: db.session.get(PracticeAssignment, assignment))
    assert (stored.times, stored.per, stored.instructions) == (3, "week", "A walk counts; ten minutes is enough.")
    # the patient's word on the two weeks that are over: week 1 three done, week 2 one done and one partly
    for n, outcome in ((0, "done"), (2, "done"), (4, "done"), (7, "done"), (9, "partly")):
        _log(make, team["patient"], assignment, outcome, today - 14 * D + n * D,
             "Rain all afternoon" if outcome == "partly" else None)
    page = page_text(client.get(f"/courses/{team['course']}"))
    assert "Movement" in page and "3 times a week" in page
    assert "Adherence: 75% (4.5 of 6 expected): 4 done, 1 partly, 0 not done." in page
    assert "“Rain all afternoon”" in page
    assert [r.action for r in make.audit_rows(patient_id=team["patient"]) if r.action.startswith("practice.")] == [
        "practice.assign", *["practice.log"] * 5]


@pytest.mark.parametrize("overrides, field, message", [
    ({"assign-practice": "astral-projection"}, "assign-practice", "Not a valid choice"),
    ({"assign-times": "0"}, "assign-times", "Choose from 1 to 14 times a week."),
    ({"assign-times": "7", "assign-per": "day"}, "assign-times", "Choose from 1 to 6 times a day."),
    ({"assign-times": "three"}, "assign-times", "Enter a whole number"),
    ({"assign-ends_on": "2020-01-01"}, "assign-ends_on", "The last day cannot be before the first."),
    ({"assign-starts_on": "1999-01-01"}, "assign-starts_on", "when the course began"),
    ({"assign-ends_on": "not a date"}, "assign-ends_on", "Enter a real date"),
    ({"assign-instructions": "x" * 501}, "assign-instructions", "501"),
])
def test_bad_input_is_refused_on_its_field_and_changes_nothing(team, make, auth, client, overrides, field, message):
    auth.sign_in("ther")
    before = _count(make, PracticeAssignment), _count(make, Practice)
    response = auth.post(f"/courses/{team['course']}/practices", _assign_data(_today(make), **overrides))
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert f'id="{field}-error"' in html
    assert message in page_text(response) or message == "501"   # WTForms' own words for a long text
    assert (_count(make, PracticeAssignment), _count(make, Practice)) == before
    assert make.audit_rows(action="practice.assign")[-1].outcome == "failure"


def test_the_same_practice_cannot_overlap_itself_and_an_ended_one_is_kept(team, make, auth, client):
    auth.sign_in("ther")
    today = _today(make)
    first = _assign(make, auth, team)
    overlapping = auth.post(f"/courses/{team['course']}/practices", _assign_data(
        today, **{"assign-starts_on": (today + 5 * D).isoformat(), "assign-ends_on": (today + 30 * D).isoformat()}))
    assert overlapping.status_code == 422 and "end that assignment first" in page_text(overlapping)
    ended = auth.post(f"/practice-assignments/{first}/end", {})
    assert ended.status_code == 302
    stored = make.query(lambda: db.session.get(PracticeAssignment, first))
    assert stored.ended_on == today and stored.ended_by_id == team["therapist"]
    again = auth.post(f"/practice-assignments/{first}/end", {})   # ended once, never twice
    assert again.status_code == 302 and make.audit_rows(action="practice.end")[-1].outcome == "failure"
    # a new assignment after the ended one's last day; the ended one stays with its history
    _assign(make, auth, team, **{"assign-starts_on": (today + D).isoformat(),
                                 "assign-ends_on": (today + 28 * D).isoformat(), "assign-per": "day",
                                 "assign-times": "1"})
    page = page_text(client.get(f"/courses/{team['course']}"))
    assert "Once a day" in page and f"ended {today.isoformat()}" in page and "Ended" in page
    # the patient sees it as no longer to keep (today, its last counted day, may still be logged)
    seen = make.run(lambda: patient_practices(db.session.get(Patient, team["patient"]), utcnow()))
    assert [(p.name, p.current, p.ends_on) for p in seen if p.assignment_id == first] == [("Movement", False, today)]


def test_only_a_therapist_of_the_care_team_assigns(team, make, auth, client):
    outsider = make.user("therapist", username="ther-out")
    auth.sign_in("ther-out")
    assert auth.post(f"/courses/{team['course']}/practices", _assign_data(_today(make))).status_code == 403
    auth.sign_in("pres")   # on the team, reads the adherence, assigns nothing
    assert auth.post(f"/courses/{team['course']}/practices", _assign_data(_today(make))).status_code == 403
    assert _count(make, PracticeAssignment) == 0 and outsider


def test_the_patients_logs_are_checked_and_kept(team, make):
    auth_team = team
    today = _today(make)

    def assign():
        from ketamine_integration.accounts.models import User
        from ketamine_integration.courses.models import TreatmentCourse
        from ketamine_integration.practices.services import assign_practice
        return assign_practice(db.session.get(TreatmentCourse, auth_team["course"]), practice_key="journaling",
                               times=2, per="day", starts_on=today - 3 * D, ends_on=today + 3 * D,
                               instructions="Three lines before bed.", by=db.session.get(User, team["therapist"]),
                               today=today).id
    assignment = make.run(assign)
    first = _log(make, team["patient"], assignment, "done", today, "  ")
    second = _log(make, team["patient"], assignment, "not", today, "Too tired after the late shift")
    logged = make.query(lambda: [(l.occurrence, l.outcome, l.note) for l in db.session.scalars(
        select(PracticeLog).where(PracticeLog.id.in_([first, second])).order_by(PracticeLog.id))])
    assert logged == [(1, "done", None), (2, "not", "Too tired after the late shift")]
    refusals = [("done", today, "for_date", "Already logged twice a day"),          # the day is full
                ("done", today + D, "for_date", "Choose today or an earlier day"),   # tomorrow
                ("done", today - 4 * D, "for_date", "This practice starts on"),      # before its period
                ("maybe", today - D, "outcome", "Choose done, partly or not done."),  # not an outcome
                ("done", None, "for_date", "Choose the day")]
    for outcome, day, field, words in refusals:
        assert _log_refused(make, team["patient"], assignment, outcome, day)[field].startswith(words)
    assert "note" in _log_refused(make, team["patient"], assignment, "partly", today - D, "x" * 501)
    assert _count(make, PracticeLog) == 2
    failures = [r for r in make.audit_rows(action="practice.log") if r.outcome == "failure"]
    assert len(failures) == 6 and all(r.patient_id == team["patient"] for r in failures)
    # what the patient sees: the practice, how often, the days, the instructions, their own logs
    seen = make.run(lambda: patient_practices(db.session.get(Patient, team["patient"]), utcnow()))
    assert [(p.name, p.how_often, p.instructions, len(p.logs), p.progress.logged) for p in seen] == [
        ("Journaling", "twice a day", "Three lines before bed.", 2, 2)]
    assert make.audit_rows(action="practice.view")[-1].patient_id == team["patient"]


def test_another_patients_assignment_is_out_of_reach_and_nothing_is_written(team, make, auth):
    auth.sign_in("ther")
    assignment = _assign(make, auth, team)
    other = make.patient(family_name="Elsewhere")
    _refused(make, lambda: log_practice(db.session.get(Patient, other), assignment, "done", _today(make), None,
                                        utcnow()), NotThePatients)
    assert _count(make, PracticeLog) == 0
    denial = make.audit_rows(action="access.denied")[-1]
    assert denial.patient_id == other and denial.outcome == "denied"
    assert make.run(lambda: patient_practices(db.session.get(Patient, other), utcnow())) == []


def test_the_next_integration_note_shows_adherence_and_links_to_assigning(team, make, auth, client):
    auth.sign_in("ther")
    today = _today(make)
    assignment = _assign(make, auth, team)
    _log(make, team["patient"], assignment, "partly", today - 14 * D, "Forgot until late")
    note = _start(auth, team["course"])
    page = client.get(f"/notes/{note}")
    text = page_text(page)
    assert "Practices assigned: how they went" in text and "Movement" in text
    assert "Adherence: 8% (0.5 of 6 expected)" in text and "“Forgot until late”" in text
    assert f"/courses/{team['course']}?from_note={note}#practices" in page.get_data(as_text=True)
    # assigned from the note: it goes back to the note, and the assignment names it
    back = auth.post(f"/courses/{team['course']}/practices", _assign_data(
        today, **{"assign-practice": "nature", "assign-from_note": str(note)}))
    assert back.status_code == 302 and back.headers["Location"].endswith(f"/notes/{note}#note-approach")
    assert make.query(lambda: db.session.scalar(select(PracticeAssignment.from_note_id).order_by(
        PracticeAssignment.id.desc()).limit(1))) == note


def test_the_vocabulary_is_the_admins_archived_not_deleted(team, make, auth, client):
    auth.sign_in("boss")
    page = page_text(client.get("/settings/practices"))
    for name in ("Journaling", "Meditation and breathwork", "Movement", "Creative expression", "Time in nature",
                 "Social connection"):
        assert name in page
    added = auth.post("/settings/practices", {"name": "Gratitude letter"})
    assert added.status_code == 302
    twice = auth.post("/settings/practices", {"name": "gratitude LETTER"})
    assert twice.status_code == 422 and "is in the list already" in page_text(twice)
    assert auth.post("/settings/practices/toggle", {"practice": "nature"}).status_code == 302
    assert make.query(lambda: db.session.scalar(select(Practice.active).where(Practice.key == "nature"))) is False
    assert auth.post("/settings/practices/toggle", {"practice": "no-such"}).status_code == 302
    assert [r.outcome for r in make.audit_rows(action="settings.practices")] == [
        "success", "failure", "success", "failure"]
    # the therapist is offered the clinic's own practice, not the archived one (in assignments and notes)
    auth.sign_in("ther")
    course = client.get(f"/courses/{team['course']}").get_data(as_text=True)
    assert 'value="own-gratitude-letter"' in course and 'value="nature"' not in course
    refused = auth.post(f"/courses/{team['course']}/practices", _assign_data(_today(make), **{
        "assign-practice": "nature"}))
    assert refused.status_code == 422
    note = client.get(f"/notes/{_start(auth, team['course'])}").get_data(as_text=True)
    assert 'name="practices" type="checkbox" value="own-gratitude-letter"' in note or \
        'value="own-gratitude-letter"' in note
    assert make.query(lambda: db.session.scalar(select(func.count()).select_from(SessionNote))) == 1
