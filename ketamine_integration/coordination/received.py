"""Documents the features above coordination send a prescriber (a discharge summary's copy), listed
beside the coordination reports they received: on their worklist and on a course's coordination page.
A registry create_app fills (README, Architecture: a lower package asks a higher one through a hook)."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Callable

from sqlalchemy import Select

from ..accounts.models import User


@dataclass(frozen=True)
class ReceivedDocument:
    #: what it is, as the list names it: "Discharge summary"
    kind: str
    patient: object
    course_id: int
    #: who sent it
    sender: str
    created_at: datetime
    #: where its PDF is downloaded (that view checks access and audits the download)
    url: str


#: each finder: (user, patient ids as a subquery, a course id or None) -> the documents sent to the user
Finder = Callable[[User, Select, "int | None"], list[ReceivedDocument]]
_finders: list[Finder] = []


def find_received_with(*finders: Finder) -> None:
    """Ask `finders` for what was sent to a user (once, however many apps are made)."""
    _finders[:] = finders


def received(user: User, patients: Select, course_id: int | None = None) -> list[ReceivedDocument]:
    """What was sent to `user` about `patients` (of one course, when given), newest first: one
    statement per finder, whatever the number of documents."""
    found = [doc for finder in _finders for doc in finder(user, patients, course_id)]
    return sorted(found, key=lambda d: d.created_at, reverse=True)
