"""What signed forms leave waiting on a prescriber (issue 26, points 2 and 4): flagged answers no
prescriber has reviewed yet, and consents withdrawn, on the live courses of their care-team patients; on a
prescriber or therapist: the countersignatures their forms ask of them (a new-user review of issue 26);
and on the front desk: the live courses with forms still to sign (it hands the clinic tablet over).
Each is one SELECT, counted for the home page's count and the menu's badge and listed by the home page
and the worklist from the same conditions, so the count is what the lists show."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, Select, and_, case, exists, false, func, literal, or_, select, tuple_
from sqlalchemy.orm import aliased, contains_eager, lazyload, selectinload

from ..accounts.models import User
from ..courses.models import TreatmentCourse
from ..domain.form_library import FormLibrary
from ..domain.phases import Phase
from ..extensions import db
from ..patients.access import caseload
from ..patients.models import CareTeamMember, Patient
from ..protocols.forms import current_forms
from .models import ConsentWithdrawal, FormCountersignature, FormFlagReview, FormPacket, PacketForm, SignedForm
from .status import flags_of

#: the phases of a course that has ended: nothing on it waits any more
ENDED = [p.value for p in Phase if p.ended]


#: a later signature of the same form on the same course: built once, as SQL constructs may be (a new alias's columns
#: cost more to set up than the rest of the menu badge's statement)
_LATER = aliased(SignedForm)
_SUPERSEDED = exists().where(_LATER.course_id == SignedForm.course_id, _LATER.form_id == SignedForm.form_id,
                             _LATER.id > SignedForm.id)


def _newest(stmt: Select) -> Select:
    """`stmt` (over SignedForm) narrowed to each course's newest signature of each form: a form signed
    again (a new version, or after a withdrawal) leaves what the earlier signature left waiting."""
    return stmt.where(~_SUPERSEDED)


def _on_live_courses(user: User, stmt: Select) -> Select:
    """`stmt` (over SignedForm) narrowed to the live courses of the user's care-team patients."""
    return caseload(user, stmt.join(TreatmentCourse, TreatmentCourse.id == SignedForm.course_id)
                    .join(Patient, Patient.id == TreatmentCourse.patient_id)
                    .where(Patient.archived_at.is_(None), TreatmentCourse.phase.not_in(ENDED)))


#: the care-team roles a form file may ask to countersign (domain.form_definitions.COUNTERSIGNERS; "staff"
#: countersigns for any patient and is no care-team member: no shipped form asks it)
TEAM_COUNTERSIGNERS = ("prescriber", "therapist")


def _asking(library: FormLibrary, role: str) -> ColumnElement[bool]:
    """The signatures whose form asks `role` to countersign, as the packet status reads it (status._item): the
    signed version's file, else (its file gone) the form's newest. The (form id, version) pairs are worked out
    once per form library (FormLibrary.countersigned_by) and matched in SQL with IN: one statement, whatever
    the library holds."""
    asking = library.countersigned_by(role)
    signed_version = tuple_(SignedForm.form_id, SignedForm.form_version)
    conditions = [signed_version.in_(asking.versions)] if asking.versions else []
    if asking.newest_of:
        # a signed version whose file is gone: the form's newest file says
        conditions.append(and_(SignedForm.form_id.in_(asking.newest_of), signed_version.not_in(asking.known)))
    return or_(*conditions) if conditions else false()


def _countersignatures_owed(user: User, stmt: Select) -> Select:
    """`stmt` (over SignedForm) narrowed to the newest signatures on the user's care-team patients' live courses
    whose form asks a role the user holds on that patient's care team, not countersigned and not withdrawn (a
    withdrawn consent owes nothing: services.countersign refuses it)."""
    if not _countersigns(user):
        return stmt.where(false())
    library = current_forms()
    held = [and_(_asking(library, role), Patient.id.in_(select(CareTeamMember.patient_id).where(
        CareTeamMember.user_id == user.id, CareTeamMember.role == role)))
        for role in TEAM_COUNTERSIGNERS if role in user.roles]
    unsigned = ~exists().where(FormCountersignature.signed_form_id == SignedForm.id)
    standing = ~exists().where(ConsentWithdrawal.signed_form_id == SignedForm.id)
    return _newest(_on_live_courses(user, stmt.where(or_(*held), unsigned, standing)))


