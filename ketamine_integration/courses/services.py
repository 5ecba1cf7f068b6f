"""Course operations: enrol, change phase under the protocol's gates, keep the checklist."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date

from blinker import Namespace
from sqlalchemy import bindparam, func, select

from ..accounts.models import PRESCRIBER, THERAPIST, User
from ..db.types import utcnow
from ..domain.phases import (NEXT_PHASES, CourseFacts, Phase, TransitionDecision, TransitionRefused,
                             decide_transition, gate_blockers)
from ..domain.measures import MEASURES
from ..domain.protocols import DOCUMENTED_ITEMS, PREPARATION_ITEMS, Protocol
from ..domain.text import written_length
from ..db.errors import ConcurrentEdit, DomainError
from ..extensions import db
from ..db.locking import flush_versioned, lock_row
from ..patients.models import Patient
from ..patients.access import on_care_team
from ..patients.care_team import change_care_team, may_add_members, team_of
from ..protocols.services import current_library, protocol_of, register_version
from .models import PREPARATION_SESSION, PhaseTransition, PreparationRecord, TreatmentCourse

signals = Namespace()
#: sent when a course ends (sender: the course; `by`: who ended it), inside the phase change's
#: transaction: the packages that plan and book on a course cancel what is still ahead
#: (create_app connects them; courses sit below them and know none of them)
course_ended = signals.signal("course-ended")
#: sent when a patient is enrolled (sender: the new course; `by`: who enrolled), inside the enrolment's
#: transaction: the signed forms package asks for the forms the protocol names (its packet)
course_enrolled = signals.signal("course-enrolled")

#: how many signed dosing sessions a course has, by course id: the experience package answers
#: (create_app connects it), for the gates that count them
_dosing_counters: list[Callable[[int], int]] = []

#: the forms a course's protocol names that are not signed (in their current version, not withdrawn), by title:
#: the signed forms package answers (create_app connects it), for the preparation gate (issue 26)
_unsigned_form_finders: list[Callable[[TreatmentCourse], tuple[str, ...]]] = []
#: what a course's signed forms meet of its checklist (FORM_ITEMS): the signed forms package answers (create_app
#: connects it). Kept apart from the other finders: a caller that has read the packet already (the course page)
#: passes what it found to `evidence` and `course_facts` instead of having it read again
_form_evidence_finders: list[Callable[[TreatmentCourse], Evidence]] = []

#: the checklist items signed forms meet on a course whose protocol names forms (issue 26, point 5): the consent
#: by every consent of the packet signed, the intake assessment by the intake form; never ticked there. A course
#: on a version without forms keeps recording them by hand.
FORM_ITEMS = {"informed_consent": "consent", "intake_assessment": "intake"}

#: checklist entries only a prescriber may record (BRIEF: medical clearance by a prescriber)
PRESCRIBER_ONLY_ITEMS = frozenset({"medical_clearance"})


@dataclass(frozen=True)
class DerivedItem:
    """A checklist item met by a record, not a tick: a measure's baseline, or a signed note."""
    item: str
    #: the clinic date of the record (the measurement, the session)
    on: date
    #: the record, in words: "PHQ-9 of 2026-03-02: 17 (Moderately severe)"
    summary: str


@dataclass(frozen=True)
class Evidence:
    """What a course's records meet of its preparation checklist."""
    #: the items they meet, by item
    items: dict[str, DerivedItem]
    #: each signed preparation session, oldest first
    sessions: tuple[DerivedItem, ...] = ()
    #: the items only signed forms meet on this course (it has a packet): the gate says "still to sign"
    to_sign: frozenset[str] = frozenset()
    #: an item's name where the course's forms say better what it holds ("Consents and agreements")
    names: tuple[tuple[str, str], ...] = ()

    def __or__(self, other: Evidence) -> Evidence:
        return Evidence({**self.items, **other.items}, self.sessions + other.sessions,
                        self.to_sign | other.to_sign, self.names + other.names)


#: the finders of what each course's records meet: the notes package answers (create_app connects
#: them): a baseline is a measure dated before the first dose; signed preparation notes are the
#: preparation sessions and meet the items they document
_evidence_finders: list[Callable[[TreatmentCourse], Evidence]] = []


def count_dosing_with(counter: Callable[[int], int]) -> None:
    """Count a course's signed dosing sessions with `counter` (once, however many apps are made)."""
    _dosing_counters[:] = [counter]


def find_unsigned_forms_with(finder: Callable[[TreatmentCourse], tuple[str, ...]]) -> None:
    """Ask `finder` which of a course's forms are still to sign (once, however many apps are made)."""
    _unsigned_form_finders[:] = [finder]


