"""Audit completeness (ASVS 5.0 V16; HIPAA 164.312(b)): every patient-data action of the audit
catalogue, performed once through HTTP by a permitted user, writes exactly one audit row of
its action naming the right patient, and no audit row carries note text.

Every free-text field the clinic is seeded with, and every one the actions submit, holds a
unique sentinel; afterwards every column of every audit row is searched for it.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from io import BytesIO
from typing import Callable

from sqlalchemy import func, select

from ketamine_integration.audit.models import AuditEvent
from ketamine_integration.audit.services import ACTIONS
from ketamine_integration.courses.models import TreatmentCourse
from ketamine_integration.extensions import db
from ketamine_integration.patients.models import Patient

from .clinic import SIGNING, USERNAMES, Clinic, form_time, ics, local, today
from tests.conftest import csrf_token

from .portal_world import accept_data, invitation_token, portal_client, reset_token

SUITE = "Audit completeness"
SENTINEL = "Zq9-SENTINEL-note-text-4417"
#: what an action also changes, audited as its own action, row by row, about the same patient:
#: opting out of every channel withdraws the patient's waiting messages (reminders, invitations);
#: an action that books, moves or cancels a session brings its reminders in line (those it no
#: longer needs withdrawn; one whose moment has passed, to a patient who did not consent, recorded
#: as not sent)
FOLLOWING_APPOINTMENTS = {"message.withdrawn", "reminder.opted_out"}
#: restoring a patient queues again, in their rows, the waiting messages the archiving withdrew
CONSEQUENCES = {"contact_consent.opt_out": {"message.withdrawn"},
                "patient.restore": FOLLOWING_APPOINTMENTS | {"message.requeued"},
                # archiving also revokes the patient's waiting portal links (portal/invitations.follow_patient)
                "patient.archive": FOLLOWING_APPOINTMENTS | {"portal.invite_revoke"},
                # the journal page reads two things of the patient's, each audited by its service: the prompts
                # open now (journal.prompts) and the entries written (journal.view, whose own step is an entry)
                "journal.prompts": {"journal.view"},
                # a safety answer on a portal questionnaire refused for another answer opens the care team's
                # alert: the refusal of the form is its own row (measure.patient_submit, failure)
                "alert.portal_answer": {"measure.patient_submit"},
                # enrolling on a protocol that names forms asks for them (the course's packet), and the reverse
                "course.create": {"forms.packet_create"}, "forms.packet_create": {"course.create"}}

#: catalogue actions that are not a read or write of patient data, and why
NOT_PATIENT_DATA = {
    "login.success": "account event: who signed in",
    "login.failure": "account event",
    "logout": "account event",
    "session.expired": "account event",
    "login.limited": "account event: a sign-in refused by the brute-force limits",
    "login.mfa_due": "account event: the password was right, the second step is due",
    "login.mfa_success": "account event",
    "login.mfa_failure": "account event",
    "mfa.enrol": "the user's own authenticator; no patient data",
    "mfa.recovery_codes": "the user's own recovery codes; no patient data",
    "mfa.turn_off": "the user's own sign-in setting",
    "user.mfa_reset": "staff accounts, not patients",
    "settings.mfa": "a clinic setting",
    "import.check": "reads the uploaded file and reports on its rows; no stored record is shown (what is imported "
                    "is audited row by row: patient.import, measure.import)",
    "access.denied": "records a refusal (nothing was read or written); covered by tests/integration/test_patient_access.py",
    "user.create": "staff accounts, not patients",
    "user.update": "staff accounts, not patients",
    "user.password_reset": "staff accounts, not patients",
    "settings.session_type": "a clinic setting",
    "settings.calendar": "a clinic setting",
    "settings.file_names": "a clinic setting",
    "settings.telehealth": "a clinic setting",
    "settings.reminders": "a clinic setting",
    "settings.practices": "a clinic setting: the practice vocabulary (names of practices, no patient)",
    "settings.notifications": "a clinic setting: the on-call address for urgent safety alerts",
    "account.notifications": "the user's own settings (daily summary time, own video room); no patient data",
    "calendar.feed_create": "makes a secret address for the user's own feed; no patient data read or written",
    "calendar.feed_revoke": "ends the user's own feed address",
    "audit.view": "the admin reading the audit trail itself",
    "audit.export": "the admin exporting the audit trail itself",
    "record.changed": "a write an append-only guard refused (nothing saved or shown); only reached by a race a "
                      "service did not lock against; tests/security/test_append_only_races.py",
    # Whole-clinic operations from the command line (no HTTP route); test_backups.py checks their rows.
    "backup.create": "copies the whole database from the command line, not one patient's record",
    "backup.verify": "checks a backup file against its manifest; reads no record",
    "backup.restore": "replaces the whole database from the command line",
    "fhir.bulk_export": "exports the whole clinic from the command line (flask export fhir), not one patient's "
                        "record; tests/integration/test_fhir_export.py checks its row",
    # Written by the job queue's worker, not by a request (no HTTP route performs them);
    # tests/integration/test_messaging_queue.py checks each row names its patient and no message text.
    "message.sent": "a queued message sent by the worker; its row names the patient, never the body",
    "message.failed": "a queued message the worker gave up on; its row names the patient",
    "message.withdrawn": "a pending message withdrawn by the feature that queued it (reminders, on a moved session)",
    "message.requeued": "a withdrawn message due again (the patient restored, consent or address given again), "
                        "by the feature that queued it; tests/integration/test_reminder_follow.py",
    # Written by the reminder sweep (the worker's periodic job); tests/integration/test_reminder_sweep.py
    "reminder.opted_out": "a reminder due to a patient who does not consent on that channel, not sent; "
                          "its row names the patient and the channel, never the text",
    # The patient portal's account events: the patient's own sign-in, not a read or write of the record;
    # tests/integration/test_portal_sign_in.py checks each names the patient's account as actor.
    "portal.sign_in": "account event: a patient signed in to the portal",
    "portal.sign_in_failure": "account event",
    "portal.code_failure": "account event: a wrong second-step code",
    "portal.enrol": "account event: the patient's own second factor",
    "portal.sign_out": "account event",
    "portal.session_expired": "account event",
    "portal.password_change": "account event: the patient's own password",
    "portal.factor_change": "account event: the patient's own second factor (the current password checked); "
                            "tests/integration/test_portal_account_hardening.py",
}


@dataclass
class Step:
    role: str                          #: who performs it ("anonymous": no session, e.g. a feed poll)
    request: Callable[[], object]      #: the one request measured
    patient: Callable[[], int | None]  #: the patient its audit row must name (None: a list of many)
    #: the status its request answers when that is a refusal on purpose (None: any success)
    status: int | None = None
    #: the patients a list action's consequences may name (None: only the patient its row names); confirming
    #: the auto-schedule books for every proposed course, and a booking whose reminder moment has already
    #: passed records that reminder, in the booked patient's row, as not sent
    touched: Callable[[], set[int]] | None = None


def _newest_patient() -> int:
    return db.session.scalar(select(func.max(Patient.id)))


def _import_step(c: Clinic, kind: str, content: str, filename: str, patient: Callable[[], int | None]) -> Step:
    """Check the file first (its own import.check row, before the measured request), then import it."""
    c.login("staff")
    def upload(**extra):
        return c.auth.post(f"/imports/{'run' if extra else 'check'}", {
            "kind": kind, "import_file": (BytesIO(content.encode()), filename), **extra},
            content_type="multipart/form-data")
    digest = re.search(r'name="digest"[^>]*value="([0-9a-f]{64})"', upload().get_data(as_text=True)).group(1)
    return Step("staff", lambda: upload(digest=digest), patient)


def _gad7_observation(c: Clinic) -> str:
    """A GAD-7 of yesterday for the clinic's patient, as FHIR names it (MRN, LOINC)."""
    from ketamine_integration.imports.patient_rows import MRN_SYSTEM
    mrn = c.make.query(lambda: db.session.get(Patient, c.patient).mrn)
    c.course  # noqa: B018 - the course the questionnaire is filed under
    items = ("69725-0", "68509-9", "69733-4", "69734-2", "69735-9", "69689-8", "69736-7")
    return json.dumps({"resourceType": "Observation", "status": "final",
                       "code": {"coding": [{"system": "http://loinc.org", "code": "69737-5"}]},
                       "subject": {"identifier": {"system": MRN_SYSTEM, "value": mrn}},
                       "effectiveDateTime": (today() - timedelta(days=1)).isoformat(),
                       "component": [{"code": {"coding": [{"system": "http://loinc.org", "code": code}]},
                                      "valueInteger": 1} for code in items]})


