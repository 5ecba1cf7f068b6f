"""Canaries on the demo patients' courses and a walk of every GET route of the portal (issue 23, "Done
when"): what a patient's portal must never show is planted through the services, as clinicians would
write it; then each demo patient, signed in, requests every GET route under /portal found in
app.url_map, with each of their own ids for a route's parameters and with other patients' ids (404).

Routes added later are walked as soon as they are registered; a route whose parameter the walk does
not know (OWN_VALUES) fails the walk with its name, so it is never skipped in silence."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from itertools import product

from flask import url_for
from sqlalchemy import select

from ketamine_integration.bookings.models import Appointment
from ketamine_integration.coordination import services as coordination
from ketamine_integration.coordination.models import CoordinationNote
from ketamine_integration.courses.models import TreatmentCourse
from ketamine_integration.db.clinic_time import clinic_today
from ketamine_integration.domain import journal as journal_rules
from ketamine_integration.domain.measures import MEASURES
from ketamine_integration.experience.models import DosingSession
from ketamine_integration.extensions import db
from ketamine_integration.journal import services as journal
from ketamine_integration.journal.models import JournalEntry
from ketamine_integration.notes import services as notes
from ketamine_integration.notes.models import ActionStep, MeasureResponse, ProcessNote, SafetyAlert
from ketamine_integration.plans.services import active_plan
from ketamine_integration.notes.patient_check_ins import PatientStepCheckIn
from ketamine_integration.notes.patient_responses import submit_patient_questionnaire
from ketamine_integration.notes.questionnaires import TOKEN_SEPARATOR, due_questionnaires
from ketamine_integration.patients.models import Patient
from ketamine_integration.practices.models import PracticeAssignment, PracticeLog
from ketamine_integration.signed_forms.models import SignedForm
from ketamine_integration.web import access

#: what the clinicians write on each demo portal patient's course (the patient id is appended)
PROCESS_CANARY = "Canary process note: my countertransference today"
COORDINATION_CANARY = "Canary coordination note: consider lowering the dose"
CLINICIAN_CANARY = "Canary clinician note: avoidant under stress"
ADDENDUM_CANARY = "Canary addendum: late entry on affect"
FORMULATION_CANARY = "Canary formulation: core belief of worthlessness"
ALERT_CANARY = "Canary alert: called the patient, safety plan reviewed"
#: written in each patient's own private journal entry: only their own pages may show it
OWN_WORDS = "Own words of patient"
def own_words(patient_id: int) -> str:
    return f"{OWN_WORDS} {patient_id}."


#: a token no invitation ever had (the public link page answers 404 to it)
UNKNOWN_INVITATION = "never-issued-link-0123456789"


def plant_canaries(patient_ids: list[int], now: datetime) -> None:
    """On each patient's course: a signed note (its clinician text, an action step the patient sees),
    its process note, an addendum, the safety alert its risk screen raised, acknowledged with what was
    done, a draft, the formulation and a coordination note; a PHQ-9 of the patient's own with item 9
    answered (its crisis page); a private journal entry in the patient's own words where the patient keeps a
    journal; and a consent the patient withdrew by phone, so that a form waits for their signature again. In the
    caller's transaction."""
    today = clinic_today(now)
    for patient_id in patient_ids:
        course = db.session.scalar(select(TreatmentCourse).where(TreatmentCourse.patient_id == patient_id)
                                   .order_by(TreatmentCourse.id.desc()).limit(1))
        therapist, marker = course.therapist, f" ({patient_id})"
        note = _note(course, today, CLINICIAN_CANARY + marker)
        notes.sign_note(note, by=therapist, expected_version=note.version, now=now)
        notes.save_process_note(note, body=PROCESS_CANARY + marker, by=therapist, expected_version=None)
        notes.add_addendum(note, body=ADDENDUM_CANARY + marker, by=therapist)
        alert = db.session.scalar(select(SafetyAlert).where(SafetyAlert.session_note_id == note.id))
        notes.acknowledge_alert(alert, note=ALERT_CANARY + marker, by=therapist, now=now)
        _note(course, today, CLINICIAN_CANARY + marker)  # and a draft
        formulation = notes.current_formulation(course.id)
        notes.save_formulation(course, content={"presenting_concerns": FORMULATION_CANARY + marker}, by=therapist,
                               expected_revision=formulation.revision if formulation else 0)
        coordination.send_note(course, recipient_id=course.prescriber_id, priority="routine", category="response",
                               body=COORDINATION_CANARY + marker, by=therapist, today=today)
        # the patient's own PHQ-9 with item 9 answered: its crisis page is one of the patient's pages
        submit_patient_questionnaire(course.patient, "phq9", [0] * 8 + [1], f"{course.id}/baseline", now)
        if db.session.scalar(select(JournalEntry.id).where(JournalEntry.patient_id == patient_id).limit(1)):
            journal.write_entry(course.patient, prompt=journal_rules.FREE, text=own_words(patient_id), now=now)
        _withdraw_a_consent(course, therapist, now)
    db.session.flush()


