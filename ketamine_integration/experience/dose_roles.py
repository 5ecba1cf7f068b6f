"""Who may be named at a dose and who may record what: the dose is recorded and signed by a
prescriber, administered and monitored by a prescriber or nurse (issue 19, point 3); a nurse
records vitals and names only themselves; a therapist monitors, and records the monitoring as a
nurse does, only where the protocol allows, and otherwise reads the record."""
from __future__ import annotations

from ..accounts.models import User
from ..accounts.services import user_choices
from ..db.errors import DomainError
from ..domain.permissions import permissions_of, roles_with
from ..extensions import db
from ..protocols.services import protocol_of
from .models import DosingSession


#: who a dosing record may name, by its column: a prescriber or nurse (front-desk staff never,
#: a therapist never as administering)
RECORDED_AS = {"administered_by_id": "dosing.administer", "monitored_by_id": "dosing.monitor"}
#: who else may be named as monitoring, where the protocol allows a therapist present as monitor only
MONITOR_IF_PROTOCOL_ALLOWS = "dosing.monitor_if_protocol_allows"
#: why a person may not be named, by field
NOT_NAMEABLE = {"administered_by": "Choose a prescriber or nurse on the patient's care team: a dose is never "
                                   "administered by a therapist or front-desk staff.",
                "monitored_by": "Choose a prescriber or nurse on the patient's care team: front-desk staff never "
                                "monitor a dose, and a therapist only where the protocol allows it."}


#: why a user who reads a dosing record may not save it
NOT_A_RECORDER = ("A dosing session is recorded by a prescriber or nurse, and by a therapist only where the "
                  "protocol allows a therapist as monitor; you can read this record.")


def may_record(user: User, course) -> bool:
    """Whether `user` may save the draft records of this course's dosing sessions: a prescriber or
    nurse, or a therapist where the course's protocol allows a therapist present as monitor only
    (issue 19, point 3: a therapist is otherwise never involved in a medication dose). The care
    team is checked where the record is loaded."""
    if user.can("dosing.record_vitals"):
        return True
    return (user.can(MONITOR_IF_PROTOCOL_ALLOWS)
            and protocol_of(course.protocol_version).experience.therapist_may_monitor)


def may_be_named(column: str, permissions: frozenset[str], protocol) -> bool:
    """Whether a holder of `permissions` may be recorded in `column` of a dose under `protocol`."""
    if RECORDED_AS[column] in permissions:
        return True
    return (column == "monitored_by_id" and protocol.experience.therapist_may_monitor
            and MONITOR_IF_PROTOCOL_ALLOWS in permissions)


#: what only a clinician who may record the dose enters (a nurse records vitals, times, monitoring
#: and observations, and names only themselves as administering or monitoring)
DOSE_FIELDS = ("route", "medication", "dose_mg", "weight_kg", "lot_number", "concomitant_sedating_medications")


def care_team_ids(session: DosingSession) -> set[int]:
    return {member.user_id for member in session.course.patient.care_team}


def dosing_team_choices(session: DosingSession) -> tuple[list[tuple[int, str]], list[tuple[int, str]]]:
    """(who may be recorded as administering, who as monitoring): the patient's care team's active
    members holding that permission, by name, in one query; whoever the record names already
    stays a choice, so a save never drops who really did it."""
    team, protocol = care_team_ids(session), protocol_of(session.course.protocol_version)
    rows = user_choices(*{role for permission in (*RECORDED_AS.values(), MONITOR_IF_PROTOCOL_ALLOWS)
                          for role in roles_with(permission)})

    def holding(column: str) -> list[tuple[int, str]]:
        chosen = [(user_id, name) for user_id, name, roles in rows
                  if user_id in team and may_be_named(column, permissions_of(roles), protocol)]
        named = getattr(session, column.removesuffix("_id"))
        if named is not None and all(user_id != named.id for user_id, _ in chosen):
            chosen.append((named.id, named.display_name))
        return chosen
    return holding("administered_by_id"), holding("monitored_by_id")


def recorded_people_problems(session: DosingSession, values: dict) -> dict[str, str]:
    """A person named as administering or monitoring must be on the patient's care team and hold
    that permission now (one named before, and unchanged since, stays: a record keeps who really
    did it)."""
    team, protocol = care_team_ids(session), protocol_of(session.course.protocol_version)
    problems = {}
    for column in RECORDED_AS:
        user_id = values.get(column)
        if user_id is None or user_id == getattr(session, column):
            continue
        user = db.session.get(User, user_id)
        if user is None or not user.active or user_id not in team \
                or not may_be_named(column, user.permissions, protocol):
            field = column.removesuffix("_id")
            problems[field] = NOT_NAMEABLE[field]
    return problems


def recorder_limits(session: DosingSession, values: dict, spacing_reason: str | None, dose_reason: str | None,
                    by: User) -> dict[str, str]:
    """What a user who may not record the dose (a nurse, or a therapist present as monitor where
    the protocol allows) may change: not the dose fields (left blank, as their disabled inputs
    send them, they keep the recorded value), not a spacing override or a dose confirmation, and
    of the people fields only naming themselves. Anyone else may not save the record at all."""
    if not may_record(by, session.course):
        raise DomainError(NOT_A_RECORDER)
    if by.can("dosing.record_dose"):
        return {}
    problems = {}
    for column in DOSE_FIELDS:
        recorded = getattr(session, column)
        if values.get(column) is None:
            values[column] = recorded
        elif values[column] != recorded:
            problems[column] = "Recorded by the prescriber; ask them to change it."
    for column in RECORDED_AS:
        recorded = getattr(session, column)
        if values.get(column) is None:
            values[column] = recorded
        elif values[column] not in (recorded, by.id):
            problems[column.removesuffix("_id")] = "You can name only yourself here; the signing clinician names others."
    if spacing_reason and spacing_reason.strip():
        problems["spacing_reason"] = "A spacing override is the prescribing clinician's decision."
    if dose_reason and dose_reason.strip():
        problems["dose_reason"] = "Confirming an unusual dose is the prescribing clinician's decision."
    return problems
