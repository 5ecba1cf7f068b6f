"""The dosing-session note (issue 20, point 9): where the protocol has a therapist present at each
dose (ketamine-assisted psychotherapy, `experience.therapist_present`), a therapist documents the
dosing session itself: how set and setting were prepared, what they observed, the support they
gave and the patient's immediate reflections. One per dosing session, started from its record,
then written, signed and discarded like every session note; and what the record shows of it."""
from __future__ import annotations

from datetime import date, datetime

from flask import url_for
from sqlalchemy import select

from ..accounts.models import User
from ..db.clinic_time import format_local, to_clinic
from ..db.errors import DomainError
from ..db.locking import lock_row
from ..domain.text import is_written
from ..experience.models import CANCELLED, DosingSession
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


def start_problem(session: DosingSession, user: User, now: datetime) -> str | None:
    """Why `user` may not start a note for `session` now (None: they may)."""
    if not user.can("notes.write"):
        return "Session notes are written by therapists."
    if not therapist_present(session):
        protocol = protocol_of(session.course.protocol_version)
        return (f"{protocol.name} has no therapist present at dosing (experience.therapist_present), so there "
                "is no dosing-session note to write: document what you learned in an integration note.")
    if session.status == CANCELLED:
        return "This dosing session was cancelled: there is no session to document."
    moment = dose_moment(session)
    if moment is None or moment > now:
        return "A dosing-session note documents a session that has taken place: start it once the dose has begun."
    return None


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
