"""Audit completeness by route (ASVS 5.0 V16; HIPAA 164.312(b)): every GET route that takes an
id, from the url_map, requested with the demo clinic's ids by a user entitled to it. A page that
shows one patient's data writes exactly one audit row naming that patient; a page of several
patients' data writes one row naming none; a page without patient data writes no row naming one.

test_audit_completeness.py goes by the audit catalogue (every action performed once); this suite
goes by the routes, so a page that audits nothing at all (it has no action to be listed under,
as the enrolment form had not) is found too. A new id-taking GET route fails
test_every_id_get_route_is_classified until one of the tables below lists it. A refused POST
of every patient form is checked the same way by test_audit_failed_posts.py.
"""
from __future__ import annotations

from dataclasses import dataclass

import pytest
from flask import url_for
from sqlalchemy import select

from ketamine_integration import create_app
from ketamine_integration.accounts.models import PRESCRIBER, THERAPIST, User
from ketamine_integration.db.types import utcnow
from ketamine_integration.extensions import db
from tests.databases import app_settings
from tests.factories import TOTP_SECRET

from .test_audit_completeness import _last_id, _new_rows

SUITE = "Audit crawl"
#: the demo clinic's staff member (staff may use every schedule-level page)
STAFF_USER = "staff1"

#: GET pages that show one patient's data: endpoint -> (who requests it, the kind of record its
#: id names). "therapist" and "prescriber" are the patient's own, from the care team.
PATIENT_PAGES = {
    "calendars.appointment_invite": ("staff", "appointment"),
    "coordination.course_coordination": ("therapist", "course"),
    "coordination.releases": ("therapist", "patient"),
    "coordination.report_pdf": ("prescriber", "report"),       # the report's recipient
    "courses.course_create": ("staff", "patient"),              # the enrolment form (issue 17, point 4)
    "courses.course_detail": ("staff", "course"),
    "discharge.copy_pdf": ("prescriber", "discharge_copy"),      # the copy's recipient
    "discharge.summary_page": ("therapist", "ended_course"),    # the course's therapist
    "discharge.summary_pdf": ("therapist", "discharge"),
    "experience.dosing_record": ("prescriber", "dosing"),
    "experience.rems_pdf": ("prescriber", "dosing"),            # a signed session under a REMS protocol
    "notes.action_steps": ("therapist", "course"),
    "notes.course_techniques": ("therapist", "course"),
    "notes.formulation": ("therapist", "course"),
    "plans.plan": ("therapist", "course"),
    "plans.revision": ("therapist", "plan"),
    "notes.measures": ("therapist", "course"),
    "notes.note_edit": ("therapist", "note"),                   # the note's author
    "notes.patient_themes": ("therapist", "patient"),
    "notes.process_note": ("therapist", "note"),                # the author's alone
    "patients.patient_detail": ("therapist", "patient"),
    "patients.patient_edit": ("staff", "patient"),
    "portal_invites.turn_off": ("staff", "patient"),            # confirming a portal account is turned off
    "reminders.contact_consent": ("staff", "patient"),         # the patient's contact consent and its history
    "record_access.record_access_page": ("therapist", "patient"),  # right of access: the copies made, the form
    "fhir.patient_export": ("therapist", "patient"),           # the patient's FHIR Bundle (fhir.export)
    "safety_plans.plan": ("prescriber", "patient"),             # the safety plan: the care team's clinicians
    "safety_plans.edit": ("therapist", "patient"),              # its draft form: the treating therapist
    "safety_plans.revision": ("prescriber", "safety_plan"),     # one revision as it was signed
    "scheduling.appointment_detail": ("staff", "appointment"),  # a session opened from the calendar
    "signed_forms.packet": ("therapist", "course"),             # a course's intake and consent forms
    "signed_forms.tablet_start": ("staff", "course"),           # the confirmation step of handing over a tablet
    "signed_forms.document": ("therapist", "signed_form"),      # one signed form: the care team's readers
    "signed_forms.document_pdf": ("therapist", "signed_form"),
}
#: GET pages that show several patients' data at once: one row, naming no single patient
MANY_PATIENTS = {
    "calendars.feed_ics": "a clinician's own bookings, with several patients; read by a calendar app, no session",
}
#: the patient portal's GET routes with an argument: opened by a patient signed in to the portal (no staff
#: user of the crawl can), each audited with the patient as actor (test_audit_completeness.py's
#: portal.calendar; test_portal_invitations.py opens the links)
PORTAL_PAGES = {
    "portal.session_calendar": "one of the patient's own sessions as a calendar file (portal.calendar)",
    "portal_questionnaires.questionnaire": "one of the patient's own questionnaires (portal.questionnaire_view)",
    "portal_questionnaires.support": "the crisis resources after the patient's own safety answer "
                                     "(portal.questionnaire_support)",
    "portal_practices.practice": "one of the patient's own practices with its log form (practice.view)",
    "portal_steps.step": "one of the patient's own action steps with its check-in form (step.view)",
    "portal_journal.entry_edit": "one of the patient's own journal entries to change (journal.view)",
    "portal_sign_in.accept": "an invitation link: its page shows the address it was sent to; accepting is "
                             "portal.accept",
    "portal_forms.sign": "one of the patient's own forms to sign (forms.portal_view)",
    "portal_forms.document": "one of the patient's own signed forms (forms.portal_view)",
    "portal_forms.document_pdf": "its PDF (forms.portal_download)",
    "portal_forms.withdraw": "the confirmation step of withdrawing one of the patient's own consents "
                             "(forms.portal_view)",
    "tablet.sign": "a form to sign on the clinic tablet, opened by the patient it was handed to, no login "
                   "(forms.tablet_view)",
}
#: GET routes with an argument that show no patient data, and why
NO_PATIENT_DATA = {
    "accounts.user_edit": "a staff account",
    "accounts.user_password": "a staff account's password reset",
    "mfa.reset": "a staff account's authenticator reset",
    "protocols.protocol_detail": "the protocol library",
    "protocols.form_detail": "an intake or consent form's definition (the clinic's document; no patient's answers)",
    "scheduling.availability": "a clinician's hours, time off and imported busy time; no patient",
    "static": "the stylesheet",
}