def unsigned_forms(course: TreatmentCourse) -> tuple[str, ...]:
    """Titles of the course's forms not signed in their current version (none without the package)."""
    return tuple(title for finder in _unsigned_form_finders for title in finder(course))


def derive_items_with(*finders: Callable[[TreatmentCourse], Evidence]) -> None:
    """Find what a course's records meet of its checklist with `finders` (once per process)."""
    _evidence_finders[:] = finders


def derive_form_items_with(finder: Callable[[TreatmentCourse], Evidence]) -> None:
    """Find what a course's signed forms meet of its checklist with `finder` (once per process)."""
    _form_evidence_finders[:] = [finder]


def measured_item_keys() -> frozenset[str]:
    """The checklist items only a measurement meets (read at each use: the registry is open)."""
    return frozenset(m.baseline_item for m in MEASURES.values() if m.has_baseline)


def derived_item_keys(protocol: Protocol | None = None) -> frozenset[str]:
    """The checklist items only a record meets, never a tick: the baselines (a measurement), the
    items a signed preparation note documents, and the signed preparation sessions themselves; and
    for a protocol naming forms, the consent and intake its signed forms meet."""
    forms = set(FORM_ITEMS) if protocol is not None and protocol.preparation.forms else set()
    return measured_item_keys() | set(DOCUMENTED_ITEMS) | {PREPARATION_SESSION} | forms


def evidence(course: TreatmentCourse, forms: Evidence | None = None) -> Evidence:
    """What the course's records meet of its checklist (the notes package finds it; `forms`: what its
    signed forms meet, when the caller has found it from the packet it read, else the forms package finds it)."""
    found = Evidence({})
    for finder in _evidence_finders:  # create_app connects them
        found = found | finder(course)
    if forms is None:
        forms = Evidence({})
        for finder in _form_evidence_finders:
            forms = forms | finder(course)
    return found | forms


#: lock_course's statement, built once (every booking, dose plan and phase change runs it): the course row
#: locked and read again as it now stands in one statement, where a lock and then a refresh took two. Only the
#: course's row is locked (OF), not its protocol version's, which it reads joined.
LOCK_COURSE = (select(TreatmentCourse).where(TreatmentCourse.id == bindparam("course_id"))
               .with_for_update(key_share=True, of=TreatmentCourse).execution_options(populate_existing=True))


def lock_course(course: TreatmentCourse) -> None:
    """Lock the course row first, before any party: every writer that books on a course or
    changes its phase takes this lock in this order, so none waits on another in a circle.
    NO KEY UPDATE (key_share): inserting a row that references the course stays possible."""
    db.session.scalars(LOCK_COURSE, {"course_id": course.id}).one()


def count_courses_by_version() -> dict[int, int]:
    """How many courses follow each registered protocol version, by the version's id."""
    return dict(db.session.execute(select(TreatmentCourse.protocol_version_id, func.count())
                                   .group_by(TreatmentCourse.protocol_version_id)).all())


def course_protocol(course: TreatmentCourse) -> Protocol:
    return protocol_of(course.protocol_version)


def fetch_courses_for_patient(patient_id: int) -> list[TreatmentCourse]:
    return db.session.scalars(select(TreatmentCourse).where(TreatmentCourse.patient_id == patient_id)
                              .order_by(TreatmentCourse.start_date.desc(), TreatmentCourse.id.desc())).all()


def current_course(patient_id: int) -> TreatmentCourse | None:
    """The course the patient is on: their newest that has not ended, else their newest (None: none yet)."""
    courses = fetch_courses_for_patient(patient_id)
    return next((c for c in courses if not c.current_phase.ended), courses[0] if courses else None)


def _clinician(user_id: int, role: str, field: str) -> User:
    user = db.session.get(User, user_id)
    if user is None or not user.active or not user.has_role(role):
        raise DomainError({field: f"Choose an active {role}."})
    return user


def enrol_patient(patient: Patient, *, protocol_key: tuple[str, int], start_date: date,
                  indication: str, therapist_id: int, prescriber_id: int, by: User) -> TreatmentCourse:
    """Start a course on the current file of a protocol, pinned to its registered snapshot."""
    if patient.is_archived:
        raise DomainError("This patient is archived; restore the record before enrolling.")
    entry = current_library().find(*protocol_key)
    if entry is None:
        raise DomainError({"protocol": "That protocol version is not in the library (or is invalid)."})
    therapist = _clinician(therapist_id, THERAPIST, "therapist")
    prescriber = _clinician(prescriber_id, PRESCRIBER, "prescriber")
    _check_may_join(patient, {"therapist": therapist, "prescriber": prescriber}, by)
    version = register_version(entry)
    course = TreatmentCourse(patient=patient, protocol_version=version, start_date=start_date,
                             indication=indication.strip(), therapist=therapist,
                             prescriber=prescriber, created_by_id=by.id,
                             phase=Phase.PREPARATION.value)
    course.transitions.append(PhaseTransition(from_phase=None, to_phase=Phase.PREPARATION.value,
                                              by_user_id=by.id, reason="Enrolled"))
    db.session.add(course)
    db.session.flush()
    _join_treating_clinicians(course, by)
    course_enrolled.send(course, by=by)
    return course