def _withdraw_a_consent(course, therapist, now: datetime) -> None:
    """The patient tells the clinic they withdraw the course's first consent in force (its form then waits for
    their signature again: the signing page is one of the patient's pages)."""
    from ketamine_integration.signed_forms.services import packet_status, withdraw
    status = packet_status(course)
    item = next((i for i in status.items if i.state == "signed" and i.signed.kind == "consent"), None) \
        if status is not None else None
    if item is not None:
        withdraw(item.signed, reason="Wants to talk it over first", recorded_by=therapist, now=now)


def _note(course, today, text: str):
    """A draft integration note of yesterday with `text` in every field a clinician writes, its risk
    screen answered yes (a safety alert) and a new action step (serving the plan's first objective
    when the course has a signed plan: the rule of domain/note_plan.py)."""
    therapist = course.therapist
    plan = active_plan(course.id)
    note = notes.create_note(course, kind="integration", session_date=today - timedelta(days=1), by=therapist,
                             today=today)
    written = {key: text for key in ("stood_out", "emotions", "imagery", "surprises", "meaningful", "insights",
                                     "core_beliefs", "connections_present", "connections_past", "practices_note",
                                     "challenges_note", "risk_notes", "next_session_plan")}
    notes.save_note(note, by=therapist, expected_version=note.version, today=today,
                    session_date=today - timedelta(days=1),
                    content=written | {"practices": [], "challenges": [], "host_theory": "act",
                                       "self_harm_thoughts": "yes", "self_harm_intent": "no",
                                       "safety_plan_reviewed": "yes", "techniques": []},
                    themes=[{"theme_id": None, "free_theme": "Canary theme", "patient_words": None}],
                    new_steps=[{"what": "Call my sister on Sundays", "how_often": "Once a week",
                                "starts_on": today, "review_on": today + timedelta(days=14), "linked_insight": None,
                                "success_criterion": "Four calls in a month",
                                "objective": plan.objectives[0].lineage_id if plan else None}],
                    check_ins=[], dosing_ids=[])
    return note


def canaries(patient_id: int) -> list[str]:
    """What may not appear on any portal page of the patient: every process note and coordination note
    of the clinic, the planted canaries, every safety alert's words, the other patients' names and
    their own words."""
    texts = [*db.session.scalars(select(ProcessNote.body)), *db.session.scalars(select(CoordinationNote.body)),
             PROCESS_CANARY, COORDINATION_CANARY, CLINICIAN_CANARY, ADDENDUM_CANARY, FORMULATION_CANARY,
             ALERT_CANARY, "Canary theme"]
    for finding, acknowledgement in db.session.execute(select(SafetyAlert.finding, SafetyAlert.acknowledgement)):
        texts += [finding, acknowledgement or ""]
    for other in db.session.scalars(select(Patient).where(Patient.id != patient_id)):
        texts += [f"{other.given_name} {other.family_name}", own_words(other.id)]
    return sorted({text[:40] for text in texts if text and text.strip()})


def _own_courses(patient_id: int):
    return select(TreatmentCourse.id).where(TreatmentCourse.patient_id == patient_id)


def _tokens(patient_id: int, now: datetime) -> list[str]:
    """The questionnaires open for the patient ("<course id>/<moment key>", notes/questionnaires.py)."""
    return [q.token for q in due_questionnaires(db.session.get(Patient, patient_id), now)]


def _moments(patient_id: int, now: datetime) -> list[str]:
    return [token.partition(TOKEN_SEPARATOR)[2] for token in _tokens(patient_id, now)]


