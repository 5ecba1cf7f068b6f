"""Demo patient portal (issue 23, point 7): three patients with accounts, chosen so that between them
their portal shows every part of it (a journal with shared and private entries, practices with logs,
check-ins on action steps, a PHQ-9 completed in the portal, questionnaires open now, a course still in
preparation); each enrols a second step at their first sign-in, so no secret is printed. One
invitation waits and one was revoked. Fictional throughout."""
from __future__ import annotations

from datetime import datetime, time, timedelta

from sqlalchemy import func, select

from ..accounts.models import User
from ..accounts.passwords import hash_password
from ..bookings.models import BOOKED, Appointment
from ..courses.models import TreatmentCourse
from ..courses.services import current_course
from ..db.clinic_time import clinic_zone
from ..domain.phases import Phase
from ..extensions import db
from ..journal.models import JournalEntry
from ..notes.models import MeasureResponse
from ..notes.patient_check_ins import PatientStepCheckIn
from ..notes.questionnaires import due_questionnaires
from ..patients.models import Patient
from ..portal import invitations
from ..portal.models import PortalAccount, PortalInvitation
from ..practices.models import PracticeLog
from ..signed_forms.status import WITHDRAWN, packet_status, packet_statuses

#: the three demo patients' portal password (printed by `flask demo`, like the staff one)
PORTAL_PASSWORD = "harbor-light-patient-2026"
#: how many demo patients have an account
ACCOUNTS = 3
#: a demo account is opened the evening of the day its patient's first course began (clinic time), the
#: invitation sent that morning: before anything the patient did in the portal (issue 26 review, point 12)
ACCOUNT_OPENED_AT, INVITED_BEFORE = time(19, 30), timedelta(hours=10)
#: what a patient's portal can show; the accounts go to patients covering all of it between them
SHARED_ENTRIES, PRIVATE_ENTRIES, PRACTICE_LOGS, STEP_CHECK_INS, PORTAL_PHQ9, OPEN_QUESTIONNAIRES, PREPARATION = (
    "shared journal entries", "private journal entries", "practice logs", "check-ins on action steps",
    "a PHQ-9 completed in the portal", "questionnaires open now", "a course in preparation")
PORTAL_PARTS = (SHARED_ENTRIES, PRIVATE_ENTRIES, PRACTICE_LOGS, STEP_CHECK_INS, PORTAL_PHQ9, OPEN_QUESTIONNAIRES,
                PREPARATION)


def load_demo_portal(users: dict[str, User], now: datetime) -> None:
    """After everything a portal shows is loaded: the accounts (the first, the browser suite's patient,
    shows the most), then the waiting and the revoked invitation for two other patients."""
    desk = users["staff1"]
    ahead = _patients_with_sessions_ahead(now)
    chosen = choose_portal_patients(portal_parts(ahead, now), ACCOUNTS)
    hashed = hash_password(PORTAL_PASSWORD)
    for patient in (db.session.get(Patient, pid) for pid in chosen):
        joined = account_opened(patient.id, now)
        account = PortalAccount(patient_id=patient.id, email=patient.email.lower(), password_hash=hashed,
                                created_at=joined - INVITED_BEFORE, activated_at=joined)
        db.session.add(account)
        db.session.flush()
        # the invitation they accepted (its token long gone: only a hash of a random one is kept)
        db.session.add(PortalInvitation(
            account_id=account.id, token_hash=invitations.token_hash(f"demo-accepted-{patient.id}-{now.isoformat()}"),
            email=account.email, created_at=joined - INVITED_BEFORE, created_by_id=desk.id,
            expires_at=joined - INVITED_BEFORE + invitations.rules.INVITATION_LIFETIME, used_at=joined))
    waiting, revoked = [p for p in ahead if p.id not in chosen][:2]
    invitations.invite(waiting, by=desk, now=now)
    invitations.invite(revoked, by=desk, now=now)
    invitations.revoke(revoked, by=users["staff2"], now=now)
    db.session.flush()


def account_opened(patient_id: int, now: datetime) -> datetime:
    """When a demo patient's account was opened: the evening of the day their first course began (what
    they did in the portal, a journal entry or a form signed there, comes after it, as it would), and
    never after `now`."""
    first = db.session.scalar(select(func.min(TreatmentCourse.start_date))
                              .where(TreatmentCourse.patient_id == patient_id))
    if first is None:
        return now
    return min(now, datetime.combine(first, ACCOUNT_OPENED_AT, clinic_zone()))


def _patients_with_sessions_ahead(now: datetime) -> list[Patient]:
    """Patients with an email address and a booked session ahead (their home page has something to
    show), the soonest first."""
    found: list[int] = []
    for patient_id in db.session.scalars(select(Appointment.patient_id).where(
            Appointment.status == BOOKED, Appointment.starts_at > now).order_by(Appointment.starts_at,
                                                                                  Appointment.id)):
        if patient_id not in found:
            found.append(patient_id)
    patients = [db.session.get(Patient, pid) for pid in found]
    return [p for p in patients if p.email and not p.is_archived]


