"""A real row in every append-only table, made through the app's own forms, and the database
owner's ways around the guards (for the positive controls and the tampering cases).

The rows come from tests.security.clinic.Clinic (HTTP, real forms: a booking's "booked"
change, a course's phase transitions, a preparation checklist entry...) plus what it does not
seed: a check-in, addenda, a formulation revision, a signed safety plan with an addendum and a review,
and text kept after a session timeout.
"""
from __future__ import annotations

from contextlib import contextmanager
from datetime import timedelta

from sqlalchemy import text

from ketamine_integration.extensions import db
from tests.conftest import reused_world
from tests.security.clinic import SIGNING, Clinic, form_time, today

KEPT_TEXT = "Process text typed while the session lapsed"


def _latest(make, sql: str, **params) -> int:
    return make.query(lambda: db.session.scalar(text(sql), params))


def seed(make, auth) -> dict[str, tuple[str, dict]]:
    """table -> (WHERE clause naming one real row of it, its parameters). Rows of tables frozen
    "once signed" belong to a signed note or dosing session. Built once per engine per worker and
    then loaded (tests.conftest.reused_world); the client is left signed out."""
    return reused_world(make.app, "append_only", lambda: _seed(make, auth))


def _seed(make, auth) -> dict[str, tuple[str, dict]]:
    clinic = Clinic(make, auth)
    first = clinic.signed_note
    [step] = make.query(lambda: db.session.scalars(text("SELECT id FROM action_steps WHERE note_id = :n"),
                                                   {"n": first}).all())
    second = clinic.new_note("integration")
    [use] = make.query(lambda: db.session.scalars(text("SELECT id FROM note_techniques WHERE note_id = :n"),
                                                  {"n": first}).all())
    checked = clinic.integration_data(second, **{"check_ins-0-step_id": str(step), "check_ins-0-progress": "done",
                                                 "check_ins-0-decision": "continue",
                                                 "technique_responses-0-use_id": str(use),
                                                 "technique_responses-0-response": "mixed"})
    assert clinic.post("therapist", f"/notes/{second}", {**checked, **SIGNING}).status_code == 302
    assert clinic.post("therapist", f"/notes/{first}/addenda", {"body": "Later: slept well"}).status_code == 302
    assert clinic.post("prescriber", f"/dosing/{clinic.signed_session}/addenda",
                       {"body": "Lot checked again"}).status_code == 302
    assert clinic.post("therapist", f"/courses/{clinic.course}/formulation",
                       {"presenting_concerns": "Low mood", "revision": "0"}).status_code == 302
    plan = clinic.signed_plan
    _safety_plan(make, clinic)
    # a note signed after the plan follows it and records progress on its objective
    third = clinic.new_note("integration")
    progressed = clinic.integration_data(third, **{"objective_progress-0-lineage": clinic.plan_objective(),
                                                   "objective_progress-0-progress": "some",
                                                   "objective_progress-0-comment": "Two walks"})
    assert clinic.post("therapist", f"/notes/{third}", {**progressed, **SIGNING}).status_code == 302
    # a saved reading changed with a reason: its earlier values are a correction row (of a draft)
    draft = clinic.draft_session
    assert clinic.post("prescriber", f"/dosing/{draft}", clinic.record_data(draft, **{"baseline-systolic": "186"})
                       ).status_code == 302
    assert clinic.post("prescriber", f"/dosing/{draft}", clinic.record_data(
        draft, vitals_correction_reason="Transcription error; monitor showed 128.")).status_code == 302
    # a saved clinical response and adverse event changed with a reason: their earlier versions are
    # revision rows (of the draft)
    response = _draft_response(clinic, draft)
    assert clinic.post("prescriber", f"/dosing/{draft}", clinic.record_data(draft, **response)).status_code == 302
    assert clinic.post("prescriber", f"/dosing/{draft}", clinic.record_data(
        draft, **dict(response, **{"response_post_40-action": "Observed 30 more minutes; prescriber reviewed"}),
        **{"adverse_events-0-severity": "moderate"}, responses_change_reason="Typed before the review ended.",
        adverse_events_change_reason="Severity recorded before the nurse's reassessment.")).status_code == 302
    rows = {"measure_responses": clinic.measure, "safety_alerts": clinic.alert,
            "coordination_notes": clinic.coordination_note, "coordination_reports": clinic.report,
            "discharge_summaries": clinic.discharge_summary, "discharge_copies": clinic.discharge_copy}
    assert clinic.post("therapist", f"/discharge/{clinic.discharge_summary}/addendum",
                       {"body": "Later: booster discussed"}).status_code == 302
    # a release narrower than the clinic's (which permits everything), so widening it is a change
    assert clinic.post("therapist", f"/patients/{clinic.patient}/releases",
                       clinic.release_data(categories=["dosing"])).status_code == 302
    # a copy of the patient's record made for their request (right of access): its accounting row
    assert clinic.post("therapist", f"/patients/{clinic.patient}/record-access", {
        "requested_by": "patient", "received_on": today().isoformat(), "delivery": "in_person"}).status_code == 200
    # the patient's answer about text-message reminders, as the front desk records it
    assert clinic.post("staff", f"/patients/{clinic.patient}/contact-consent",
                       {"channel": "sms", "decision": "withdraw", "method": "phone"}).status_code == 302
    preparation, booked = clinic.preparation_record, clinic.appointment
    process = clinic.process_note
    clinic.login("therapist")
    make.age_login_sessions(last_seen_at=timedelta(minutes=30), created_at=timedelta(minutes=30))
    kept = auth.post(f"/notes/{process}/process", {"body": KEPT_TEXT, "version": "1"})
    assert "/login" in kept.headers["Location"], "a timed-out submission should be kept"
    clinic.signed_in = None
    session = clinic.signed_session
    by_note = "note_id = :id"
    where = {table: ("id = :id", {"id": row_id}) for table, row_id in rows.items()}
    where.update({
        "session_notes": ("id = :id", {"id": first}),
        "note_themes": ("id = :id", {"id": _latest(make, "SELECT max(id) FROM note_themes WHERE note_id = :n", n=first)}),
        "action_steps": ("id = :id", {"id": step}),
        "action_check_ins": ("id = :id", {"id": _latest(make, "SELECT max(id) FROM action_check_ins WHERE note_id = :n",
                                                        n=second)}),
        "note_dosing_links": (by_note, {"id": first}),
        "note_techniques": ("id = :id", {"id": use}),
        "technique_responses": (by_note, {"id": second}),
        "note_objective_progress": (by_note, {"id": third}),
        "dosing_sessions": ("id = :id", {"id": session}),
        "vital_signs": ("id = :id", {"id": _latest(make, "SELECT max(id) FROM vital_signs WHERE dosing_session_id = :s",
                                                   s=session)}),
        "adverse_events": ("id = :id", {"id": _latest(
            make, "SELECT max(id) FROM adverse_events WHERE dosing_session_id = :s", s=session)}),
        "vital_sign_responses": ("id = :id", {"id": _latest(
            make, "SELECT max(id) FROM vital_sign_responses WHERE dosing_session_id = :s", s=session)}),
        "vital_sign_corrections": ("id = :id", {"id": _latest(make, "SELECT max(id) FROM vital_sign_corrections")}),
        "vital_response_revisions": ("id = :id", {"id": _latest(make, "SELECT max(id) FROM vital_response_revisions")}),
        "adverse_event_revisions": ("id = :id", {"id": _latest(make, "SELECT max(id) FROM adverse_event_revisions")}),
        # the entry's course too: the app voids it through the course's checklist form
        "preparation_records": ("id = :id", {"id": preparation, "course": clinic.prep_course}),
        "appointment_changes": ("id = :id", {"id": _latest(
            make, "SELECT max(id) FROM appointment_changes WHERE appointment_id = :a", a=booked)}),
        "phase_transitions": ("id = :id", {"id": _latest(
            make, "SELECT max(id) FROM phase_transitions WHERE course_id = :c", c=clinic.course)}),
    })
    where.update({"treatment_plans": ("id = :id", {"id": plan}), "plan_objectives": ("plan_id = :id", {"id": plan}),
                  "plan_techniques": ("plan_id = :id", {"id": plan})})
    _patient_entries(make, clinic, step)
    where.update(_signed_forms(make, clinic))
    for table in ("audit_events", "protocol_versions", "note_addenda", "dosing_addenda", "case_formulations",
                  "unsaved_work", "releases_of_information", "contact_consents", "practice_logs",
                  "patient_step_check_ins", "plan_addenda", "course_stage_changes", "safety_plan_revisions",
                  "safety_plan_addenda", "safety_plan_reviews", "discharge_addenda", "record_exports"):
        where[table] = ("id = :id", {"id": _latest(make, f"SELECT max(id) FROM {table}")})
    return where


