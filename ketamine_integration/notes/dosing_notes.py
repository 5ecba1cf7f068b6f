"""The dosing-session note (issue 20, point 9): where the protocol has a therapist present at each
dose (ketamine-assisted psychotherapy, `experience.therapist_present`), a therapist documents the
dosing session itself: how set and setting were prepared, what they observed, the support they
gave and the patient's immediate reflections. One per dosing session, started from its record,
then written, signed and discarded like every session note; and what the record shows of it.

Review of issue 20: a note documents a dose that was given (its record says when dosing started),
written by the therapist who was there (the course's therapist, or the one the record names as
monitoring); once signed, its dose is neither cancelled nor moved (experience asks through
`documented_with`)."""
from __future__ import annotations

from datetime import date, datetime

from flask import url_for
from sqlalchemy import select

from ..accounts.models import User
from ..db.clinic_time import format_local, to_clinic
from ..db.errors import DomainError
from ..db.locking import lock_row
from ..domain.text import is_written
from ..experience.models import CANCELLED, DRAFT, SIGNED, DosingSession
from ..experience.record_notes import DosingNoteLink
from ..extensions import db
from ..patients.access import can_read_clinical
from ..protocols.services import protocol_of
from .models import DOSING, SessionNote

#: what signing a dosing-session note needs, by field: each part of the session the note is for
SIGNING_NEEDS = {
    "set_setting": "Signing needs how set and setting were prepared.",
    "observations": "Signing needs your observations during the session.",
    "support_given": "Signing needs the support given (write so if none was needed).",
    "reflections": "Signing needs the patient's immediate reflections (if they could not say anything yet, "
                   "write so).",
}


def therapist_present(session: DosingSession) -> bool:
    """Whether the course's protocol has a therapist present through each dosing session."""
    return protocol_of(session.course.protocol_version).experience.therapist_present


def dose_moment(session: DosingSession) -> datetime | None:
    """When the dose started, or, before that is recorded, when it was planned."""
    return session.started_at or session.planned_start


def dose_day(session: DosingSession) -> date | None:
    """The clinic date a dosing-session note of `session` carries: the day of its dose."""
    moment = dose_moment(session)
    return None if moment is None else to_clinic(moment).date()


def live_note_for(session_id: int) -> SessionNote | None:
    """The dosing session's note, draft or signed (not one its author discarded)."""
    return db.session.scalar(select(SessionNote).where(SessionNote.dosing_session_id == session_id,
                                                       SessionNote.discarded_at.is_(None)))


def dose_given(session: DosingSession) -> bool:
    """Whether the dosing record says the dose was given: recorded (a draft or signed record, not
    one only planned nor cancelled) with the time dosing started."""
    return session.status in (DRAFT, SIGNED) and session.started_at is not None


#: how a therapist was present at a dose, by the key a signed note keeps (content["present"]), in
#: the words the note shows
PRESENCE = {"course_therapist": "the course's therapist",
            "monitoring": "named on the dosing record as monitoring"}


def presence(session: DosingSession, user: User) -> str | None:
    """How `user` was present at the dose (a key of PRESENCE), or None: not known to have
    been. The protocol has the course's therapist present through each dose; a therapist the record
    names as monitoring (where the protocol allows) was there too. Another therapist of the care
    team was not, as far as the record knows, and writes an integration note instead."""
    if session.monitored_by_id == user.id:
        return "monitoring"
    if session.course.therapist_id == user.id:
        return "course_therapist"
    return None


def present_therapists(session: DosingSession) -> str:
    """Who the record knows was present at the dose, in words, for a refusal."""
    course_therapist = f"{session.course.therapist.display_name}, the course's therapist"
    if protocol_of(session.course.protocol_version).experience.therapist_may_monitor:
        return course_therapist + ", or a therapist the dosing record names as monitoring"
    return course_therapist


def _absent(session: DosingSession) -> str:
    return (f"A dosing-session note is written by the therapist present at the dose: {present_therapists(session)}. "
            "Document what you learned from the patient in an integration note.")


def presence_line(note: SessionNote) -> str | None:
    """Who the note says was present at the dose, and how: as kept when it was signed, or, for a
    draft, as its author stands now. None for a note of another kind or signed before it was kept."""
    if note.kind != DOSING:
        return None
    key = (note.content or {}).get("present") if note.signed else presence(note.dosing_session, note.author)
    if key in PRESENCE:
        return f"Written by {note.author.display_name}, present at the dose as {PRESENCE[key]}."
    if note.signed:
        return None
    return (f"{note.author.display_name} is not recorded as present at this dose, so cannot sign this note: "
            f"it is written by {present_therapists(note.dosing_session)}.")


