"""The clinical records of the synthetic clinic: dosing records, notes, measures, audit rows.

Each record is built as the app would have stored it: measures are scored by the app's
scorer registry, and signed dosing sessions and notes carry the digest the app's own
signing code computes (`flask --app wsgi signatures verify` recomputes and checks them).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from types import SimpleNamespace

from ketamine_integration.demo.notes import EXPERIENCES, STEPS
from ketamine_integration.domain import measures as scoring
from ketamine_integration.domain.dosing import WEIGHT_BASED_ROUTES, mg_per_kg
from ketamine_integration.experience import services as dosing_signing
from ketamine_integration.notes import services as note_signing

SEDATION = ("none", "mild", "mild", "moderate")
DISSOCIATION = ("mild", "moderate", "moderate", "severe")
OBSTACLES = (None, "Busy week at work", "Low energy in the mornings", "Travelled for family")
CHALLENGES = ([], [], ["not_sticking"], ["remembering"], ["overwhelm"])
HOST_THEORIES = ("act", "cbt", "psychodynamic", "humanistic", "ifs", "somatic", "integrative")
INTENTIONS = (["To feel less numb"], ["To forgive myself", "To sleep through the night"],
              ["To reconnect with my children"], ["To stop bracing for the worst"], ["To enjoy music again"])


@dataclass
class CourseState:
    """What the generator knows about one course while it writes the course's history."""
    id: int
    patient_id: int
    therapist_id: int
    prescriber_id: int
    protocol_id: str
    protocol: object
    row: dict
    responder: bool
    baseline: int
    #: the two themes that keep coming back for this patient
    recurring: tuple[int, int]
    phase: str = "preparation"
    phase_since: datetime | None = None
    open_steps: list[dict] = field(default_factory=list)
    notes: int = 0
    signed_dosing: int = 0
    transitions: int = 0


def audit(clinic, when: datetime, user_id: int | None, action: str, *, obj_type=None, obj_id=None,
          patient_id=None, detail=None) -> None:
    """One audit row, written later through the ORM session in time order."""
    clinic.audit_rows.append(dict(occurred_at=when, user_id=user_id, action=action, object_type=obj_type,
                                  object_id=None if obj_id is None else str(obj_id), patient_id=patient_id,
                                  ip=clinic.ip_for(user_id), outcome="success", detail=detail))


def _vitals(rng) -> dict[str, list[int]]:
    readings = {}
    for timepoint in ("baseline", "post_40", "discharge"):
        systolic = rng.randint(112, 138) + (14 if timepoint == "post_40" else 0)
        readings[timepoint] = [systolic, rng.randint(70, 86), rng.randint(60, 88), rng.randint(95, 99)]
    return readings


def dosing_values(rng, protocol, start: datetime, prescriber_id: int, monitor_id: int, weight: float) -> dict:
    """What a prescriber records for a dosing session (the demo's shape, varied)."""
    esketamine = protocol.medication == "esketamine"
    minutes = protocol.experience.min_monitoring_minutes + rng.choice((0, 0, 10, 20))
    weight_kg = None if esketamine else Decimal(str(weight))
    if esketamine:
        dose = Decimal(rng.choice(("56", "84")))
    elif protocol.route == "sublingual":
        dose = Decimal(rng.choice(("150", "200", "300")))
    else:
        dose = Decimal(str(round(weight * (0.5 if protocol.route == "iv" else 0.75), 1)))
    return dict(started_at=start, ended_at=start + timedelta(minutes=15 if esketamine else 40),
                route=protocol.route, medication=protocol.medication, dose_mg=dose, weight_kg=weight_kg,
                lot_number=f"SYN-{rng.randint(1000, 9999)}", administered_by_id=prescriber_id,
                monitored_by_id=monitor_id, sedation=rng.choice(SEDATION), dissociation=rng.choice(DISSOCIATION),
                concomitant_sedating_medications="none" if esketamine else None, monitoring_minutes=minutes,
                discharged_at=start + timedelta(minutes=minutes), discharge_ready=True,
                ready_to_leave_at=start + timedelta(minutes=minutes - 30) if esketamine else None,
                vitals_acceptable_before_dosing=True if esketamine else None,
                vitals_acceptable_before_discharge=True if esketamine else None)