@pytest.fixture(scope="module")
def bare_app():
    return create_app(app_settings("sqlite://"))


def id_get_rules(app):
    return sorted((r for r in app.url_map.iter_rules() if "GET" in r.methods and r.arguments),
                  key=lambda r: r.endpoint)


def test_every_id_get_route_is_classified(bare_app):
    in_map = {r.endpoint for r in id_get_rules(bare_app)}
    tables = [set(PATIENT_PAGES), set(MANY_PATIENTS), set(NO_PATIENT_DATA), set(PORTAL_PAGES)]
    listed = set().union(*tables)
    assert sorted(in_map - listed) == [], "GET routes with an id that no table here classifies"
    assert sorted(listed - in_map) == [], "classified routes that are gone"
    assert sum(map(len, tables)) == len(listed), "a route is in two tables"


@dataclass
class Target:
    args: dict                  #: the url's arguments
    patient: int | None         #: the patient its audit row must name
    user: int | None            #: who requests it (None: signed out)


def _team(patient_id: int, role: str) -> int:
    from ketamine_integration.patients.models import CareTeamMember
    return db.session.scalar(select(CareTeamMember.user_id).where(CareTeamMember.patient_id == patient_id,
                                                                  CareTeamMember.role == role)
                             .order_by(CareTeamMember.id))