def documenting_problem(session: DosingSession, user: User) -> str | None:
    """Why `user` may not document `session` (start or sign its note), None when they may: the dose
    was given, and they were there."""
    if session.status == CANCELLED:
        return "This dosing session was cancelled: there is no session to document."
    if not dose_given(session):
        return ("A dosing-session note documents a dose that was given: start it once the dosing record says when "
                "dosing started.")
    if presence(session, user) is None:
        return _absent(session)
    return None


def start_problem(session: DosingSession, user: User, now: datetime) -> str | None:
    """Why `user` may not start a note for `session` now (None: they may)."""
    if not user.can("notes.write"):
        return "Session notes are written by therapists."
    if not therapist_present(session):
        protocol = protocol_of(session.course.protocol_version)
        return (f"{protocol.name} has no therapist present at dosing (experience.therapist_present), so there "
                "is no dosing-session note to write: document what you learned in an integration note.")
    moment = dose_moment(session)
    if session.status != CANCELLED and (moment is None or moment > now):
        return "A dosing-session note documents a session that has taken place: start it once the dose has begun."
    return documenting_problem(session, user)


def start_dosing_note(session: DosingSession, *, by: User, now: datetime) -> SessionNote:
    """A draft dosing-session note of `session` by `by`, dated the day of the dose; refused with
    the reason when the protocol has no therapist present, the session has not taken place, or
    the session has its note already (one per session: corrections are addenda)."""
    problem = start_problem(session, by, now)
    if problem:
        raise DomainError(problem)
    lock_row(session)  # two therapists starting it at once take turns; the second finds the first's
    existing = live_note_for(session.id)
    if existing is not None:
        raise DomainError(f"Dosing session {session.sequence} has its note already, by "
                          f"{existing.author.display_name}: open it from the dosing record.")
    course = session.course
    note = SessionNote(course_id=course.id, patient_id=course.patient_id, kind=DOSING, session_date=dose_day(session),
                       author_id=by.id, content={}, dosing_session_id=session.id)
    db.session.add(note)
    db.session.flush()
    return note


def signing_problems(content: dict) -> dict[str, str]:
    """What a dosing-session note with `content` still needs before it is signed, by form field."""
    return {field: need for field, need in SIGNING_NEEDS.items() if not is_written((content or {}).get(field))}


def sign_dosing_note(note: SessionNote, by: User) -> None:
    """Before signing: the dose is still recorded as given and the signer was there (the record may
    have changed since the draft was started); the signed note keeps how they were present."""
    session = note.dosing_session
    lock_row(session)  # a cancellation or a move of the dose waits for the signature, then sees it
    problem = documenting_problem(session, by)
    if problem:
        raise DomainError(problem)
    note.content = {**(note.content or {}), "present": presence(session, by)}


def documented(session: DosingSession) -> bool:
    """Whether a signed dosing-session note documents `session`: then the dose was given, and it is
    neither cancelled nor moved (experience asks through `documented_with`)."""
    note = live_note_for(session.id)
    return note is not None and note.signed


def record_link(session: DosingSession, user: User, now: datetime) -> DosingNoteLink | None:
    """What the dosing record shows `user` of its note: to whoever reads notes on the patient's
    care team, whether there is one (a link to it) and, to a therapist who may, how to start it.
    Nothing to anyone else (nurses read dosing records, not notes), nor where the protocol has no
    therapist present."""
    if not therapist_present(session) or not can_read_clinical(user, session.patient):
        return None
    note = live_note_for(session.id)
    if note is None and session.status == CANCELLED:
        return None  # a cancelled dose has no session to document
    if note is None:
        may_start = start_problem(session, user, now) is None
        return DosingNoteLink(text="No dosing-session note yet.", url=None,
                              start_url=url_for("notes.dosing_note_start", dosing_id=session.id) if may_start
                              else None)
    state = f"signed {format_local(note.signed_at)}" if note.signed else "a draft, not yet signed"
    return DosingNoteLink(text=f"Dosing-session note by {note.author.display_name}, {state}.",
                          url=url_for("notes.note_edit", note_id=note.id), start_url=None)