def sign_dosing(clinic, course: CourseState, session_id: int, sequence: int, values: dict,
                signed_at: datetime, planned: datetime) -> None:
    """The session's record, vitals and adverse events as a draft; signed once they are in."""
    rng, rows = clinic.rng, clinic.rows
    per_kg = None
    if values["route"] in WEIGHT_BASED_ROUTES and values["weight_kg"]:
        per_kg = Decimal(str(mg_per_kg(float(values["dose_mg"]), float(values["weight_kg"]))))
    vitals = _vitals(rng)
    events = [("nausea", "mild", "ondansetron 4 mg")] if rng.random() < 0.15 else []
    if rng.random() < 0.03:
        events.append(("elevated blood pressure", "moderate", "observed until below 160/100"))
    rows.add("dosing_sessions", id=session_id, course_id=course.id, sequence=sequence, status="draft",
             planned_start=planned, spacing_override_reason=None, dose_mg_per_kg=per_kg, created_at=planned,
             updated_at=signed_at, version=2, cancel_reason=None, rems_submitted_on=None,
             rems_submitted_by_id=None, signed_at=None, signed_by_id=None, content_digest=None, **values)
    for timepoint, (systolic, diastolic, heart_rate, spo2) in vitals.items():
        rows.add("vital_signs", dosing_session_id=session_id, timepoint=timepoint, systolic=systolic,
                 diastolic=diastolic, heart_rate=heart_rate, spo2=spo2)
    for event_type, severity, action in events:
        rows.add("adverse_events", dosing_session_id=session_id, event_type=event_type, severity=severity,
                 action_taken=action)
    record = SimpleNamespace(id=session_id, course_id=course.id, sequence=sequence, status="signed",
                             dose_mg_per_kg=per_kg, signed_by_id=course.prescriber_id, signed_at=signed_at,
                             # the columns' defaults: in the clinic, readings by its staff, a usual dose
                             setting="in_clinic", dose_confirmation_reason=None,
                             vitals=[SimpleNamespace(timepoint=tp, systolic=v[0], diastolic=v[1], heart_rate=v[2],
                                                     spo2=v[3], source="clinician", respiratory_rate=None,
                                                     entered_by_id=None)
                                          for tp, v in vitals.items()],
                             # recorded as before issue 19: no discharge items, no responses
                             discharge_checks=None, vital_responses=[], vital_corrections=[],
                             response_revisions=[], adverse_event_revisions=[],
                             adverse_events=[SimpleNamespace(event_type=e[0], severity=e[1], action_taken=e[2],
                                                             entered_by_id=None) for e in events], **values)
    rems = _rems_submission(clinic, course, values["ended_at"])
    rows.sign_later("dosing_sessions", session_id, status="signed", signed_at=signed_at,
                    signed_by_id=course.prescriber_id, content_digest=dosing_signing.content_digest(record),
                    version=3, **rems)
    course.signed_dosing += 1


def _rems_submission(clinic, course: CourseState, ended: datetime) -> dict:
    """REMS Patient Monitoring Forms go in within the 7 days they are due in; a recent one may wait."""
    submitted_on = None
    if course.protocol.experience.rems_monitoring_form:
        day = ended.astimezone(clinic.zone).date() + timedelta(days=clinic.rng.randint(1, 6))
        submitted_on = day if day <= clinic.today else None
    return dict(rems_submitted_on=submitted_on, rems_submitted_by_id=course.prescriber_id if submitted_on else None)


def _integration_content(clinic, course: CourseState, n: int) -> dict:
    rng = clinic.rng
    stood_out, emotions, insight, _words = EXPERIENCES[(course.id + n) % len(EXPERIENCES)]
    return {"stood_out": stood_out, "emotions": emotions, "imagery": None, "surprises": None,
            "meaningful": "Feeling accompanied", "insights": insight, "core_beliefs": None,
            "connections_present": None, "connections_past": None,
            "practices": rng.sample(["journaling", "movement", "meditation", "nature", "social"], 2),
            "practices_note": None, "challenges": rng.choice(CHALLENGES), "challenges_note": None,
            "host_theory": HOST_THEORIES[course.id % len(HOST_THEORIES)], "self_harm_thoughts": "no",
            "safety_plan_reviewed": "no", "risk_notes": None,
            "next_session_plan": "Review the action step; revisit the recurring theme",
            "techniques": [{"technique": "Grounding", "rationale": "Settling after strong emotion"}]}