def portal_parts(patients: list[Patient], now: datetime) -> dict[int, tuple[set[str], int]]:
    """Patient id -> the parts of the portal that have something to show them, and how many
    questionnaires are open for them now (a constant number of statements, but one schedule each)."""
    ids = [p.id for p in patients]
    shared = _patients_where(JournalEntry.patient_id, JournalEntry.shared_at.is_not(None))
    private = _patients_where(JournalEntry.patient_id, JournalEntry.shared_at.is_(None))
    logs = _patients_where(PracticeLog.patient_id)
    check_ins = _patients_where(PatientStepCheckIn.patient_id)
    phq9 = _patients_where(MeasureResponse.patient_id, MeasureResponse.completed_by_patient.is_(True),
                           MeasureResponse.measure == "phq9")
    preparing = _patients_where(TreatmentCourse.patient_id, TreatmentCourse.phase == Phase.PREPARATION.value)
    found = {}
    for patient in patients:
        due = len(due_questionnaires(patient, now))
        parts = {part for part, having in ((SHARED_ENTRIES, shared), (PRIVATE_ENTRIES, private),
                                           (PRACTICE_LOGS, logs), (STEP_CHECK_INS, check_ins),
                                           (PORTAL_PHQ9, phq9), (PREPARATION, preparing)) if patient.id in having}
        found[patient.id] = (parts | ({OPEN_QUESTIONNAIRES} if due else set()), due)
    return {pid: found[pid] for pid in ids}


def _patients_where(column, *conditions) -> set[int]:
    return set(db.session.scalars(select(column).where(*conditions).distinct()))


def choose_portal_patients(parts: dict[int, tuple[set[str], int]], count: int) -> list[int]:
    """`count` patients who between them have every part of the portal to show (greedily: each next the
    one adding the most parts not yet shown; ties to more questionnaires open, then the order given),
    in the order chosen, so the first shows the most."""
    chosen: list[int] = []
    shown: set[str] = set()
    order = list(parts)
    while len(chosen) < min(count, len(parts)):
        best = max((pid for pid in order if pid not in chosen),
                   key=lambda pid: (len(parts[pid][0] - shown), len(parts[pid][0]), parts[pid][1], -order.index(pid)))
        chosen.append(best)
        shown |= parts[best][0]
    return chosen


def demo_portal_logins(now: datetime) -> list[tuple[str, bool, str]]:
    """The addresses the demo patients sign in to the portal with, whether each has enrolled, and what
    their portal has to show at `now`."""
    accounts = db.session.scalars(select(PortalAccount).where(PortalAccount.password_hash.is_not(None))
                                  .order_by(PortalAccount.id)).all()
    parts = portal_parts([db.session.get(Patient, a.patient_id) for a in accounts], now)
    return [(a.email, a.second_factor is not None,
             ", ".join([part for part in PORTAL_PARTS if part in parts[a.patient_id][0]]
                       + _forms_words(a.patient_id)) or "their sessions")
            for a in accounts]


def _forms_words(patient_id: int) -> list[str]:
    """Where the patient's current course stands with its intake and consent forms ("Forms": the menu item),
    when it has a packet: ["forms: 1 of 5 signed, 1 withdrawn"]."""
    course = current_course(patient_id)
    status = packet_status(course) if course is not None else None
    if status is None:
        return []
    return [f"forms: {_packet_words(status)}"]


def forms_to_see() -> list[tuple[str, str]]:
    """(patient name, where their forms stand) for the demo courses whose packets show something to see: the
    courses in preparation (a packet just sent, partly signed, signed in full, countersignatures owed) and any
    course with a consent withdrawn, for `flask demo` to name."""
    courses = list(db.session.scalars(
        select(TreatmentCourse).where(TreatmentCourse.phase.not_in([p.value for p in Phase if p.ended]))
        .order_by(TreatmentCourse.id)))
    found = []
    for course, status in zip(courses, packet_statuses(courses).values()):
        words = _packet_words(status) if status is not None else None
        if words and (course.phase == Phase.PREPARATION.value or any(i.state == WITHDRAWN for i in status.items)):
            found.append((course.patient.full_name, words))
    return found


def _packet_words(status) -> str:
    """"1 of 4 signed, a flagged answer to review, countersignatures owed, 1 withdrawn"."""
    parts = [f"{status.signed_count} of {len(status.items)} signed"]
    if any(i.flags and i.flags_reviewed is None and i.state != WITHDRAWN for i in status.items):
        parts.append("a flagged answer to review")
    elif any(i.flags_reviewed is not None for i in status.items):
        parts.append("a flagged answer reviewed")
    if any(i.countersign_role and i.state != WITHDRAWN for i in status.items):
        parts.append("countersignatures owed")
    withdrawn = sum(i.state == WITHDRAWN for i in status.items)
    return ", ".join(parts + ([f"{withdrawn} withdrawn"] if withdrawn else []))