def _safety_plan(make, clinic) -> None:
    """A signed safety plan revision, an addendum on it and a signed review of it."""
    assert clinic.post("therapist", f"/patients/{clinic.patient}/safety-plan/edit", {
        "warning_signs": "Not sleeping", "coping_strategies": "Walk the dog", "professionals-0-name": "988 Lifeline",
        "professionals-0-phone": "988", "action": "sign", "confirm_lock": "y",
        "version": clinic.safety_plan_version()}
    ).status_code == 302
    revision = _latest(make, "SELECT max(id) FROM safety_plan_revisions")
    assert clinic.post("therapist", f"/safety-plans/{revision}/addenda", {"body": "Sister's number changed"}
                       ).status_code == 302
    assert clinic.post("therapist", f"/patients/{clinic.patient}/safety-plan/review", {
        "reviewed_on": today().isoformat(), "with_patient": "yes", "changes": "none", "comment": "Read together"}
    ).status_code == 302


def _patient_entries(make, clinic, step: int) -> None:
    """What the patient writes between sessions: a practice log and a check-in on the signed step."""
    from ketamine_integration.db.types import utcnow
    from ketamine_integration.notes.patient_check_ins import check_in_on_step
    from ketamine_integration.patients.models import Patient
    from ketamine_integration.practices.patient import log_practice
    assignment = clinic.assignment

    def write():
        patient = db.session.get(Patient, clinic.patient)
        log_practice(patient, assignment, "partly", today(), "Rain all week", utcnow())
        check_in_on_step(patient, step, "done", today(), "Nothing in the way", utcnow())
    make.run(write)


