"""Care-team membership: the one place it changes, each change one audit row naming who, when and why.

A clinician on a patient's care team reads the patient's clinical record (patients.access), so
a membership is a grant of access. It is never a side effect: booking, planning dosing or
enrolling with a clinician outside the team either asks for the membership explicitly (with a
reason, by someone allowed to keep care teams) or is refused (issue 17, point 2).
"""
from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from ..accounts.models import PRESCRIBER, THERAPIST, User
from ..audit import services as audit
from ..db.errors import DomainError
from ..extensions import db
from .access import on_care_team, team_roles
from .models import CareTeamMember, Patient
from ..domain.text import written_length

#: a reason is short and not clinical ("covering while Dr Ames is on leave"): it goes into the
#: audit row, whose detail holds at most 200 characters
REASON_LENGTH = (5, 100)
#: (user id, role on the team)
Member = tuple[int, str]
#: what clinicians leaving a patient's care team still hold for the patient: {user id: ["Integration
#: session 2026-12-08 10:00 EST", ...]} for (patient, the user ids leaving)
DepartureCheck = Callable[[Patient, set[int]], dict[int, list[str]]]
#: registered in create_app: scheduling, above this package, answers for its bookings
_departure_checks: list[DepartureCheck] = []
#: how many of a clinician's bookings a refusal names before "and N more"
NAMED_BOOKINGS = 3


def check_departures_with(check: DepartureCheck) -> None:
    """Ask `check` before anyone leaves a care team (once, however many apps are made)."""
    if check not in _departure_checks:
        _departure_checks.append(check)


@dataclass(frozen=True)
class JoinRequest:
    """"Add this clinician to the care team", ticked on a booking or planning form, and why."""

    reason: str


def team_of(patient: Patient) -> frozenset[Member]:
    return frozenset((m.user_id, m.role) for m in patient.care_team)


def may_add_members(user: User, patient: Patient) -> bool:
    """Staff and admin keep every care team. A therapist on this patient's team, who books the
    patient's sessions, may bring in a covering colleague; a prescriber asks staff."""
    return user.can("patients.register") or THERAPIST in team_roles(user, patient)


def change_care_team(patient: Patient, wanted, *, by: User | None, reason: str | None,
                     reason_field: str = "reason") -> bool:
    """Make the care team exactly `wanted` ((user id, role) pairs), and record the change with
    the team before and after, who made it and why. Returns whether anything changed.

    The patient must have an id (flushed). `by` is None only for command-line loads (the demo).
    """
    before, wanted = team_of(patient), frozenset(wanted)
    if wanted == before:
        return False
    problems = departure_problems(patient, before, wanted)
    reason = " ".join((reason or "").split())
    if not (written_length(reason) >= REASON_LENGTH[0] and len(reason) <= REASON_LENGTH[1]):
        problems[reason_field] = (f"Say why the care team changes ({REASON_LENGTH[0]} to "
                                  f"{REASON_LENGTH[1]} characters, not clinical).")
    if problems:
        raise DomainError(problems)
    patient.care_team = [m for m in patient.care_team if (m.user_id, m.role) in wanted]
    for user_id, role in sorted(wanted - before):
        patient.care_team.append(CareTeamMember(user_id=user_id, role=role))
    db.session.flush()
    audit.record("care_team.change", obj=patient, patient_id=patient.id,
                 user_id=by.id if by is not None else None, detail=describe_change(before, wanted, reason))
    return True


def add_to_care_team(patient: Patient, user: User, role: str, *, by: User | None, reason: str) -> bool:
    return change_care_team(patient, team_of(patient) | {(user.id, role)}, by=by, reason=reason)