def _auto_schedule_rows(c: Clinic) -> dict:
    """What the auto-schedule page proposes, as its confirm form would post it."""
    page = c.get("staff", "/schedule/auto?days=14").get_data(as_text=True)
    fields = {name: re.findall(rf'name="{name}" value="([^"]*)"', page)
              for name in ("course", "window", "therapist", "starts_at", "room", "pick")}
    assert fields["course"], "the auto-schedule proposed nothing to confirm"
    return {**fields, "days": "14"}   # every row ticked, as the page offers them


def _patients_of(course_ids: list[str]) -> set[int]:
    return set(db.session.scalars(select(TreatmentCourse.patient_id).where(
        TreatmentCourse.id.in_([int(i) for i in course_ids]))))


def _working_hours(c: Clinic) -> None:
    from datetime import time
    from ketamine_integration.bookings.models import WorkingHours
    c.make.run(lambda: db.session.add_all(WorkingHours(clinician_id=c.users["therapist"], weekday=d,
                                                       starts=time(7), ends=time(21)) for d in range(7)))


def _free_time(c: Clinic) -> datetime:
    """A clinic time inside the signed session's window that none of the patient's bookings holds
    (the auto-schedule confirmed just before may have taken any slot, depending on today's weekday)."""
    from ketamine_integration.bookings.models import Appointment
    taken = c.make.run(lambda: [(a.starts_at, a.ends_at) for a in db.session.scalars(
        select(Appointment).where(Appointment.patient_id == c.patient, Appointment.status == "booked"))])
    for start in (local(day, hour) for day in (2, 3, 1) for hour in (8, 11, 14, 17)):
        end = start + timedelta(minutes=50)
        if all(end <= s or start >= e for s, e in taken):
            return start
    raise AssertionError("no free time for the patient in the next three days")