def _signed_forms(make, clinic) -> dict[str, tuple[str, dict]]:
    """A course's packet signed on the clinic tablet (the pages come with issue 26's forms UI), its treatment
    consent countersigned, a flagged intake answer reviewed and the transport agreement withdrawn: a course of
    its own in preparation (clinic.course signed the forms dosing needs before its doses were planned). Then
    the tablet handed over again for the agreement, its session still open."""
    from ketamine_integration.accounts.models import User
    from ketamine_integration.courses.models import TreatmentCourse
    from ketamine_integration.signed_forms import services
    from ketamine_integration.signed_forms.models import SignedForm

    course = make.course(clinic.patient, clinic.users["therapist"], clinic.users["prescriber"])
    intake = make.query(lambda: services.packet_status(db.session.get(TreatmentCourse, course))
                        .item("intake-questionnaire").form)
    make.sign_packet(course, flagged={intake.flagged_questions[0].id})

    def follow_up():
        status = services.packet_status(db.session.get(TreatmentCourse, course))
        prescriber = db.session.get(User, clinic.users["prescriber"])
        consent = next(i.signed for i in status.items if i.countersign_role == "prescriber" and i.form.routes)
        services.review_flags(status.item("intake-questionnaire").signed, by=prescriber,
                              note="Discussed with the patient; cleared.")
        services.countersign(consent, by=prescriber)
        services.withdraw(status.item("agreement-transport-no-driving").signed, reason="No one to drive me home.",
                          recorded_by=db.session.get(User, clinic.users["staff"]))
        services.start_tablet_signing(db.session.get(TreatmentCourse, course),
                                      by=db.session.get(User, clinic.users["staff"]))
    make.run(follow_up)
    latest = {table: ("id = :id", {"id": _latest(make, f"SELECT max(id) FROM {table}")})
              for table in ("form_packets", "packet_forms", "signed_forms", "form_countersignatures",
                            "form_flag_reviews", "consent_withdrawals", "tablet_signings")}
    assert make.query(lambda: db.session.get(SignedForm, latest["signed_forms"][1]["id"])) is not None
    return latest