def _countersigns(user: User) -> bool:
    """The user may countersign and holds a role a form's file can ask of a care team."""
    return user.can("forms.countersign") and any(role in user.roles for role in TEAM_COUNTERSIGNERS)


def count_countersignatures_owed(user: User) -> Select:
    """A SELECT of how many signed forms of the user's patients wait for their countersignature."""
    return _countersignatures_owed(user, select(func.count(SignedForm.id)).select_from(SignedForm))


def _flags_to_review(user: User, stmt: Select) -> Select:
    unreviewed = ~exists().where(FormFlagReview.signed_form_id == SignedForm.id)
    # a withdrawn consent's flags wait on nobody (status.PacketItem.blocks_dosing says the same)
    standing = ~exists().where(ConsentWithdrawal.signed_form_id == SignedForm.id)
    # flagged_count is written at signing from the document (migration 0057 counted the older rows);
    # `signatures verify` recounts it, so a column changed by hand is reported, not silently believed
    return _newest(_on_live_courses(user, stmt.where(SignedForm.flagged_count > 0, unreviewed, standing)))


def _withdrawn(user: User, stmt: Select) -> Select:
    return _newest(_on_live_courses(user, stmt.join(ConsentWithdrawal,
                                                    ConsentWithdrawal.signed_form_id == SignedForm.id)))


def count_flags_to_review(user: User) -> Select:
    """A SELECT of how many signed forms of the user's patients have flagged answers no prescriber reviewed."""
    return _flags_to_review(user, select(func.count(SignedForm.id)).select_from(SignedForm))


def count_withdrawals(user: User) -> Select:
    """A SELECT of how many consents of the user's patients stand withdrawn on a live course."""
    return _withdrawn(user, select(func.count(SignedForm.id)).select_from(SignedForm))


@dataclass(frozen=True)
class WaitingForm:
    """A signed form waiting on the prescriber: one with flagged answers to review, or a consent withdrawn."""

    patient: Patient
    course_id: int
    #: the form's title as signed
    title: str
    #: when the patient signed it (flags), or withdrew it
    at: datetime
    #: why each flagged answer needs review (the form file's reasons); empty for a withdrawal
    reasons: tuple[str, ...] = ()
    #: the withdrawal's reason as the patient gave it
    reason: str | None = None
    #: the withdrawn consent blocks dosing (its form file says so)
    blocks_dosing: bool = False


def _listed(stmt: Select) -> Select:
    return stmt.options(lazyload("*"), contains_eager(SignedForm.course).contains_eager(TreatmentCourse.patient))


def flags_to_review(user: User) -> list[WaitingForm]:
    """The signed forms `count_flags_to_review` counts, the oldest signature first."""
    stmt = _listed(_flags_to_review(user, select(SignedForm)).order_by(SignedForm.signed_at, SignedForm.id))
    return [WaitingForm(s.course.patient, s.course_id, s.title, s.signed_at,
                        reasons=tuple(dict.fromkeys(flag.reason for flag in flags_of(s))))
            for s in db.session.scalars(stmt).unique()]


def withdrawals(user: User) -> list[WaitingForm]:
    """The withdrawn consents `count_withdrawals` counts, the newest withdrawal first."""
    stmt = _listed(_withdrawn(user, select(SignedForm, ConsentWithdrawal))
                   .order_by(ConsentWithdrawal.withdrawn_at.desc(), SignedForm.id))
    library = current_forms()
    return [WaitingForm(s.course.patient, s.course_id, s.title, w.withdrawn_at, reason=w.reason,
                        blocks_dosing=_blocks_dosing(library, s))
            for s, w in db.session.execute(stmt).unique()]