def _ids(*statement_parts) -> Callable[[int, datetime], list]:
    def ids(patient_id: int, now: datetime) -> list:
        column, owner = statement_parts
        return list(db.session.scalars(select(column).where(owner(patient_id)).order_by(column)))
    return ids


def _shipped_form_ids() -> list[str]:
    """Every shipped intake and consent form's id (a form names no patient: its page is theirs by the course)."""
    from ketamine_integration.domain.form_library import load_folder
    from ketamine_integration.shipped import shipped_folder
    return sorted(form.id for form in load_folder(shipped_folder("forms")).newest())


#: a route parameter -> the values the patient owns (the walk tries each, and other patients' as theirs)
OWN_VALUES: dict[str, Callable[[int, datetime], list]] = {
    "appointment_id": _ids(Appointment.id, lambda p: Appointment.patient_id == p),
    "entry_id": _ids(JournalEntry.id, lambda p: JournalEntry.patient_id == p),
    "assignment_id": _ids(PracticeAssignment.id, lambda p: PracticeAssignment.course_id.in_(_own_courses(p))),
    "log_id": _ids(PracticeLog.id, lambda p: PracticeLog.patient_id == p),
    "step_id": _ids(ActionStep.id, lambda p: ActionStep.course_id.in_(_own_courses(p))),
    "check_in_id": _ids(PatientStepCheckIn.id, lambda p: PatientStepCheckIn.patient_id == p),
    "course_id": _ids(TreatmentCourse.id, lambda p: TreatmentCourse.patient_id == p),
    "dosing_session_id": _ids(DosingSession.id, lambda p: DosingSession.course_id.in_(_own_courses(p))),
    "response_id": _ids(MeasureResponse.id, lambda p: MeasureResponse.patient_id == p),
    "signed_form_id": _ids(SignedForm.id, lambda p: SignedForm.patient_id == p),
    "token": _tokens,
    "moment": _moments,
}
OWN_VALUES["action_step_id"] = OWN_VALUES["step_id"]
OWN_VALUES["dose_id"] = OWN_VALUES["dosing_session_id"]
#: parameters that name no patient's record: every patient's values are the same
SHARED_VALUES: dict[str, list] = {"prompt": list(journal_rules.PROMPTS), "measure": list(MEASURES),
                                  "measure_key": list(MEASURES), "form_id": _shipped_form_ids()}
#: own pages that send the patient elsewhere for some of their values, and where (what the address starts with): a
#: form of theirs that waits for no signature (signed, or not in that course's packet) sends them to their forms;
#: withdrawing an intake form or a consent no longer in force, to that signed form
OWN_REDIRECTS = {"portal_forms.sign": "/portal/forms/", "portal_forms.withdraw": "/portal/forms/signed/"}
#: one endpoint's parameter values, where its name means something else there: (own, another's)
ENDPOINT_VALUES: dict[tuple[str, str], tuple[list, list]] = {
    ("portal_sign_in.accept", "token"): ([], [UNKNOWN_INVITATION]),
}
#: own URLs tried per route and patient, at most (a long course has many appointments)
OWN_URLS = 40


def _ends(values: list) -> list:
    """The first two and the last two (a patient's oldest records and their newest, upcoming ones)."""
    return list(dict.fromkeys(values[:2] + values[-2:]))


@dataclass
class Walk:
    """What a walk found: the routes walked, the URLs answered 200 per route, and what was wrong."""
    endpoints: set[str] = field(default_factory=set)
    answered: dict[str, int] = field(default_factory=dict)
    #: the patients who found their own words (the positive control of the banned texts)
    saw_own_words: set[int] = field(default_factory=set)
    requests: int = 0
    problems: list[str] = field(default_factory=list)


def portal_get_rules(app) -> list:
    """Every GET route under /portal, the patient's own pages first (a sign-in page may end the session)."""
    rules = [r for r in app.url_map.iter_rules() if r.rule.startswith("/portal") and "GET" in r.methods]
    return sorted(rules, key=lambda r: (access.rule_for(app, r.endpoint).portal != access.PORTAL_PAGE, r.rule))