def actions(c: Clinic, anon) -> dict[str, Callable[[], Step]]:
    """Each patient-data action: seed what it needs, then the one request that performs it.

    Seeding happens when the step is made (a cached property touched inside the request would
    seed during it, and its audit rows would be taken for the action's)."""
    s, p = SENTINEL, lambda: c.patient
    other = {}

    def archived():
        other["id"] = c.make.patient(given_name="Arch", family_name="Fictional")
        return other["id"]

    def plan_course():
        return c.make.course(c.patient, c.users["therapist"], c.users["prescriber"], phase="experience",
                             protocol="im-ketamine-kap")

    def invited():
        other["invited"] = c.make.patient(given_name="Ivy", family_name="Fictional", email="ivy@fictional.invalid")
        return other["invited"]

    def patient_portal():
        """A client signed in to the portal as the patient (made once)."""
        if "portal" not in other:
            other["portal"] = portal_client(c.make, c.make.portal_account(c.patient))
        return other["portal"][0]

    def patient_auth():
        patient_portal()
        return other["portal"][1]

    def safety_answers():
        """The patient's own PHQ-9 with item 9 above "Not at all" (kept whatever the schedule says), whose
        crisis page the step opens."""
        from ketamine_integration.notes.models import MeasureResponse
        sent = patient_auth().post(f"/portal/questionnaires/{c.course}/phq9/baseline",
                                   {**{f"item{n}": "0" for n in range(1, 9)}, "item9": "1"})
        assert sent.status_code == 302, sent.status_code
        return c.make.query(lambda: db.session.scalar(select(func.max(MeasureResponse.id)).where(
            MeasureResponse.completed_by_patient)))
    def portal_post(url: str, data: dict):
        patient_portal()
        return other["portal"][1].post(url, data)

    def own_entry() -> int:
        """The patient's newest journal entry (the one journal.write wrote through the page)."""
        from ketamine_integration.journal.models import JournalEntry
        return c.make.query(lambda: db.session.scalar(select(func.max(JournalEntry.id)).where(
            JournalEntry.patient_id == c.patient)))

    def managed() -> int:
        """A patient with an accepted portal account of their own, for the staff's account steps (the
        patient's own account stays signed in for the portal steps)."""
        if "managed" not in other:
            other["managed"] = c.make.patient(given_name="Mona", family_name="Fictional",
                                              email="mona@fictional.invalid")
            c.make.portal_account(other["managed"])
        return other["managed"]

    def manage_step(action: str, data: dict | None) -> Step:
        """Staff on the managed patient's portal account: a GET of the page (data None), else a POST."""
        patient = managed()
        url = f"/patients/{patient}/portal/{action}"
        return Step("staff", (lambda: c.auth.client.get(url)) if data is None else (lambda: c.auth.post(url, data)),
                    lambda: patient)

    def resetting():
        token = reset_token(c.make, managed())
        browser = c.make.app.test_client()
        form = {**accept_data(), "csrf_token": csrf_token(c.make.app, browser)}
        return Step("anonymous", lambda: browser.post(f"/portal/accept/{token}", data=form), managed)

    def accepting():
        token = invitation_token(c.make, email="una@fictional.invalid")
        browser = c.make.app.test_client()
        form = {**accept_data(), "csrf_token": csrf_token(c.make.app, browser)}
        return Step("anonymous", lambda: browser.post(f"/portal/accept/{token}", data=form), _newest_patient)

    return {
        "patient.list": lambda: Step("staff", lambda: c.auth.client.get("/patients/?q=Fictional"), lambda: None),
        "message.list": lambda: Step("staff", lambda: c.auth.client.get("/messages"), lambda: None),
        # aggregates over courses, no patient named: audited as a read of many, with its filters
        "outcomes.view": lambda: Step("admin", lambda: c.auth.client.get("/outcomes/"), lambda: None),
        "outcomes.export": lambda: Step("admin", lambda: c.auth.client.get("/outcomes/outcomes.csv"), lambda: None),
        "patient.create": lambda: Step("staff", lambda: c.auth.post("/patients/new", {
            "given_name": "Newt", "family_name": "Fictional", "preferred_name": s, "date_of_birth": "1985-02-03",
            "emergency_contact_name": s, "emergency_contact_relationship": s, "emergency_contact_phone": "555-0100"}),
            _newest_patient),
        "patient.view": lambda: Step("staff", lambda: c.auth.client.get(f"/patients/{c.patient}"), p),
        "patient.import": lambda: _import_step(c, "patients", "given_name,family_name,preferred_name,date_of_birth\n"
                                                              f"Impo,Fictional,{s},1983-04-05\n", "patients.csv",
                                               _newest_patient),
        "measure.import": lambda: _import_step(c, "measures", _gad7_observation(c), "history.json", p),
        "patient.update": lambda: Step("staff", lambda: c.auth.post(f"/patients/{c.patient}/edit", {
            "given_name": "Fuzzy", "family_name": "Fictional", "preferred_name": s, "date_of_birth": "1980-05-17",
            "therapists": [str(c.users["therapist"])], "prescribers": [str(c.users["prescriber"])],
            "nurses": [str(c.users["nurse"])], "version": c.version("patient", c.patient)}), p),
        # the team only (the details as patient.update left them): one care_team.change row, no patient.update
        "care_team.change": lambda: (lambda cover: Step("staff", lambda: c.auth.post(f"/patients/{c.patient}/edit", {
            "given_name": "Fuzzy", "family_name": "Fictional", "preferred_name": s, "date_of_birth": "1980-05-17",
            "therapists": [str(c.users["therapist"]), str(cover)], "prescribers": [str(c.users["prescriber"])],
            "nurses": [str(c.users["nurse"])], "team_reason": "covering the holidays", "version": c.version("patient", c.patient)}), p))(
            c.make.user("therapist")),
        "patient.archive": lambda: (archived(), Step("staff", lambda: c.auth.post(
            f"/patients/{other['id']}/archive", {}), lambda: other["id"]))[1],
        "patient.restore": lambda: Step("staff", lambda: c.auth.post(f"/patients/{other['id']}/restore", {}),
                                        lambda: other["id"]),
        "course.view": lambda: Step("staff", lambda: c.auth.client.get(f"/courses/{c.course}"), p),
        "course.create": lambda: Step("staff", lambda: c.auth.post(f"/patients/{c.patient}/courses/new", {
            "protocol": "im-ketamine-kap@4", "start_date": today().isoformat(), "indication": s,
            "therapist": str(c.users["therapist"]), "prescriber": str(c.users["prescriber"])}), p),
        # on a course of its own: medical clearance, the one item still ticked where the protocol names forms
        # (issue 26), is the voided entry's too
        "preparation.record": lambda: (lambda course: Step("prescriber", lambda: c.auth.post(
            f"/courses/{course}/preparation", {"item": "medical_clearance", "completed_on": today().isoformat(),
                                               "note": s}), p))(c.make.course(
            c.patient, c.users["therapist"], c.users["prescriber"], protocol="im-ketamine-kap")),
        "preparation.void": lambda: (c.preparation_record, Step("therapist", lambda: c.auth.post(
            f"/courses/{c.prep_course}/preparation/{c.preparation_record}/void", {"reason": s}), p))[1],
        "course.phase_change": lambda: Step("therapist", lambda: c.auth.post(f"/courses/{c.prep_course}/phase", {
            "target": "experience", "reason": s, "override": "y", "version": c.version("course", c.prep_course)}), p),
        "dosing.plan": lambda: (lambda course: Step("staff", lambda: c.auth.post(f"/courses/{course}/dosing/plan", {
            "first_start": form_time(local(3)), "days_between": "3", "count": "1", "reason": s,
            "clinician": str(c.users["prescriber"]), "room": str(c.room)}), p))(plan_course()),
        "dosing.view": lambda: (c.signed_session, Step("prescriber", lambda: c.auth.client.get(
            f"/dosing/{c.signed_session}"), p))[1],
        "dosing.update": lambda: Step("prescriber", lambda: c.auth.post(
            f"/dosing/{c.draft_session}", c.record_data(c.draft_session, spacing_reason=s)), p),
        "dosing.sign": lambda: Step("prescriber", lambda: c.auth.post(
            f"/dosing/{c.draft_session}/sign", {"version": c.version("dosing", c.draft_session)}), p),
        "dosing.addendum": lambda: Step("prescriber", lambda: c.auth.post(
            f"/dosing/{c.signed_session}/addenda", {"body": s}), p),
        "dosing.reschedule": lambda: Step("staff", lambda: c.auth.post(
            f"/dosing/{c.planned_session}/reschedule", {"planned_start": form_time(local(0, 15)), "reason": s}), p),
        "dosing.cancel": lambda: Step("staff", lambda: c.auth.post(
            f"/dosing/{c.planned_session}/cancel", {"reason": s}), p),
        "rems.list": lambda: (c.rems_signed_session, Step("prescriber", lambda: c.auth.client.get("/rems/"),
                                                          lambda: None))[1],
        "rems.print": lambda: Step("prescriber", lambda: c.auth.client.get(f"/dosing/{c.rems_signed_session}/rems.pdf"),
                                   p),
        "rems.submitted": lambda: Step("prescriber", lambda: c.auth.post(
            f"/dosing/{c.rems_signed_session}/rems-submitted", {"submitted_on": today().isoformat()}), p),
        "schedule.propose": lambda: (_working_hours(c), c.signed_session, Step(
            "staff", lambda: c.auth.client.get("/schedule/auto?days=14"), lambda: None))[2],
        "schedule.confirm": lambda: (lambda rows: Step("staff", lambda: c.auth.post("/schedule/auto/confirm", rows),
                                                       lambda: None, touched=lambda: _patients_of(rows["course"])))(
            _auto_schedule_rows(c)),
        "appointment.create": lambda: (lambda free: Step("staff", lambda: c.auth.post(
            f"/courses/{c.course}/sessions", c.booking_data(starts_at=form_time(free))), p))(_free_time(c)),
        "appointment.update": lambda: (c.appointment, Step("staff", lambda: c.auth.post(
            f"/appointments/{c.appointment}/reschedule", {"starts_at": form_time(local(3, 16)), "reason": s}), p))[1],
        "appointment.invite": lambda: Step("staff", lambda: c.auth.client.get(
            f"/appointments/{c.appointment}/invite.ics"), p),
        "appointment.view": lambda: Step("staff", lambda: c.auth.client.get(f"/appointments/{c.appointment}"), p),
        "calendar.feed_read": lambda: (c.feed, Step("anonymous", lambda: anon.get(c.feed_path), lambda: None))[1],
        "calendar.import": lambda: Step("therapist", lambda: c.auth.post(
            f"/availability/{c.users['therapist']}/calendar-import",
            {"calendar_file": (BytesIO(ics((local(4, 9), local(4, 10)))), "work.ics")},
            content_type="multipart/form-data"), lambda: None),
        "note.create": lambda: Step("therapist", lambda: c.auth.post(f"/courses/{c.course}/notes", {
            "note-kind": "integration", "note-session_date": today().isoformat()}), p),
        "note.update": lambda: (c.draft_note, Step("therapist", lambda: c.auth.post(
            f"/notes/{c.draft_note}", c.integration_data(c.draft_note)), p))[1],
        # the whole form saved and signed: one row, the signature's
        "note.sign": lambda: Step("therapist", lambda: c.auth.post(
            f"/notes/{c.draft_note}", c.integration_data(c.draft_note, **SIGNING)), p),
        "note.discard": lambda: (lambda note: Step("therapist", lambda: c.auth.post(
            f"/notes/{note}/discard", {"discard-confirm": "y", "discard-version": c.version("note", note)}), p))(
            c.new_note()),
        "plan.view": lambda: (c.signed_plan, Step("therapist", lambda: c.auth.client.get(f"/courses/{c.course}/plan"),
                                                  p))[1],
        "plan.create": lambda: (lambda course: Step("therapist", lambda: c.auth.post(
            f"/courses/{course}/plan/revisions", {}), p))(
            c.make.course(c.patient, c.users["therapist"], c.users["prescriber"], phase="integration")),
        "plan.update": lambda: (lambda plan: Step("therapist", lambda: c.auth.post(f"/plans/{plan}", c.plan_data(
            plan, problems_patient=s)), p))(c.plan_draft()),
        "plan.sign": lambda: (lambda plan: Step("therapist", lambda: c.auth.post(f"/plans/{plan}", c.plan_data(
            plan, problems_patient=s, **SIGNING)), p))(c.plan_draft()),
        "plan.addendum": lambda: (c.signed_plan, Step("therapist", lambda: c.auth.post(
            f"/plans/{c.signed_plan}/addenda", {"addendum-body": s}), p))[1],
        "plan.stage": lambda: (c.signed_plan, Step("therapist", lambda: c.auth.post(
            f"/courses/{c.course}/stage", {"stage-stage": "deepen", "stage-reason": s}), p))[1],
        "note.view": lambda: (c.signed_note, Step("therapist", lambda: c.auth.client.get(f"/notes/{c.signed_note}"),
                                                  p))[1],
        "note.addendum": lambda: Step("therapist", lambda: c.auth.post(f"/notes/{c.signed_note}/addenda",
                                                                       {"body": s}), p),
        "note.themes": lambda: Step("therapist", lambda: c.auth.client.get(f"/patients/{c.patient}/themes"), p),
        "note.action_steps": lambda: Step("therapist", lambda: c.auth.client.get(
            f"/courses/{c.course}/action-steps"), p),
        "note.techniques": lambda: Step("therapist", lambda: c.auth.client.get(f"/courses/{c.course}/techniques"), p),
        "process_note.update": lambda: Step("therapist", lambda: c.auth.post(
            f"/notes/{c.signed_note}/process", {"body": s, "version": ""}), p),
        "process_note.read": lambda: Step("therapist", lambda: c.auth.client.get(f"/notes/{c.signed_note}/process"),
                                          p),
        "formulation.update": lambda: Step("therapist", lambda: c.auth.post(f"/courses/{c.course}/formulation", {
            "presenting_concerns": s, "patterns": s, "core_beliefs": s, "emotion_nervous_system": s,
            "development_context": s, "strengths": s, "why_now": s, "maintaining_factors": s, "what_might_help": s,
            "revision": "0"}), p),
        "formulation.view": lambda: Step("therapist", lambda: c.auth.client.get(f"/courses/{c.course}/formulation"),
                                         p),
        "safety_plan.view": lambda: Step("prescriber", lambda: c.auth.client.get(
            f"/patients/{c.patient}/safety-plan"), p),
        "safety_plan.save": lambda: Step("therapist", lambda: c.auth.post(f"/patients/{c.patient}/safety-plan/edit", {
            **c.SAFETY_PLAN, "warning_signs": s, "action": "save", "version": c.safety_plan_version()}), p),
        "safety_plan.sign": lambda: Step("therapist", lambda: c.auth.post(f"/patients/{c.patient}/safety-plan/edit", {
            **c.SAFETY_PLAN, "action": "sign", "confirm_lock": "y", "version": c.safety_plan_version()}), p),
        "safety_plan.addendum": lambda: (c.safety_plan, Step("therapist", lambda: c.auth.post(
            f"/safety-plans/{c.safety_plan}/addenda", {"body": s}), p))[1],
        "safety_plan.review": lambda: (c.safety_plan, Step("therapist", lambda: c.auth.post(
            f"/patients/{c.patient}/safety-plan/review", {"reviewed_on": today().isoformat(), "with_patient": "yes",
                                                          "changes": "none", "comment": s}), p))[1],
        "measure.create": lambda: Step("therapist", lambda: c.phq9(), p),
        "measure.view": lambda: Step("therapist", lambda: c.auth.client.get(f"/courses/{c.course}/measures"), p),
        "measure.void": lambda: (c.measure, Step("therapist", lambda: c.auth.post(
            f"/measures/{c.measure}/void", {"reason": s}), p))[1],
        "alert.acknowledge": lambda: (c.alert, Step("therapist", lambda: c.auth.post(
            f"/alerts/{c.alert}/acknowledge", {"note": s}), p))[1],
        "contact_consent.view": lambda: Step("staff", lambda: c.auth.client.get(
            f"/patients/{c.patient}/contact-consent"), p),
        "contact_consent.record": lambda: Step("therapist", lambda: c.auth.post(
            f"/patients/{c.patient}/contact-consent", {"channel": "sms", "decision": "withdraw",
                                                        "method": "in_person"}), p),
        "contact_consent.opt_out": lambda: Step("staff", lambda: c.auth.post(
            f"/patients/{c.patient}/contact-consent/opt-out", {"opt_out-method": "written_form"}), p),
        "practice.assign": lambda: Step("therapist", lambda: c.auth.post(f"/courses/{c.course}/practices", {
            f"assign-{k}": v for k, v in c.assign_data(instructions=s).items()}), p),
        # the patient's own, through the portal's pages (before the assignment is ended below)
        "practice.view": lambda: (c.assignment, patient_portal(), Step("anonymous", lambda: other["portal"][0].get(
            "/portal/practices/"), p))[2],
        "practice.log": lambda: Step("anonymous", lambda: other["portal"][1].post(
            f"/portal/practices/{c.assignment}", {"outcome": "partly", "for_date": today().isoformat(), "note": s}), p),
        "step.view": lambda: (c.step, patient_portal(), Step("anonymous", lambda: other["portal"][0].get(
            "/portal/steps/"), p))[2],
        "step_check_in.record": lambda: Step("anonymous", lambda: other["portal"][1].post(
            f"/portal/steps/{c.step}", {"progress": "not", "for_date": today().isoformat(), "obstacles": s}), p),
        "practice.end": lambda: (c.assignment, Step("therapist", lambda: c.auth.post(
            f"/practice-assignments/{c.assignment}/end", {}), p))[1],
        "release.view": lambda: Step("therapist", lambda: c.auth.client.get(f"/patients/{c.patient}/releases"), p),
        "release.create": lambda: Step("therapist", lambda: c.auth.post(f"/patients/{c.patient}/releases",
                                                                        c.release_data(recipient="0",
                                                                                       recipient_name=s,
                                                                                       outside_care_team="y")), p),
        "coordination.view": lambda: (c.shared_course, Step("therapist", lambda: c.auth.client.get(
            f"/courses/{c.shared_course}/coordination"), p))[1],
        "coordination.send": lambda: Step("therapist", lambda: c.auth.post(f"/courses/{c.shared_course}/coordination", {
            "recipient": str(c.users["prescriber"]), "priority": "urgent", "category": "other", "body": s}), p),
        "coordination.acknowledge": lambda: (c.coordination_note, Step("prescriber", lambda: c.auth.post(
            f"/coordination/{c.coordination_note}/acknowledge", {"reply": s}), p))[1],
        "report.preview": lambda: Step("therapist", lambda: c.auth.post(
            f"/courses/{c.shared_course}/report-preview",
            {"recipient": str(c.users["prescriber"]), "questions": s, "recommendations": s}), p),
        "report.create": lambda: Step("therapist", lambda: c.auth.post(f"/courses/{c.shared_course}/reports", {
            "recipient": str(c.users["prescriber"]), "questions": s, "recommendations": s}), p),
        "report.download": lambda: (c.report, Step("prescriber", lambda: c.auth.client.get(
            f"/reports/{c.report}.pdf"), p))[1],
        # the discharge summary of an ended course: its page, started, saved, signed, amended, downloaded,
        # sent to the prescriber under the release, and that copy downloaded by them
        "discharge.view": lambda: (c.ended_course, Step("therapist", lambda: c.auth.client.get(
            f"/courses/{c.ended_course}/discharge"), p))[1],
        "discharge.create": lambda: Step("therapist", lambda: c.auth.post(f"/courses/{c.ended_course}/discharge", {}),
                                         p),
        "discharge.update": lambda: (c.discharge_draft, Step("therapist", lambda: c.auth.post(
            f"/discharge/{c.discharge_draft}", c.discharge_data(c.discharge_draft)), p))[1],
        "discharge.sign": lambda: Step("therapist", lambda: c.auth.post(
            f"/discharge/{c.discharge_draft}", c.discharge_data(c.discharge_draft, confirm_sign="y", sign="1")), p),
        "discharge.addendum": lambda: (c.discharge_summary, Step("therapist", lambda: c.auth.post(
            f"/discharge/{c.discharge_summary}/addendum", {"body": s}), p))[1],
        "discharge.download": lambda: Step("therapist", lambda: c.auth.client.get(
            f"/discharge/{c.discharge_summary}.pdf"), p),
        "fhir.export": lambda: Step("therapist", lambda: c.auth.client.get(f"/patients/{c.patient}/export/fhir"), p),
        "discharge.send": lambda: (c.release, Step("therapist", lambda: c.auth.post(
            f"/discharge/{c.discharge_summary}/send", {"recipient": str(c.users["prescriber"])}), p))[1],
        "discharge.copy_download": lambda: (c.discharge_copy, Step("prescriber", lambda: c.auth.client.get(
            f"/discharge-copies/{c.discharge_copy}.pdf"), p))[1],
        "release.revoke": lambda: (c.release, Step("therapist", lambda: c.auth.post(
            f"/releases/{c.release}/revoke", {"revoked_on": today().isoformat()}), p))[1],
        # right of access: the page, a representative's request and its copy (the name typed is the sentinel: in
        # the request's row, never in the audit row), then the patient's own page and download in the portal
        "record_export.view": lambda: Step("therapist", lambda: c.auth.client.get(
            f"/patients/{c.patient}/record-access"), p),
        "record_export.create": lambda: (c.course, Step("therapist", lambda: c.auth.post(
            f"/patients/{c.patient}/record-access", {"requested_by": "representative", "representative_name": s,
                                                    "representative_authority": s, "received_on": today().isoformat(),
                                                    "delivery": "mail", "delivery_note": s}), p))[1],
        "record_export.portal_view": lambda: (lambda client: Step("anonymous", lambda: client.get(
            "/portal/record/"), p))(patient_portal()),
        "record_export.portal_download": lambda: (lambda patient: Step("anonymous", lambda: patient.post(
            "/portal/record/", {}), p))(patient_auth()),
        # the patient portal: invitations from the patient page, then the patient's own reads
        "portal.invite": lambda: (lambda patient: Step("staff", lambda: c.auth.post(
            f"/patients/{patient}/portal/invite", {}), lambda: patient))(invited()),
        "portal.invite_resend": lambda: Step("staff", lambda: c.auth.post(
            f"/patients/{other['invited']}/portal/resend", {}), lambda: other["invited"]),
        "portal.invite_revoke": lambda: Step("staff", lambda: c.auth.post(
            f"/patients/{other['invited']}/portal/revoke", {}), lambda: other["invited"]),
        "portal.accept": accepting,
        # staff manage an accepted account: turn it off (a confirmation page first) and on, reset it
        "portal.turn_off_view": lambda: manage_step("turn-off", None),
        "portal.turn_off": lambda: manage_step("turn-off", {"why": s}),
        "portal.turn_on": lambda: manage_step("turn-on", {}),
        "portal.reset": lambda: manage_step("reset", {}),
        "portal.reset_cancel": lambda: manage_step("reset/cancel", {}),
        "portal.reset_use": resetting,
        "portal.home": lambda: (lambda client: Step("anonymous", lambda: client.get("/portal/"), p))(patient_portal()),
        "portal.account_view": lambda: (lambda client: Step("anonymous", lambda: client.get("/portal/account"), p))(
            patient_portal()),
        "portal.calendar": lambda: (lambda client, appointment: Step(
            "anonymous", lambda: client.get(f"/portal/sessions/{appointment}.ics"), p))(
            patient_portal(), c.appointment),
        # the patient's questionnaires: the list, one questionnaire, its answers (the GAD-7 at baseline: no
        # clinician records one here, no safety answer), and the crisis page after a safety answer
        "portal.questionnaires": lambda: (lambda client: Step("anonymous", lambda: client.get(
            "/portal/questionnaires/"), p))(patient_portal()),
        "portal.questionnaire_view": lambda: (lambda client: Step("anonymous", lambda: client.get(
            f"/portal/questionnaires/{c.course}/gad7/baseline"), p))(patient_portal()),
        "measure.patient_submit": lambda: (lambda patient: Step("anonymous", lambda: patient.post(
            f"/portal/questionnaires/{c.course}/gad7/baseline", {f"item{n}": "0" for n in range(1, 8)}), p))(
            patient_auth()),
        # PHQ-9 item 9 answered 2 with question 3 left empty: the form is refused (422), the alert opens
        "alert.portal_answer": lambda: (lambda patient: Step("anonymous", lambda: patient.post(
            f"/portal/questionnaires/{c.course}/phq9/baseline",
            {**{f"item{n}": "0" for n in (1, 2, 4, 5, 6, 7, 8)}, "item9": "2"}), p, status=422))(patient_auth()),
        "portal.questionnaire_support": lambda: (lambda client, response: Step("anonymous", lambda: client.get(
            f"/portal/questionnaires/answers/{response}/support"), p))(patient_portal(), safety_answers()),
        # the patient's journal, on the portal's journal pages (the entry: the patient's, written there first)
        "journal.write": lambda: (c.course, patient_portal(), Step("anonymous", lambda: portal_post(
            "/portal/journal/", {"prompt": "free", "dosing_session_id": "", "text": s}), p))[2],
        "journal.prompts": lambda: Step("anonymous", lambda: patient_portal().get("/portal/journal/"), p),
        "journal.view": lambda: (lambda entry: Step("anonymous", lambda: patient_portal().get(
            f"/portal/journal/{entry}/edit"), p))(own_entry()),
        "journal.edit": lambda: (lambda entry: Step("anonymous", lambda: portal_post(
            f"/portal/journal/{entry}/edit", {"text": s, "version": c.version("journal", entry)}), p))(own_entry()),
        "journal.share": lambda: (lambda entry: Step("anonymous", lambda: portal_post(
            f"/portal/journal/{entry}/share", {}), p))(own_entry()),
        "journal.unshare": lambda: (lambda entry: Step("anonymous", lambda: portal_post(
            f"/portal/journal/{entry}/stop-sharing", {}), p))(own_entry()),
        **_forms_steps(c, s, p, patient_portal, patient_auth),
    }