def _check_may_join(patient: Patient, clinicians: dict[str, User], by: User) -> None:
    """The enrol page says the course's clinicians join the care team: that statement is the ask,
    but granting it stays with those who keep care teams (issue 17, point 2); anyone else (a
    prescriber) names members of the team or asks staff."""
    if may_add_members(by, patient):
        return
    errors = {field: f"{user.display_name} is not on this patient's care team. Choose a member of the "
                     f"team, or ask clinic staff to add {user.display_name} to it."
              for field, user in clinicians.items() if not on_care_team(user, patient)}
    if errors:
        raise DomainError(errors)


def _join_treating_clinicians(course: TreatmentCourse, by: User) -> None:
    """The course's therapist and prescriber join the patient's care team (the enrol page says
    so): an explicit grant, recorded as a care-team change naming the course."""
    joining = {(course.therapist_id, THERAPIST), (course.prescriber_id, PRESCRIBER)}
    patient = course.patient
    roles = " and ".join(role for _, role in sorted(joining - team_of(patient), key=lambda m: m[1], reverse=True))
    change_care_team(patient, team_of(patient) | joining, by=by,
                     reason=f"enrolled as treating {roles} of course {course.id}")


def live_preparation(course: TreatmentCourse) -> list[PreparationRecord]:
    return [r for r in course.preparation_records if r.live]


def course_facts(course: TreatmentCourse, dosing_sessions_done: int | None = None,
                 found: Evidence | None = None, forms_to_sign: tuple[str, ...] | None = None) -> CourseFacts:
    """The recorded facts the phase gates look at (`dosing_sessions_done`: the signed dosing
    sessions, when the caller has counted them from the sessions it read; `found`: what the
    course's records meet, and `forms_to_sign`: the titles of its forms still to sign, when the
    caller has found them). An item a record meets counts only
    when the record meets it: a tick recorded for one earlier (a baseline before issue 19; a
    preparation session, intention, set-and-setting plan or support person before issue 20)
    stays in the history and counts no more."""
    found = evidence(course) if found is None else found
    derived_keys = derived_item_keys(course_protocol(course))
    ticked = {r.item for r in live_preparation(course) if r.item not in derived_keys}
    return CourseFacts(
        phase=course.current_phase,
        preparation_items_done=frozenset(ticked | set(found.items)),
        signed_preparation_sessions=len(found.sessions),
        dosing_sessions_done=count_dosing_sessions_done(course) if dosing_sessions_done is None
        else dosing_sessions_done,
        forms_to_sign=unsigned_forms(course) if forms_to_sign is None else forms_to_sign,
        items_to_sign=found.to_sign, item_names=found.names,
    )


def count_dosing_sessions_done(course: TreatmentCourse) -> int:
    """Signed dosing sessions of the course (the experience package counts them)."""
    counter, = _dosing_counters  # create_app connects exactly one
    return counter(course.id)


def change_phase(course: TreatmentCourse, target: Phase, *, by: User, expected_version: int,
                 reason: str | None, override: bool) -> TransitionDecision:
    """Move the course to `target` if its protocol allows (or a clinician overrides with reason)."""
    lock_course(course)  # bookings on the course wait, then see the new phase
    if course.version != expected_version:
        raise ConcurrentEdit("Someone else changed this course's phase meanwhile; review the page "
                             "and try again.", current_version=course.version)
    try:
        decision = decide_transition(course_protocol(course), course_facts(course), target,
                                     reason=reason, override=override)
    except TransitionRefused as refused:
        raise DomainError({"target": " ".join(refused.reasons)}) from None
    # set from the row's side: appending to course.transitions read the whole history first (a SELECT
    # per phase change, since lock_course's refresh unloads it); the back reference records it unread
    db.session.add(PhaseTransition(
        course=course, from_phase=course.phase, to_phase=target.value, by_user_id=by.id, reason=decision.reason,
        overridden="\n".join(decision.overridden) or None))
    course.phase, course.phase_since = target.value, utcnow()
    if target.ended:
        course_ended.send(course, by=by)
    flush_versioned(course, "Someone else changed this course's phase at the same moment; review the page "
                            "and try again.")
    return decision


