"""How the audit log names what its rows point at: "user Ada Stone", "patient KI-000123 A.S.",
"appointment of Thu Dec 03 2026 09:00 (integration)", "treatment course #7", each with a link where
the viewer may open that page.

Resolved in bulk, so a page (or a chunk of the CSV export) runs the same statements however many
rows and objects it holds: one read of the users named, one of the patients, one of the
appointments. The trail sits below
accounts, patients and courses: it reads their tables by name and knows their pages by endpoint
name, never importing them."""
from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from typing import Callable, Iterable

from flask import url_for
from sqlalchemy import select

from ..db.clinic_time import format_local
from ..extensions import db
from .models import AuditEvent

#: object types the log links to: the page's endpoint, its id argument, the permission that opens it
LINKS = {"user": ("accounts.user_edit", "user_id", "users.manage"),
         "patient": ("patients.patient_detail", "patient_id", "patients.read_all"),
         "treatmentcourse": ("courses.course_detail", "course_id", "patients.read_all"),
         # an appointment's page is the schedule's: whoever sees every patient's schedule opens it
         "appointment": ("scheduling.appointment_detail", "appointment_id", "patients.read_all")}
#: object types recorded by hand (audit.record(object_type=...)) rather than from a model
WRITTEN_TYPES = {"clinic_setting": "clinic setting"}


@dataclass(frozen=True)
class Named:
    text: str
    #: None where the viewer may not open it, or it has no page
    url: str | None = None


@cache
def type_labels() -> dict[str, str]:
    """A row's object_type (the model's class name, lower case) -> words: "treatmentcourse" ->
    "treatment course". From the models' registry, so a new model needs no entry here."""
    labels = {mapper.class_.__name__.lower(): re.sub(r"(?<!^)(?=[A-Z])", " ", mapper.class_.__name__).lower()
              for mapper in db.Model.registry.mappers}
    return {**labels, **WRITTEN_TYPES}


def _id(value) -> int | None:
    return int(value) if value is not None and str(value).isdigit() else None


def _initials(given: str, family: str) -> str:
    return "".join(f"{part[0].upper()}." for part in (given, family) if part)


class Names:
    """The names of a batch of rows' users and patients, read at once (resolve())."""

    def __init__(self, users: dict[int, str], patients: dict[int, str], may: Callable[[str], bool],
                 appointments: dict[int, str] | None = None):
        self.users, self.patients, self.may = users, patients, may
        self.appointments = appointments or {}

    def _link(self, object_type: str, object_id: int | None) -> str | None:
        if object_type not in LINKS or object_id is None:
            return None
        endpoint, argument, permission = LINKS[object_type]
        return url_for(endpoint, **{argument: object_id}) if self.may(permission) else None

    def object(self, event: AuditEvent) -> Named | None:
        """The row's object in words: its kind, and its name where the log can say it."""
        if not event.object_type:
            return None
        kind, object_id = type_labels().get(event.object_type, event.object_type), _id(event.object_id)
        known = {"user": self.users, "patient": self.patients,
                 "appointment": self.appointments}.get(event.object_type, {})
        if object_id in known:
            return Named(f"{kind} {known[object_id]}", self._link(event.object_type, object_id))
        number = f"#{event.object_id}" if object_id is not None else (event.object_id or "")
        return Named(f"{kind} {number}".strip(), self._link(event.object_type, object_id))

    def patient(self, event: AuditEvent) -> Named | None:
        """The patient the row is about: MRN and initials."""
        if event.patient_id is None:
            return None
        return Named(self.patients.get(event.patient_id, f"#{event.patient_id}"),
                     self._link("patient", event.patient_id))


def _appointment_names(ids: set[int]) -> dict[int, str]:
    """Each appointment by its time in the clinic's zone and its kind: "of Thu Dec 03 2026 09:00 (integration)"."""
    table = db.metadata.tables["appointments"]
    return {row.id: f"of {format_local(row.starts_at, '%a %b %d %Y %H:%M')} ({row.kind.replace('_', '-')})"
            for row in db.session.execute(select(table.c.id, table.c.starts_at, table.c.kind)
                                          .where(table.c.id.in_(ids)))}


def resolve(events: Iterable[AuditEvent], may: Callable[[str], bool]) -> Names:
    """Read the names of every user, patient and appointment `events` point at: at most three statements."""
    events = list(events)
    appointment_ids = {_id(e.object_id) for e in events if e.object_type == "appointment"} - {None}
    user_ids = {_id(e.object_id) for e in events if e.object_type == "user"} - {None}
    patient_ids = ({_id(e.object_id) for e in events if e.object_type == "patient"}
                   | {e.patient_id for e in events}) - {None}
    users, patients = {}, {}
    if user_ids:
        table = db.metadata.tables["users"]
        users = dict(db.session.execute(select(table.c.id, table.c.full_name).where(table.c.id.in_(user_ids))).all())
    if patient_ids:
        table = db.metadata.tables["patients"]
        patients = {row.id: f"{row.mrn} {_initials(row.given_name, row.family_name)}" for row in db.session.execute(
            select(table.c.id, table.c.mrn, table.c.given_name, table.c.family_name).where(table.c.id.in_(patient_ids)))}
    return Names(users, patients, may, _appointment_names(appointment_ids) if appointment_ids else {})