def countersignatures_owed(user: User) -> list[WaitingForm]:
    """The signed forms `count_countersignatures_owed` counts, the oldest signature first (`reasons`: its flagged
    answers still to review, which come first: services.countersign refuses until they are). None for a
    user who countersigns nothing (the narrowed SELECT would join nothing to the patient: a cartesian product)."""
    if not _countersigns(user):
        return []
    stmt = _listed(_countersignatures_owed(user, select(SignedForm)).order_by(SignedForm.signed_at, SignedForm.id)
                   .options(selectinload(SignedForm.flag_review)))
    return [WaitingForm(s.course.patient, s.course_id, s.title, s.signed_at,
                        reasons=tuple(dict.fromkeys(flag.reason for flag in flags_of(s))) if s.flag_review is None
                        else ())
            for s in db.session.scalars(stmt).unique()]


def _blocks_dosing(library: FormLibrary, signed: SignedForm) -> bool:
    """The signed version's file (else the form's newest) says its withdrawal stops dosing: what the
    course's packet status says (status.PacketItem.blocks_dosing)."""
    definition = library.find(signed.form_id, signed.form_version) or next(
        (f for f in library.newest() if f.id == signed.form_id), None)
    return definition is not None and definition.withdrawal_blocks_dosing


def _in_force_from(library: FormLibrary) -> ColumnElement[int]:
    """The lowest signed version of each form that is still in force (status.needs_signing_again: a later
    version up to the newest that says resign_on_change asks again), as a CASE over SignedForm.form_id; 0
    for a form whose file is gone (its signature stands)."""
    lowest = {}
    for newest in library.newest():
        lowest[newest.id] = max((f.version for f in library.forms
                                 if f.id == newest.id and f.resign_on_change and f.version <= newest.version),
                                default=0)
    asked = {form_id: version for form_id, version in lowest.items() if version}
    return case(asked, value=SignedForm.form_id, else_=0) if asked else literal(0)


def _forms_to_sign(library: FormLibrary, *columns) -> Select:
    """A SELECT of `columns` over the packet forms on live courses of active patients not signed in force:
    no newest signature of it that is neither withdrawn nor of a version a later one asks to sign again
    (what status.PacketStatus.to_sign lists; a course enrolled before its protocol named forms has no
    packet and is left out)."""
    in_force = exists().where(
        SignedForm.course_id == FormPacket.course_id, SignedForm.form_id == PacketForm.form_id, ~_SUPERSEDED,
        ~exists().where(ConsentWithdrawal.signed_form_id == SignedForm.id),
        SignedForm.form_version >= _in_force_from(library))
    return (select(*columns).select_from(PacketForm).join(FormPacket, FormPacket.id == PacketForm.packet_id)
            .join(TreatmentCourse, TreatmentCourse.id == FormPacket.course_id)
            .join(Patient, Patient.id == TreatmentCourse.patient_id)
            .where(Patient.archived_at.is_(None), TreatmentCourse.phase.not_in(ENDED), ~in_force))


def count_courses_with_forms_to_sign() -> Select:
    """A SELECT of how many live courses in the clinic have forms still to sign: the front desk's count
    (it hands the tablet over; it sees every patient)."""
    return _forms_to_sign(current_forms(), func.count(func.distinct(FormPacket.course_id)))


@dataclass(frozen=True)
class CourseToSign:
    """A live course with forms still to sign, as the front desk's home page lists it."""

    patient: Patient
    course_id: int
    #: how many of its packet's forms are still to sign
    count: int


def courses_with_forms_to_sign(limit: int) -> list[CourseToSign]:
    """The courses `count_courses_with_forms_to_sign` counts (the first `limit`, oldest course first): two
    statements, whatever the clinic's size."""
    stmt = (_forms_to_sign(current_forms(), FormPacket.course_id, TreatmentCourse.patient_id, func.count(PacketForm.id))
            .group_by(FormPacket.course_id, TreatmentCourse.patient_id).order_by(FormPacket.course_id).limit(limit))
    rows = db.session.execute(stmt).all()
    patients = {p.id: p for p in db.session.scalars(
        select(Patient).where(Patient.id.in_(sorted({patient_id for _c, patient_id, _n in rows}))))} if rows else {}
    return [CourseToSign(patients[patient_id], course_id, count) for course_id, patient_id, count in rows]
