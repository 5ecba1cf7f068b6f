"""Demo intake and consent packets (issue 26, point 6): every course past preparation signed its
packet in the clinic before its first dose (the checklist reads consent and intake from the signed
forms); the courses in preparation show a packet in each state: just sent, partly signed in the
portal with a flagged answer waiting for the prescriber, signed in full on a clinic tablet with a
witness and its flagged answer reviewed, signed with countersignatures still owed; and a portal
patient withdrew the treatment consent of a course with a dose planned, which blocks it. Built
through the signed-forms services; every answer is fictional."""
from __future__ import annotations

from datetime import date, datetime, time, timedelta

from sqlalchemy import select

from ..accounts.models import User
from ..courses.models import TreatmentCourse
from ..db.clinic_time import clinic_zone
from ..domain.form_answers import sample_answers
from ..domain.form_definitions import FormDefinition
from ..domain.phases import Phase
from ..experience.models import PLANNED, DosingSession
from ..extensions import db
from ..patients.models import Patient
from ..portal.models import PortalAccount
from ..signed_forms import services as signed_forms
from ..signed_forms.models import IN_CLINIC, PORTAL, SignedForm

#: what a demo patient writes in a form's text questions, by question id (every other text answer is
#: the patient's own contact where the form asks for one, else domain.form_answers.sample_answers's)
TEXT_ANSWERS = {
    "main_concern": "Low mood most days for two years; I want to feel like myself again.",
    "previous_treatments": "Sertraline and bupropion; a year of weekly talking therapy.",
    "allergies": "None known",
    "usual_location": "At home, in the spare room with the door closed",
}
SERTRALINE = {"name": "Sertraline", "dose": "100 mg", "how_often": "once daily"}
#: the demo's flagged intake answers: a benzodiazepine (waiting on the prescriber) and a blood pressure
#: the patient was unsure of (reviewed), each with the medication list that goes with it
FLAGGED_WAITING = {"interacting_medications": ["benzodiazepines"], "current_medications": [
    SERTRALINE, {"name": "Lorazepam", "dose": "0.5 mg", "how_often": "at night when needed"}]}
FLAGGED_REVIEWED = {"high_blood_pressure": "uncontrolled", "current_medications": [
    SERTRALINE, {"name": "Amlodipine", "dose": "5 mg", "how_often": "once daily"}]}
REVIEW_NOTE = ("Blood pressure 138/86 at the clinic today and 134/84 at the GP last week on amlodipine; "
               "controlled. Cleared for dosing; recheck before each dose as usual.")
#: how long after a packet is signed in the clinic its prescriber countersigns it and reviews its flags
REVIEWED_AFTER = timedelta(hours=4)
WITHDRAWAL_REASON = "I want to pause treatment for now and talk it over with my prescriber before the next dose."
#: the course whose doses are taken at home (demo.courses.AT_HOME_COURSE) agreed to that in its consent
AT_HOME = {"consent-sublingual-ketamine": {"dose_setting": "home_supervised"}}


def demo_answers(form: FormDefinition, *, patient: Patient, chosen: dict | None = None) -> dict:
    """A valid answer to every question, none flagged (sample_answers), in the patient's own words: their
    emergency contact and phone where the form asks, TEXT_ANSWERS; `chosen` answers take their place."""
    contacts = {"emergency_contact_name": patient.emergency_contact_name,
                "escort_name": patient.emergency_contact_name, "emergency_contact_phone": patient.emergency_contact_phone,
                "escort_phone": patient.emergency_contact_phone, "callback_phone": patient.phone}
    answers = sample_answers(form)
    for question in form.questions:
        words = contacts.get(question.id) or TEXT_ANSWERS.get(question.id)
        if question.type == "text" and words:
            answers[question.id] = words
    return answers | (chosen or {})


def sign_packet(course: TreatmentCourse, *, at: datetime, witness: User, countersigners: dict[str, User],
                chosen: dict[str, dict] | None = None, review_note: str | None = None) -> list[SignedForm]:
    """Every form of the course's packet signed on a clinic tablet at `at`, `witness` handing it over, then
    countersigned that afternoon where the form asks (`countersigners`: by role; a role left out still owes
    it). `chosen`: answers by form id that take the place of the usual ones; `review_note`: the prescriber's
    review of a form's flagged answers, written that afternoon before countersigning it (a form with flags
    unreviewed is not countersigned). Returns the signed forms."""
    signed = []
    for item in signed_forms.packet_status(course).items:
        answers = demo_answers(item.form, patient=course.patient, chosen=(chosen or {}).get(item.form_id))
        signed.append(signed_forms.sign_form(
            course, item.form_id, raw_answers=answers, typed_name=course.patient.full_name,
            agreed=item.form.kind == "consent", method=IN_CLINIC, witness=witness, now=at))
        flagged = signed[-1].flagged_count > 0
        if flagged and review_note and "prescriber" in countersigners:
            signed_forms.review_flags(signed[-1], by=countersigners["prescriber"], note=review_note,
                                      now=at + REVIEWED_AFTER)
        if item.form.countersign in countersigners and not (flagged and signed[-1].flag_review is None):
            signed_forms.countersign(signed[-1], by=countersigners[item.form.countersign], now=at + REVIEWED_AFTER)
    return signed