def _draft_response(clinic, draft: int) -> dict:
    """A clinical response at 40 minutes, its later reading within the session's monitoring."""
    from ketamine_integration.experience.models import DosingSession
    start = clinic.make.query(lambda: db.session.get(DosingSession, draft).planned_start)
    return {"response_post_40-action": "Observed 20 more minutes; prescriber reviewed",
            "response_post_40-decided_by": str(clinic.users["prescriber"]),
            "response_post_40-later_at": form_time(start + timedelta(minutes=60)),
            "response_post_40-later_systolic": "130"}


def is_guard_refusal(error) -> bool:
    """Refused by a trigger, not by a key or check constraint (a BEFORE trigger runs first, so a
    constraint error would mean no trigger objected)."""
    orig = getattr(error, "orig", error)
    if getattr(orig, "sqlstate", None) is not None:
        return orig.sqlstate == "P0001"  # RAISE EXCEPTION in a PL/pgSQL trigger
    return "constraint failed" not in str(orig)


@contextmanager
def rolled_back(app, *, guards: bool = True):
    """A connection in a transaction that is always rolled back. guards=False lifts every
    trigger and defers key checks, as the database owner could: what the guards would
    otherwise refuse then goes through (the positive control)."""
    with app.app_context(), db.engine.connect() as conn:
        transaction = conn.begin()
        try:
            if not guards:
                lift_guards(conn)
            yield conn
        finally:
            transaction.rollback()


def lift_guards(conn) -> list[str]:
    """Inside the caller's transaction; returns SQLite's trigger definitions to put back."""
    if conn.dialect.name == "postgresql":
        conn.execute(text("SET LOCAL session_replication_role = replica"))  # user and key triggers off
        return []
    conn.execute(text("PRAGMA defer_foreign_keys = ON"))
    triggers = conn.execute(text("SELECT name, sql FROM sqlite_master WHERE type = 'trigger'")).all()
    _run_ddl(conn, [f'DROP TRIGGER "{name}"' for name, _ in triggers])
    return [sql for _, sql in triggers]


def _run_ddl(conn, statements: list[str]) -> None:
    """SQLite's 150 trigger drops or re-creations on the driver's cursor, inside the connection's
    transaction (the app's SQLite connections leave BEGIN to SQLAlchemy): through SQLAlchemy each
    cost as much again as SQLite's own work."""
    cursor = conn.connection.driver_connection.cursor()
    try:
        for sql in statements:
            cursor.execute(sql)
    finally:
        cursor.close()


@contextmanager
def as_database_owner(app):
    """A committed transaction with the guards lifted and then put back: how an owner with
    console access would edit rows (tests/security/test_audit_tampering.py models the same)."""
    with app.app_context(), db.engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(text("SET LOCAL session_replication_role = replica"))
            yield conn
        else:
            definitions = lift_guards(conn)
            yield conn
            _run_ddl(conn, definitions)