def _forms_steps(c: Clinic, s: str, p, patient_portal, patient_auth) -> dict[str, Callable[[], Step]]:
    """The intake and consent forms (issue 26): enrolment asks for the packet; the patient's pages in the portal;
    the care team's packet page, a signed form and its PDF, countersigning, the flag review; the clinic tablet
    (its own device: handing it over signs its staff member out); a withdrawal last."""
    from tests.conftest import Auth
    from .form_targets import answer_form_targets

    tablet: dict = {}

    def tablet_device():
        """A device the therapist signs in on, to hand over to the patient (made once)."""
        if not tablet:
            tablet["client"] = c.make.app.test_client()
            tablet["auth"] = Auth(c.make.app, tablet["client"])
            tablet["auth"].sign_in(USERNAMES["therapist"])
        return tablet["auth"]

    def sign_step():
        [(key, target)] = [(k, t) for k, t in answer_form_targets().items() if "AgreementTransport" in k]
        url, data = target.url(c), target.baseline(c)
        return Step("anonymous", lambda: patient_auth().post(url, data), p)

    signed = lambda: c.signed_consent  # noqa: E731 - the IV consent signed on a tablet, one answer flagged
    return {
        "forms.packet_create": lambda: Step("staff", lambda: c.auth.post(f"/patients/{c.patient}/courses/new", {
            "protocol": "sublingual-ketamine-kap@4", "start_date": today().isoformat(), "indication": s,
            "therapist": str(c.users["therapist"]), "prescriber": str(c.users["prescriber"])}), p),
        "forms.portal_list": lambda: Step("anonymous", lambda: patient_portal().get("/portal/forms/"), p),
        "forms.sign": sign_step,
        "forms.portal_view": lambda: (lambda form: Step("anonymous", lambda: patient_portal().get(
            f"/portal/forms/signed/{form}"), p))(signed()),
        "forms.portal_download": lambda: (lambda form: Step("anonymous", lambda: patient_portal().get(
            f"/portal/forms/signed/{form}.pdf"), p))(signed()),
        "forms.packet_view": lambda: Step("therapist", lambda: c.auth.client.get(f"/courses/{c.course}/forms"), p),
        "forms.view": lambda: (lambda form: Step("therapist", lambda: c.auth.client.get(f"/signed-forms/{form}"), p))(
            signed()),
        "forms.download": lambda: (lambda form: Step("therapist", lambda: c.auth.client.get(
            f"/signed-forms/{form}.pdf"), p))(signed()),
        "forms.countersign": lambda: (lambda form: Step("prescriber", lambda: c.auth.post(
            f"/signed-forms/{form}/countersign", {}), p))(c.countersign_consent),  # no flag: nothing to review first
        "forms.review_flags": lambda: (lambda form: Step("prescriber", lambda: c.auth.post(
            f"/signed-forms/{form}/review", {f"review-{form}-note": s}), p))(signed()),
        "forms.tablet_start_view": lambda: (lambda course: Step("staff", lambda: c.auth.client.get(
            f"/courses/{course}/forms/tablet"), p))(c.tablet_course),
        "forms.tablet_start": lambda: (lambda device, course: Step("anonymous", lambda: device.post(
            f"/courses/{course}/forms/tablet", {}), p))(tablet_device(), c.tablet_course),
        "forms.tablet_view": lambda: Step("anonymous", lambda: tablet_device().client.get("/tablet/"), p),
        "forms.tablet_end": lambda: Step("anonymous", lambda: tablet_device().post("/tablet/done", {}), p),
        "forms.withdraw": lambda: (lambda form: Step("anonymous", lambda: patient_auth().post(
            f"/portal/forms/signed/{form}/withdraw", {"reason": s}), p))(signed()),
    }