def checklist_items(protocol: Protocol) -> list[tuple[str, str]]:
    """(key, label) of what may be recorded for this protocol's preparation."""
    items = [(key, PREPARATION_ITEMS[key]) for key in protocol.preparation.required_items]
    if protocol.preparation.min_signed_sessions:
        items.append((PREPARATION_SESSION, "Signed preparation session"))
    return items


def recordable_items(protocol: Protocol) -> list[tuple[str, str]]:
    """The checklist items a clinician records (not those a record meets)."""
    return [(key, label) for key, label in checklist_items(protocol) if key not in derived_item_keys(protocol)]


def _refuse_derived(item: str, label: str, protocol: Protocol) -> None:
    """What a record proves is read from it: no tick stands in for a baseline (a measurement, issue
    19 point 7) or for what a signed preparation note documents (issue 20, point 10)."""
    measure = next((m for m in MEASURES.values() if m.baseline_item == item), None)
    if measure is not None:
        raise DomainError({"item": f"{label} is not ticked: record the {measure.name} itself on the measures "
                                   f"page; the last one dated before the first dose is the baseline."})
    if item == PREPARATION_SESSION:
        raise DomainError({"item": "Signed preparation sessions are not ticked: write the preparation session's "
                                   "note on the course page and sign it; each signed preparation note counts."})
    if item in FORM_ITEMS and protocol.preparation.forms:
        raise DomainError({"item": f"{label} is not ticked: it is met when the patient has signed the course's "
                                   f"{FORM_ITEMS[item]} forms (in the portal or on the clinic tablet)."})
    if item in DOCUMENTED_ITEMS:
        raise DomainError({"item": f"{label} is not ticked: it is met by a signed preparation note "
                                   f"{DOCUMENTED_ITEMS[item][1]}. Write it in the preparation session's note and "
                                   "sign it."})


def record_preparation(course: TreatmentCourse, *, item: str, completed_on: date, note: str | None,
                       by: User, today: date) -> PreparationRecord:
    protocol = course_protocol(course)
    allowed = dict(checklist_items(protocol))
    if item not in allowed:
        raise DomainError({"item": "That is not a preparation requirement of this course's protocol."})
    _refuse_derived(item, allowed[item], protocol)
    if course.current_phase is not Phase.PREPARATION:
        raise DomainError({"item": "Preparation can only be recorded while the course is in preparation."})
    if item in PRESCRIBER_ONLY_ITEMS and not by.can("courses.medical_clearance"):
        raise DomainError({"item": f"{allowed[item]} must be recorded by a prescriber."})
    if completed_on > today:
        raise DomainError({"completed_on": "The date cannot be in the future."})
    if any(r.item == item for r in live_preparation(course)):
        raise DomainError({"item": f"{allowed[item]} is already recorded; void that entry first to correct it."})
    record = PreparationRecord(item=item, completed_on=completed_on, note=(note or "").strip() or None,
                               recorded_by_id=by.id)
    course.preparation_records.append(record)
    db.session.flush()
    return record


def void_preparation(course: TreatmentCourse, record_id: int, *, reason: str, by: User) -> PreparationRecord:
    record = next((r for r in course.preparation_records if r.id == record_id), None)
    if record is not None:
        lock_row(record)  # two voids at once take turns; the second sees the first and is refused
    if record is None or not record.live:
        raise DomainError("That checklist entry does not exist or is already voided.")
    if course.current_phase is not Phase.PREPARATION:
        raise DomainError("The course has left preparation; its checklist is closed.")
    if written_length(reason) < 10:
        raise DomainError({"reason": "Say why this entry is voided (at least 10 characters, spaces not counted)."})
    record.voided_at, record.voided_by_id, record.void_reason = utcnow(), by.id, reason.strip()
    db.session.flush()
    return record


def phase_history(course: TreatmentCourse) -> list[dict]:
    """Each phase the course has been in, with when it began and ended (None: ongoing)."""
    rows = []
    transitions = course.transitions
    for i, t in enumerate(transitions):
        ended = transitions[i + 1].occurred_at if i + 1 < len(transitions) else None
        rows.append({"phase": Phase(t.to_phase), "started": t.occurred_at, "ended": ended,
                     "by": t.by_user.display_name, "reason": t.reason,
                     "overridden": t.overridden.splitlines() if t.overridden else []})
    return rows


def next_phase_blockers(course: TreatmentCourse, facts: CourseFacts) -> dict[Phase, list[str]]:
    """For each phase the course may move to next: what blocks it, in plain words."""
    protocol = course_protocol(course)
    return {target: gate_blockers(protocol, facts, target) for target in NEXT_PHASES[course.current_phase]}