def integration_note(clinic, course: CourseState, day: date, dosing_ids: list[int], signed_at: datetime) -> int:
    """A signed integration note: themes (recurring ones first), a step, check-ins on open steps."""
    rng, rows, n = clinic.rng, clinic.rows, course.notes
    note_id = rows.add("session_notes", course_id=course.id, patient_id=course.patient_id, kind="integration",
                       session_date=day, author_id=course.therapist_id, status="draft",
                       content=_integration_content(clinic, course, n), created_at=signed_at - timedelta(hours=2),
                       updated_at=signed_at, signed_at=None, content_digest=None, version=3)
    content = rows.tables["session_notes"][-1]["content"]
    chosen = [course.recurring[n % 2]] + ([rng.choice(clinic.themes)] if n % 2 else [])
    themes = []
    for i, theme_id in enumerate(dict.fromkeys(chosen)):
        words = EXPERIENCES[(course.id + n) % len(EXPERIENCES)][3] if i == 0 else None
        rows.add("note_themes", note_id=note_id, theme_id=theme_id, free_theme=None, patient_words=words)
        themes.append(SimpleNamespace(theme_id=theme_id, free_theme=None, patient_words=words))
    check_ins = _check_ins(clinic, course, note_id, n)
    steps = []
    if n % 3 == 0:
        what, how_often = STEPS[(course.id + n) % len(STEPS)]
        step = dict(course_id=course.id, note_id=note_id, what=what, how_often=how_often, starts_on=day,
                    review_on=day + timedelta(days=14), linked_insight=content["insights"], status="open")
        step["id"] = rows.add("action_steps", **step)
        course.open_steps.append(step)
        # written before treatment plans (issue 24): no objective, criterion or mechanism
        steps.append(SimpleNamespace(**step, objective_lineage_id=None, success_criterion=None, mechanism=None))
    for dosing_id in dosing_ids:
        rows.add("note_dosing_links", note_id=note_id, dosing_session_id=dosing_id)
    _sign_note(clinic, course, note_id, "integration", day, content, themes, steps, check_ins, dosing_ids,
               signed_at)
    return note_id


def _check_ins(clinic, course: CourseState, note_id: int, n: int) -> list[SimpleNamespace]:
    rng, made = clinic.rng, []
    for step in list(course.open_steps):
        decision = "stop" if rng.random() < 0.25 else "adjust" if rng.random() < 0.2 else "continue"
        values = dict(note_id=note_id, action_step_id=step["id"], progress=rng.choice(("done", "partly", "not")),
                      obstacles=rng.choice(OBSTACLES), decision=decision,
                      adjustment="Shorter, but more often" if decision == "adjust" else None)
        clinic.rows.add("action_check_ins", **values)
        made.append(SimpleNamespace(**values))
        if decision == "stop":  # the signed check-in closes the step (the service does the same)
            step["status"] = "stopped"
            course.open_steps.remove(step)
    return made