def _values(rule, arg: str, patient_id: int, others: list[int], now: datetime) -> tuple[list, list]:
    """A parameter's values: the patient's own, and other patients'. LookupError: a parameter not known."""
    if (rule.endpoint, arg) in ENDPOINT_VALUES:
        return ENDPOINT_VALUES[(rule.endpoint, arg)]
    if arg in SHARED_VALUES:
        return SHARED_VALUES[arg], []
    if arg in OWN_VALUES:
        return OWN_VALUES[arg](patient_id, now), [v for other in others for v in _ends(OWN_VALUES[arg](other, now))]
    raise LookupError(f"{rule.endpoint} ({rule.rule}): the walk does not know whose values <{arg}> takes; "
                      "add it to OWN_VALUES in tests/portal_canaries.py")


def route_urls(app, rule, patient_id: int, others: list[int], now: datetime) -> tuple[list[str], list[str]]:
    """The URLs of a route with the patient's own values, and with another patient's record in one
    id parameter at a time (the others the patient's own)."""
    args = sorted(rule.arguments)
    own, theirs = {}, {}
    for arg in args:
        own[arg], theirs[arg] = _values(rule, arg, patient_id, others, now)
    with app.test_request_context():
        own_urls = [url_for(rule.endpoint, **dict(zip(args, values))) for values in
                    product(*(own[a] for a in args))][:OWN_URLS]
        their_urls = []
        # only a record's id can be another patient's: a measure or a moment ("phq9", "baseline") names no
        # one, and with the patient's own course it is the patient's own page
        for arg in (a for a in args if a.endswith("_id") or a == "token"):
            fixed = {a: (own[a] or theirs[a])[:1] for a in args if a != arg}
            if all(fixed.values()):
                their_urls += [url_for(rule.endpoint, **{arg: value}, **{a: v[0] for a, v in fixed.items()})
                               for value in theirs[arg]]
    return own_urls, their_urls


def _planned(app, patient_id: int, others: list[int], now: datetime, walk: Walk) -> list[tuple]:
    """(route, own URLs, other patients' URLs) of every portal GET route the walk knows how to fill."""
    planned = []
    with app.app_context():
        for rule in portal_get_rules(app):
            try:
                planned.append((rule, *route_urls(app, rule, patient_id, others, now)))
            except LookupError as unknown:
                walk.problems.append(str(unknown))
        db.session.remove()
    return planned


def _status_problem(rule, page: bool, theirs: bool, response) -> str | None:
    """Another patient's record: 404. The patient's own: a page opens (a record of theirs, 200 or 404,
    as one past or closed may be), never through the sign-in; the sign-in's steps: no 500."""
    status, where = response.status_code, response.headers.get("Location", "")
    wanted = {404} if theirs else ({200, 404} if rule.arguments and page else
                                   {200, 302} if page else set(range(200, 500)))
    if not theirs and status == 302 and rule.endpoint in OWN_REDIRECTS and where.startswith(OWN_REDIRECTS[rule.endpoint]):
        return None
    if status not in wanted:
        return f"{status} {where}"
    if page and status == 302 and "/portal/sign-in" in where:
        return "sent to the sign-in (the walk lost its session)"
    return None


def walk_portal(app, client, patient_id: int, others: list[int], now: datetime, banned: list[str], walk: Walk) -> None:
    """GET every portal route as the signed-in patient: no 500, no banned text on any page, the
    patient's own pages open, another patient's record 404."""
    for rule, own_urls, their_urls in _planned(app, patient_id, others, now, walk):
        walk.endpoints.add(rule.endpoint)
        page = access.rule_for(app, rule.endpoint).portal == access.PORTAL_PAGE
        for url, theirs in [(u, False) for u in own_urls] + [(u, True) for u in their_urls]:
            response = client.get(url)
            walk.requests += 1
            # a download may be binary (a signed form's PDF: its text is compressed, test_signed_form_render.py
            # reads it with pypdf); read as text without failing on its bytes
            body = response.get_data().decode(errors="replace")
            if response.status_code == 200 and not theirs:
                walk.answered[rule.endpoint] = walk.answered.get(rule.endpoint, 0) + 1
            problem = _status_problem(rule, page, theirs, response)
            if problem:
                walk.problems.append(f"patient {patient_id} GET {url}: {problem}")
            walk.problems += [f"patient {patient_id} GET {url} shows {text!r}" for text in banned if text in body]
            if own_words(patient_id) in body:
                walk.saw_own_words.add(patient_id)