def test_the_table_covers_every_action_of_the_catalogue(make, auth):
    listed = set(actions(Clinic(make, auth), None))
    assert sorted(set(ACTIONS) - listed - set(NOT_PATIENT_DATA)) == [], \
        "audited actions missing from this suite: add them to actions() or to NOT_PATIENT_DATA with a reason"
    assert sorted((listed | set(NOT_PATIENT_DATA)) - set(ACTIONS)) == []
    assert not listed & set(NOT_PATIENT_DATA)


def _new_rows(make, after_id: int) -> list[AuditEvent]:
    return make.query(lambda: db.session.scalars(select(AuditEvent).where(AuditEvent.id > after_id)
                                                 .order_by(AuditEvent.id)).all())


def _last_id(make) -> int:
    return make.query(lambda: db.session.scalar(select(func.coalesce(func.max(AuditEvent.id), 0))))


def test_each_patient_data_action_writes_one_row_naming_its_patient_and_no_note_text(app, make, auth, databases,
                                                                                     figures):
    clinic = Clinic(make, auth, text=SENTINEL)
    anon = app.test_client()
    problems, exact = [], 0
    table = actions(clinic, anon)
    for action, step_for in table.items():
        step = step_for()
        if step.role != "anonymous":
            clinic.login(step.role)
        last = _last_id(make)
        response = step.request()
        assert response.status_code == step.status if step.status else response.status_code < 400, \
            f"{action}: the request itself failed ({response.status_code})"
        written = _new_rows(make, last)
        rows = [r for r in written if r.action == action]
        expected = make.query(step.patient)
        consequences = [r for r in written if r.action in CONSEQUENCES.get(action, FOLLOWING_APPOINTMENTS)]
        allowed = make.query(step.touched) if step.touched else {expected}
        if any(r.patient_id not in allowed for r in consequences):
            problems.append(f"{action}: its consequences name other patients")
        written = [r for r in written if r not in consequences]
        if len(rows) != 1 or len(written) != 1:
            problems.append(f"{action}: {len(rows)} rows of its own, {len(written)} in all "
                            f"({', '.join(r.action for r in written)})")
        elif rows[0].patient_id != expected or rows[0].outcome != "success":
            problems.append(f"{action}: names patient {rows[0].patient_id} ({rows[0].outcome}), expected {expected}")
        else:
            exact += 1
    leaking = make.query(lambda: [r for r in db.session.scalars(select(AuditEvent))
                                  if any(SENTINEL in str(getattr(r, col.key) or "")
                                         for col in AuditEvent.__table__.columns)])
    figures.record(SUITE, "patient-data actions", f"{len(table)} actions, {exact} with exactly one row, "
                   f"{len(leaking)} rows with note text", engine=databases.name)
    assert problems == []
    assert [(r.action, r.detail) for r in leaking] == []
    # the sentinel really went in: it is in the notes the suite wrote, just not in the audit trail
    from ketamine_integration.notes.models import NoteAddendum
    assert make.query(lambda: db.session.scalar(select(func.count()).select_from(NoteAddendum)
                                                .where(NoteAddendum.body == SENTINEL))) == 1