def _sign_note(clinic, course, note_id, kind, day, content, themes, steps, check_ins, dosing_ids,
               signed_at) -> None:
    note = SimpleNamespace(id=note_id, course_id=course.id, patient_id=course.patient_id, kind=kind,
                           session_date=day, author_id=course.therapist_id, content=content, themes=themes,
                           new_steps=steps, check_ins=check_ins, dosing_session_id=None,
                           # the bench's notes keep free-text techniques in the content, as notes
                           # written before the vocabulary (issue 24) do: no technique rows
                           techniques=[], technique_responses=[], plan_id=None, objective_progress=[],
                           dosing_links=[SimpleNamespace(dosing_session_id=i, exception_reason=None)
                                         for i in dosing_ids])
    clinic.rows.sign_later("session_notes", note_id, status="signed", signed_at=signed_at,
                           content_digest=note_signing.content_digest(note))
    course.notes += 1
    if clinic.rng.random() < 0.1:  # the author's own process notes, kept apart (45 CFR 164.501)
        clinic.rows.add("process_notes", note_id=note_id, author_id=course.therapist_id, version=1,
                        body="Countertransference noted; bring to supervision.", updated_at=signed_at)
    if clinic.rng.random() < 0.01:
        clinic.rows.add("note_addenda", note_id=note_id, author_id=course.therapist_id,
                        created_at=signed_at + timedelta(days=1), body="Correction: the session ran 10 minutes over.")
    audit(clinic, signed_at - timedelta(hours=2), course.therapist_id, "note.create", obj_type="sessionnote",
          obj_id=note_id, patient_id=course.patient_id)
    audit(clinic, signed_at, course.therapist_id, "note.sign", obj_type="sessionnote", obj_id=note_id,
          patient_id=course.patient_id)


def preparation_note(clinic, course: CourseState, day: date, signed_at: datetime) -> int:
    content = {"intentions": clinic.rng.choice(INTENTIONS), "expectations": "Some nerves about the first session",
               "concerns": None, "psychoeducation": ["what_to_expect", "dissociation", "set_and_setting"],
               "set_setting_plan": "Eye mask, own playlist, partner drives home", "support_person": None,
               "readiness": "ready", "consent_questions_answered": "yes",
               "next_session_plan": "First dosing session"}
    note_id = clinic.rows.add("session_notes", course_id=course.id, patient_id=course.patient_id,
                              kind="preparation", session_date=day, author_id=course.therapist_id, status="draft",
                              content=content, created_at=signed_at - timedelta(hours=1), updated_at=signed_at,
                              signed_at=None, content_digest=None, version=3)
    _sign_note(clinic, course, note_id, "preparation", day, content, [], [], [], [], signed_at)
    return note_id


def _answers(rng, total: int, items: int, item9: int) -> list[int]:
    values = [0] * items
    if items == 9:
        values[8] = item9
    free = items - (1 if items == 9 else 0)
    for _ in range(max(0, total - sum(values))):
        open_items = [i for i in range(free) if values[i] < 3]
        if not open_items:
            break
        values[rng.choice(open_items)] += 1
    return values


def measure(clinic, course: CourseState, key: str, day: date, fraction: float, when: datetime) -> None:
    """A PHQ-9 or GAD-7 on the course's trajectory (responders drop ~70%), scored by the registry."""
    rng = clinic.rng
    drop = 0.7 if course.responder else 0.2
    base = course.baseline if key == "phq9" else max(course.baseline - 3, 0)
    total = max(0, round(base * (1 - drop * fraction)) + rng.randint(-1, 1))
    item9 = 1 if key == "phq9" and rng.random() < 0.04 else 0
    answers = _answers(rng, min(total, 24 if key == "phq9" else 21), len(scoring.MEASURES[key].items), item9)
    result = scoring.score(key, answers)
    response_id = clinic.rows.add("measure_responses", patient_id=course.patient_id, course_id=course.id,
                                  measure=key, administered_on=day, answers=answers, difficulty="somewhat",
                                  total=result.total, band=result.band, entered_by_id=course.therapist_id,
                                  created_at=when, voided_at=None, void_reason=None)
    audit(clinic, when, course.therapist_id, "measure.create", obj_type="measureresponse", obj_id=response_id,
          patient_id=course.patient_id, detail=key)
    if result.safety_alert:
        acknowledged = when + timedelta(hours=rng.randint(1, 20))
        done = acknowledged < clinic.now - timedelta(days=2)
        clinic.rows.add("safety_alerts", patient_id=course.patient_id, course_id=course.id,
                        measure_response_id=response_id, item_score=answers[8], raised_at=when,
                        acknowledged_at=acknowledged if done else None,
                        acknowledged_by_id=course.therapist_id if done else None,
                        acknowledgement="Risk assessed; safety plan reviewed with the patient." if done else None)
