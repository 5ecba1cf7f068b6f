"""The patient's side of the journal: what the portal's journal pages call (issue 23, point 4).

Every function takes the patient (a patients.models.Patient: the one signed in to the portal, never
one named by the request) and, where time matters, the clock (`now`, aware UTC). Each checks that an
entry it is given belongs to that patient, validates, writes, flushes (the request commits once) and
records one audit row naming the patient, never the entry's text. Bad input raises
db.errors.DomainError whose `reasons` map form fields ("text", "prompt", "dosing_session_id", or ""
for the whole form) to patient-facing words; an entry that is not the patient's raises EntryNotFound
(answer 404: the same for another patient's entry as for none at all).
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import joinedload

from ..audit import services as audit
from ..courses.models import TreatmentCourse
from ..courses.services import current_course
from ..db.clinic_time import clinic_zone
from ..db.errors import ConcurrentEdit, DomainError
from ..db.locking import flush_versioned
from ..domain import journal as rules
from ..experience.models import CANCELLED, DosingSession
from ..extensions import db
from ..patients.models import Patient
from .models import JournalEntry

NO_COURSE = "Your journal opens once the clinic has started your treatment course."
NOT_A_DOSE = "Choose one of your dosing sessions that has ended."
SHARED_STAYS = ("This entry is shared with your therapist, so it stays as they may have read it. "
                "Write a new entry to add to it or to say it differently.")
ONCE_SHARED_STAYS = ("You shared this entry with your therapist before, so it stays as they may have read it. "
                     "Write a new entry to add to it or to say it differently.")
CHANGED_MEANWHILE = ("This entry was changed in another window meanwhile. Your text is still here: "
                     "check it and save again to keep it.")


class EntryNotFound(DomainError):
    """No entry of this patient has that id (another patient's entries are not told apart from none)."""

    def __init__(self):
        super().__init__("There is no such entry in your journal.")


# -- writing -----------------------------------------------------------------------------------

def write_entry(patient: Patient, *, prompt: str, text: str | None, now: datetime,
                dosing_session_id: int | None = None) -> JournalEntry:
    """A new private entry answering `prompt` (a key of domain.journal.PROMPTS: a review prompt of
    the dose `dosing_session_id`, or "free"). A review prompt needs one of the patient's dosing
    sessions that has ended; a free entry reflects on the one given, else on the course's latest
    ended dose (or none yet). An answer to a prompt that has closed is still kept: a patient's
    text is never refused for being late. Audited as journal.write."""
    problems = rules.entry_problems(text)
    if prompt not in rules.PROMPTS:
        problems["prompt"] = "Choose what this entry answers."
    dose = _dose_of(patient, dosing_session_id, now) if dosing_session_id is not None else None
    if dose is None and (dosing_session_id is not None or prompt in rules.REVIEW_PROMPTS):
        problems["dosing_session_id"] = NOT_A_DOSE
    course = dose.course if dose is not None else current_course(patient.id)
    if course is None:
        problems[""] = NO_COURSE
    if problems:
        _refused("journal.write", patient)
        raise DomainError(problems)
    if dose is None and prompt == rules.FREE:
        dose = _latest_dose(course, now)
    entry = JournalEntry(patient_id=patient.id, course_id=course.id, dosing_session_id=dose.id if dose else None,
                         prompt=prompt, text=rules.clean_text(text), written_at=now)
    db.session.add(entry)
    db.session.flush()
    audit.record("journal.write", obj=entry, patient_id=patient.id, detail=prompt)
    return entry


def edit_entry(patient: Patient, entry_id: int, *, text: str | None, expected_version: int,
               now: datetime) -> JournalEntry:
    """Replace a private entry's text (`expected_version`: the version the patient's form was filled
    from; another window's save meanwhile raises ConcurrentEdit, the typed text to be shown again).
    An entry ever shared is not changed (shared now or before: its words stay as the therapist may have
    read and quoted them; the patient writes a new entry). Audited as journal.edit."""
    entry = _own_entry(patient, entry_id, "journal.edit")
    problems = rules.entry_problems(text)
    if entry.first_shared_at is not None:
        problems = {"text": SHARED_STAYS if entry.shared else ONCE_SHARED_STAYS}
    if problems:
        _refused("journal.edit", patient, entry)
        raise DomainError(problems)
    if entry.version != expected_version:
        _refused("journal.edit", patient, entry, "changed meanwhile")
        raise ConcurrentEdit(CHANGED_MEANWHILE, current_version=entry.version)
    entry.text, entry.edited_at = rules.clean_text(text), now
    flush_versioned(entry, CHANGED_MEANWHILE)
    audit.record("journal.edit", obj=entry, patient_id=patient.id)
    return entry


def share_entry(patient: Patient, entry_id: int, now: datetime) -> JournalEntry:
    """Share one entry with the therapist: from now on it shows on the integration note form (quotable
    into the experience review) and on the course page, to the therapists of the patient's care team.
    Sharing a shared entry again changes nothing. Audited as journal.share."""
    entry = _own_entry(patient, entry_id, "journal.share")
    if not entry.shared:
        entry.shared_at = now
        entry.first_shared_at = entry.first_shared_at or now
        flush_versioned(entry, CHANGED_MEANWHILE)
    audit.record("journal.share", obj=entry, patient_id=patient.id)
    return entry


def unshare_entry(patient: Patient, entry_id: int, now: datetime) -> JournalEntry:
    """Withdraw the share: the entry is private again and leaves every staff page (its words stay: it
    was shared once, edit_entry).
    What the therapist already quoted into a note stays in that note: the note is the record of the
    session, and a signed note never changes. (`now`: the clock of every write, for the portal's one
    calling convention; the audit row keeps when the share was withdrawn.) Audited as journal.unshare."""
    entry = _own_entry(patient, entry_id, "journal.unshare")
    if entry.shared:
        entry.shared_at = None
        flush_versioned(entry, CHANGED_MEANWHILE)
    audit.record("journal.unshare", obj=entry, patient_id=patient.id)
    return entry


# -- reading -----------------------------------------------------------------------------------

def entries_for(patient: Patient) -> list[JournalEntry]:
    """The patient's own entries, newest first, private and shared, each with its dose. Audited as
    journal.view (the row counts them; it never holds their text)."""
    entries = db.session.scalars(select(JournalEntry).where(JournalEntry.patient_id == patient.id)
                                 .options(joinedload(JournalEntry.dosing_session))
                                 .order_by(JournalEntry.written_at.desc(), JournalEntry.id.desc())).all()
    audit.record("journal.view", object_type="patient", object_id=patient.id, patient_id=patient.id,
                 detail=f"{len(entries)} entries")
    return entries


def entry_for(patient: Patient, entry_id: int) -> JournalEntry:
    """One of the patient's entries (its edit page). Audited as journal.view."""
    entry = _own_entry(patient, entry_id, "journal.view")
    audit.record("journal.view", obj=entry, patient_id=patient.id)
    return entry


def open_prompts(patient: Patient, now: datetime) -> list[rules.OpenPrompt]:
    """The prompts the journal offers the patient at `now` (domain.journal.open_prompts): the review
    prompts of the current course's ended doses not answered yet, and the free entry of the day or
    week. None once the course has ended. Audited as journal.prompts."""
    course = current_course(patient.id)
    found = []
    if course is not None and not course.current_phase.ended:
        doses = [rules.DoseEnd(d.id, d.sequence, d.ended_at) for d in _ended_doses(course.id, now)]
        written = db.session.execute(select(JournalEntry.prompt, JournalEntry.dosing_session_id,
                                            JournalEntry.written_at)
                                     .where(JournalEntry.course_id == course.id)).all()
        found = rules.open_prompts(doses, [rules.WrittenEntry(*row) for row in written], now, clinic_zone())
    audit.record("journal.prompts", object_type="patient", object_id=patient.id, patient_id=patient.id,
                 detail=f"{len(found)} open")
    return found


# -- helpers -----------------------------------------------------------------------------------

def _own_entry(patient: Patient, entry_id, action: str) -> JournalEntry:
    """The patient's entry with this id; EntryNotFound otherwise (another patient's: an audited denial
    naming the patient whose entry it is)."""
    entry = db.session.get(JournalEntry, entry_id) if isinstance(entry_id, int) else None
    if entry is None:
        _refused(action, patient, detail="no such entry")
        raise EntryNotFound()
    if entry.patient_id != patient.id:
        audit.denial("journal entry of another patient", obj=entry, patient_id=entry.patient_id)
        raise EntryNotFound()
    return entry


def _ended_doses(course_id: int, now: datetime) -> list[DosingSession]:
    return db.session.scalars(select(DosingSession).where(
        DosingSession.course_id == course_id, DosingSession.status != CANCELLED,
        DosingSession.ended_at.is_not(None), DosingSession.ended_at <= now)
        .order_by(DosingSession.ended_at)).all()


def _latest_dose(course: TreatmentCourse, now: datetime) -> DosingSession | None:
    doses = _ended_doses(course.id, now)
    return doses[-1] if doses else None


def _dose_of(patient: Patient, dosing_session_id, now: datetime) -> DosingSession | None:
    """The patient's dosing session with this id if it has ended (not cancelled); None otherwise."""
    dose = db.session.get(DosingSession, dosing_session_id) if isinstance(dosing_session_id, int) else None
    if dose is None or dose.course.patient_id != patient.id or dose.status == CANCELLED:
        return None
    return dose if dose.ended_at is not None and dose.ended_at <= now else None


def _refused(action: str, patient: Patient, entry: JournalEntry | None = None, detail: str = "refused") -> None:
    """The audit row of a refused write (kept when the request rolls back)."""
    if entry is None:
        audit.record(action, object_type="patient", object_id=patient.id, patient_id=patient.id,
                     outcome=audit.FAILURE, detail=detail)
    else:
        audit.record(action, obj=entry, patient_id=patient.id, outcome=audit.FAILURE, detail=detail)