def _records() -> dict[str, tuple[int, int, dict[str, int]]]:
    """One demo record of each kind: (its id, its patient, who of the team may read it)."""
    from ketamine_integration.coordination.models import CoordinationReport
    from ketamine_integration.courses.models import TreatmentCourse
    from ketamine_integration.discharge.models import DischargeCopy, DischargeSummary
    from ketamine_integration.experience.models import DosingSession
    from ketamine_integration.notes.models import SessionNote
    from ketamine_integration.protocols.models import ProtocolVersion
    from ketamine_integration.bookings.models import Appointment
    from ketamine_integration.safety_plans.models import SafetyPlanRevision
    report = db.session.scalars(select(CoordinationReport).order_by(CoordinationReport.id)).first()
    course = db.session.get(TreatmentCourse, report.course_id)   # a course with the most on it
    rems = db.session.scalars(select(DosingSession).join(TreatmentCourse).join(ProtocolVersion)
                              .where(ProtocolVersion.protocol_id == "esketamine-trd-rems",
                                     DosingSession.signed_at.is_not(None)).order_by(DosingSession.id)).first()
    note = db.session.scalars(select(SessionNote).where(SessionNote.status == "signed")
                              .order_by(SessionNote.id)).first()
    booking = db.session.scalars(select(Appointment).where(Appointment.course_id.is_not(None))
                                 .order_by(Appointment.id)).first()
    safety_plan = db.session.scalars(select(SafetyPlanRevision).order_by(SafetyPlanRevision.id)).first()

    def team(patient_id, **who):
        return {"therapist": _team(patient_id, THERAPIST), "prescriber": _team(patient_id, PRESCRIBER), **who}

    summary = db.session.scalars(select(DischargeSummary).order_by(DischargeSummary.id)).first()
    copy = db.session.scalars(select(DischargeCopy).order_by(DischargeCopy.id)).first()
    return {"patient": (course.patient_id, course.patient_id, team(course.patient_id)),
            "ended_course": (summary.course_id, summary.patient_id, team(summary.patient_id)),
            "discharge": (summary.id, summary.patient_id, team(summary.patient_id)),
            "discharge_copy": (copy.id, copy.patient_id, team(copy.patient_id, prescriber=copy.recipient_id)),
            "course": (course.id, course.patient_id, team(course.patient_id)),
            "report": (report.id, report.patient_id, team(report.patient_id, prescriber=report.recipient_id)),
            "dosing": (rems.id, rems.course.patient_id, team(rems.course.patient_id)),
            "note": (note.id, note.patient_id, team(note.patient_id, therapist=note.author_id)),
            "appointment": (booking.id, booking.patient_id, team(booking.patient_id)),
            "plan": (_a_signed_plan(course).id, course.patient_id, team(course.patient_id)),
            "safety_plan": (safety_plan.id, safety_plan.patient_id, team(safety_plan.patient_id)),
            "signed_form": _a_signed_form(team)}


def _a_signed_form(team) -> tuple[int, int, dict[str, int]]:
    """A signed form of the demo (else one signed now, on the clinic tablet, of the first packet with a form
    waiting): its id, its patient, its care team."""
    from ketamine_integration.signed_forms.models import SignedForm
    from ketamine_integration.courses.models import TreatmentCourse
    from tests.factories import sign_a_waiting_form
    signed = db.session.scalars(select(SignedForm).order_by(SignedForm.id)).first()
    courses = iter(db.session.scalars(select(TreatmentCourse).order_by(TreatmentCourse.id)).all())
    while signed is None:
        signed = sign_a_waiting_form(next(courses))
    return signed.id, signed.patient_id, team(signed.patient_id)


def _a_signed_plan(course):
    """The course's treatment plan as the demo has it, else one its therapist writes and signs now."""
    from datetime import timedelta

    from ketamine_integration.db.clinic_time import clinic_today
    from ketamine_integration.plans import services as plans
    found = plans.active_plan(course.id)
    if found is not None:
        return found
    therapist, today = db.session.get(User, course.therapist_id), clinic_today()
    plan = plans.start_revision(course, by=therapist)
    plans.save_plan(plan, by=therapist, expected_version=plan.version, today=today,
                    content={"goals": ["Re-engage with daily life"]},
                    objectives=[{"goal": "1", "target": "Walks three times a week", "criterion": "Log shows it",
                                 "by_when": today + timedelta(days=30), "mechanism": "Behavioural activation"}],
                    techniques=[], pathway="common_factors", host_theory="cbt", stage="stabilise",
                    review_on=today + timedelta(days=30), no_change=False)
    plans.sign_plan(plan, by=therapist, expected_version=plan.version, today=today)
    return plan