def sign_before_first_dose(course: TreatmentCourse, therapist: User, prescriber: User, on: date, *,
                           screen_positive: bool = False, at_home: bool = False) -> None:
    """A course past preparation: its packet signed in the clinic the day after enrolment, with the
    therapist, and countersigned; long before its first dose (the checklist reads consent and intake from
    these signatures). The patient whose C-SSRS screener answered yes says so on the intake too."""
    chosen = dict(AT_HOME) if at_home else {}
    if screen_positive:
        chosen["intake-questionnaire"] = {"self_harm_thoughts": "passing"}
    sign_packet(course, at=datetime.combine(on + timedelta(days=1), time(10), clinic_zone()), witness=therapist,
                countersigners={"prescriber": prescriber, "therapist": therapist}, chosen=chosen)


def load_demo_packets(users: dict[str, User], now: datetime) -> None:
    """The packets of the courses in preparation, one state each, and a consent withdrawn (after the
    portal accounts: two of these are the patients' own doing in the portal).

    The portal patient in preparation signed the intake questionnaire there, its interacting medication
    flagged and waiting for the prescriber, the consents still to sign. Of the others, in protocol order:
    one packet just sent; one signed in full on a clinic tablet with staff1 as witness, its uncontrolled
    blood pressure reviewed by the prescriber and every countersignature given; one signed in full with
    the therapist, the prescriber's countersignatures still owed. A portal patient whose course has a dose
    planned withdrew its treatment consent in the portal yesterday, which blocks that dose until they
    sign again (on no such course: the front desk records the last course's withdrawal)."""
    zone = clinic_zone()
    courses = db.session.scalars(select(TreatmentCourse).where(TreatmentCourse.phase == Phase.PREPARATION.value)
                                 .order_by(TreatmentCourse.id)).all()
    accounts = _portal_accounts()
    online = next((c for c in courses if c.patient_id in accounts), None)
    _sent, in_clinic, owed = [c for c in courses if c is not online][:3]  # the first: nothing signed
    if online is not None:
        _partly_signed_online(online, accounts[online.patient_id], now - timedelta(days=1, hours=3))
    signed_at = datetime.combine(in_clinic.start_date + timedelta(days=2), time(10, 30), zone)
    sign_packet(in_clinic, at=signed_at, witness=users["staff1"],
                countersigners={"prescriber": in_clinic.prescriber, "therapist": in_clinic.therapist},
                chosen={"intake-questionnaire": FLAGGED_REVIEWED}, review_note=REVIEW_NOTE)
    sign_packet(owed, at=datetime.combine(owed.start_date + timedelta(days=1), time(15), zone), witness=owed.therapist,
                countersigners={"therapist": owed.therapist})
    yesterday = datetime.combine(now.astimezone(zone).date() - timedelta(days=1), time(20, 40), zone)
    withdrawing = _course_with_a_dose_ahead(accounts)
    if withdrawing is not None:
        signed_forms.withdraw(_treatment_consent(withdrawing), reason=WITHDRAWAL_REASON,
                              portal_account=accounts[withdrawing.patient_id], now=yesterday)
    else:
        signed_forms.withdraw(_treatment_consent(owed), reason=WITHDRAWAL_REASON, recorded_by=users["staff1"],
                              now=yesterday)
    db.session.flush()


def _portal_accounts() -> dict[int, PortalAccount]:
    """The demo patients' active portal accounts, by patient id."""
    return {a.patient_id: a for a in db.session.scalars(select(PortalAccount).where(
        PortalAccount.password_hash.is_not(None)).order_by(PortalAccount.id))}


def _partly_signed_online(course: TreatmentCourse, account: PortalAccount, at: datetime) -> None:
    """The intake questionnaire signed in the portal with an interacting medication (flagged); the
    consents still to sign, as the patient's portal shows."""
    intake = next(item.form for item in signed_forms.packet_status(course).items if item.form.kind == "intake")
    answers = demo_answers(intake, patient=course.patient, chosen=FLAGGED_WAITING)
    signed_forms.sign_form(course, intake.id, raw_answers=answers, typed_name=course.patient.full_name,
                           agreed=False, method=PORTAL, portal_account=account, now=at)


def _course_with_a_dose_ahead(accounts: dict[int, PortalAccount]) -> TreatmentCourse | None:
    """The first live course of a portal patient with a dosing session planned (the maintenance booster)."""
    return db.session.scalars(select(TreatmentCourse).join(DosingSession, DosingSession.course_id == TreatmentCourse.id)
                              .where(TreatmentCourse.patient_id.in_(list(accounts)),
                                     TreatmentCourse.phase.in_([Phase.EXPERIENCE.value, Phase.MAINTENANCE.value]),
                                     DosingSession.status == PLANNED)
                              .order_by(TreatmentCourse.id).limit(1)).first()


def _treatment_consent(course: TreatmentCourse) -> SignedForm:
    """The signed consent to the course's treatment route (its withdrawal stops the doses)."""
    return next(item.signed for item in signed_forms.packet_status(course).items
                if item.form is not None and item.form.routes and item.signed is not None)
