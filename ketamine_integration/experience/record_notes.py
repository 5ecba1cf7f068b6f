"""What a dosing record shows of the note a therapist present at the dose wrote about it (issue 20,
point 9), and whether a signed one documents the dose (then it was given: it is neither cancelled
nor moved). Notes sit above experience, so the notes package answers through create_app
(`link_notes_with`, `documented_with`), as plain data."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from ..accounts.models import User
from .models import DosingSession


@dataclass(frozen=True)
class DosingNoteLink:
    """The dosing-session note as the record page mentions it."""
    #: what to say: "Dosing-session note by Hazel Quint, signed 2026-03-02 14:05 EST."
    text: str
    #: where to open it (None: there is none yet)
    url: str | None
    #: where to POST to start one (None: there is one, or this user may not start it now)
    start_url: str | None


#: the one function answering, for a session and a user, what the record shows (None: nothing)
_finders: list[Callable[[DosingSession, User, datetime], DosingNoteLink | None]] = []


def link_notes_with(finder: Callable[[DosingSession, User, datetime], DosingNoteLink | None]) -> None:
    """Ask `finder` what a record shows of its note (once per process, however many apps are made)."""
    _finders[:] = [finder]


def note_link(session: DosingSession, user: User, now: datetime) -> DosingNoteLink | None:
    finder, = _finders  # create_app connects exactly one
    return finder(session, user, now)


#: the one function answering whether a signed dosing-session note documents a session
_documenters: list[Callable[[DosingSession], bool]] = []


def documented_with(documenter: Callable[[DosingSession], bool]) -> None:
    """Ask `documenter` whether a signed note documents a session (once per process)."""
    _documenters[:] = [documenter]


def documented(session: DosingSession) -> bool:
    """Whether a signed dosing-session note documents `session` (then the dose was given)."""
    documenter, = _documenters  # create_app connects exactly one
    return documenter(session)