def admit_clinician(patient: Patient, clinician: User, role: str, *, join: JoinRequest | None, by: User,
                    field: str = "clinician") -> None:
    """Before booking or planning with `clinician`: they are on the care team already, or the
    form asked for the membership and `by` may grant it (then it is granted and audited).

    Refusals name the clinician on the form's clinician field and say what to do instead.
    """
    if on_care_team(clinician, patient):
        return
    name = clinician.display_name
    if not may_add_members(by, patient):
        raise DomainError({field: f"{name} is not on this patient's care team. Choose a member of the "
                                  f"team, or ask clinic staff to add {name} to it."})
    if join is None:
        raise DomainError({field: f"{name} is not on this patient's care team. Choose a member of the "
                                  "team, or tick \"Add this clinician to the care team\" and say why."})
    add_to_care_team(patient, clinician, role, by=by, reason=join.reason)


def departure_problems(patient: Patient, before: frozenset[Member], after: frozenset[Member]) -> dict[str, str]:
    """Refusals, on the care-team field of their role, for clinicians who would leave the team
    while still booked with the patient: they could no longer open the course those bookings
    serve, so the bookings are cancelled or moved to another clinician first."""
    staying = {uid for uid, _ in after}
    leaving = {uid: role for uid, role in sorted(before) if uid not in staying}
    if not leaving:
        return {}
    held: dict[int, list[str]] = {}
    for check in _departure_checks:
        for uid, items in check(patient, set(leaving)).items():
            held.setdefault(uid, []).extend(items)
    problems: dict[str, list[str]] = {}
    for uid, items in sorted(held.items()):
        if items:
            problems.setdefault(f"{leaving[uid]}s", []).append(
                f"{db.session.get(User, uid).display_name} is still booked with this patient: "
                f"{_some(items)}. Cancel those bookings first (and book another clinician), then remove them "
                "from the care team.")
    return {field: " ".join(messages) for field, messages in problems.items()}


def _some(items: Iterable[str]) -> str:
    items = list(items)
    named = "; ".join(items[:NAMED_BOOKINGS])
    return named + (f"; and {len(items) - NAMED_BOOKINGS} more" if len(items) > NAMED_BOOKINGS else "")


def joined_since(before: frozenset[Member], patient: Patient) -> str:
    """Who joined the team since it was `before`, for a confirmation: "Hazel Quint, LCSW (therapist)
    and Orrin Vale, MD (prescriber) joined the care team." ('' if no one)."""
    added = sorted(team_of(patient) - before, key=lambda m: (m[1] != THERAPIST, m[0]))  # therapists first
    joined = [f"{db.session.get(User, uid).display_name} ({role})" for uid, role in added]
    return f"{' and '.join(joined)} joined the care team." if joined else ""


def dosing_team_role(clinician: User) -> str:
    """The team role of a clinician running dosing sessions."""
    return PRESCRIBER if clinician.has_role(PRESCRIBER) else THERAPIST


def describe_change(before: frozenset[Member], after: frozenset[Member], reason: str) -> str:
    """The audit detail: what changed (with usernames), the team before and after, and why.

    At most 200 characters (the column): the team lists shrink to counts first, then the
    reason is shortened; what changed is always there in full."""
    users = {uid: db.session.get(User, uid) for uid, _ in before ^ after}
    changes = [f"added {role} {users[uid].username} (#{uid})" for uid, role in sorted(after - before)] + \
              [f"removed {role} {users[uid].username} (#{uid})" for uid, role in sorted(before - after)]
    head = "; ".join(changes)
    detail = f"{head}; before: {describe_team(before)}; after: {describe_team(after)}; reason: {reason}"
    if len(detail) > 200:
        detail = f"{head}; before: {len(before)} members; after: {len(after)}; reason: {reason}"
    return detail if len(detail) <= 200 else detail[:199] + "…"


def describe_team(team: frozenset[Member]) -> str:
    """'therapist #3 #7, prescriber #4', or 'none'."""
    roles = sorted({role for _, role in team}, reverse=True)  # therapists first
    return ", ".join(f"{role} " + " ".join(f"#{uid}" for uid, r in sorted(team) if r == role)
                     for role in roles) or "none"