def _user_id(username: str) -> int:
    return db.session.scalar(select(User.id).where(User.username == username))


def targets(make, feed_token: str) -> dict[str, Target]:
    """Every classified route's arguments, filled with the demo clinic's ids."""
    def build():
        records, staff = _records(), _user_id(STAFF_USER)
        therapist, admin = _user_id("therapist1"), _user_id("admin")
        found = {}
        for endpoint, (who, kind) in PATIENT_PAGES.items():
            record, patient, team = records[kind]
            arg = next(r for r in id_get_rules(make.app) if r.endpoint == endpoint).arguments
            found[endpoint] = Target({next(iter(arg)): record}, patient,
                                     staff if who == "staff" else team[who])
        found["calendars.feed_ics"] = Target({"token": feed_token}, None, None)
        found.update({
            "accounts.user_edit": Target({"user_id": therapist}, None, admin),
            "accounts.user_password": Target({"user_id": therapist}, None, admin),
            "mfa.reset": Target({"user_id": therapist}, None, admin),
            "protocols.protocol_detail": Target({"protocol_id": "esketamine-trd-rems", "version": 3}, None, therapist),
            "protocols.form_detail": Target({"form_id": "intake-questionnaire", "version": 1}, None, therapist),
            "scheduling.availability": Target({"user_id": therapist}, None, therapist),
            "static": Target({"filename": "style.css"}, None, None)})
        return found
    return make.run(build)  # run: a demo without treatment plans gets one (_a_signed_plan)


def _demo_clinic(make) -> str:
    """The demo clinic (the test's copy), its users enrolled with the tests' authenticator, and one
    feed address."""
    from ketamine_integration.calendars.services import create_feed
    from ketamine_integration.mfa import totp
    from ketamine_integration.mfa.services import begin_enrolment, confirm_enrolment

    def build():
        for user in db.session.scalars(select(User)):
            begin_enrolment(user, secret=TOTP_SECRET)
            confirm_enrolment(user, totp.code_for_step(TOTP_SECRET, totp.step_at(utcnow()) - 1), utcnow())
        return create_feed(db.session.scalar(select(User).where(User.username == "therapist1")), "phone")[1]
    return make.run(build)


@pytest.mark.demo_clinic  # built by `flask demo` once per engine (tests/databases.py), copied here
def test_every_patient_page_writes_one_audit_row_naming_its_patient(app, make, auth, databases, figures):
    feed_token = _demo_clinic(make)
    found, problems, exact = targets(make, feed_token), [], 0
    usernames = make.query(lambda: {u.id: u.username for u in db.session.scalars(select(User))})
    signed_in = None
    for endpoint, target in sorted(found.items(), key=lambda kv: (kv[1].user or 0, kv[0])):
        if target.user != signed_in:
            if signed_in is not None:
                auth.logout()
            if target.user is not None:
                auth.sign_in(usernames[target.user])
            signed_in = target.user
        with app.test_request_context():
            url = url_for(endpoint, **target.args)
        last = _last_id(make)
        response = auth.client.get(url)
        rows = _new_rows(make, last)
        if response.status_code != 200:
            problems.append(f"{endpoint} as {usernames.get(target.user)}: {response.status_code}")
        elif endpoint in NO_PATIENT_DATA:
            if any(r.patient_id is not None for r in rows):
                problems.append(f"{endpoint}: listed as without patient data, but a row names a patient")
        elif len(rows) != 1 or rows[0].patient_id != target.patient:
            problems.append(f"{endpoint}: {len(rows)} rows ({', '.join(f'{r.action} -> {r.patient_id}' for r in rows)}),"
                            f" expected one naming patient {target.patient}")
        else:
            exact += 1
    audited = len(PATIENT_PAGES) + len(MANY_PATIENTS)
    figures.record(SUITE, "GET routes with an id", f"{len(found)} routes crawled with the demo clinic's ids: "
                   f"{audited} with patient data, {exact} of them with exactly one row naming the patient; "
                   f"{len(NO_PATIENT_DATA)} without patient data", engine=databases.name)
    assert problems == [], "\n".join(problems)
    assert exact == audited
