"""Releases of information, coordination notes and reports.

What may be shared is decided at the moment of sharing, from the releases active that day:
a note of a kind the releases do not cover is not sent; a report carries only the permitted
categories. Process notes are never read here at all.
"""
from __future__ import annotations

import hashlib
from datetime import date, datetime, time, timedelta

from flask import current_app
from sqlalchemy import func, select

from ..accounts.models import PRESCRIBER, THERAPIST, User
from ..courses.models import TreatmentCourse
from ..documents.coordination_report import render_report_pdf
from ..domain import measures as scoring
from ..domain.phases import Phase
from ..db.errors import DomainError
from ..experience.models import SIGNED as DOSING_SIGNED
from ..experience.models import VITAL_TIMEPOINTS, DosingSession
from ..experience.services import fetch_signed_sessions_by_course
from ..experience.windows import course_windows
from ..extensions import db
from ..db.locking import lock_row
from ..notes import charts
from ..notes.models import SIGNED, SessionNote
from ..notes.services import course_measures, open_alerts, trend
from ..notes.views_data import step_tracker, theme_recurrence
from ..patients.models import Patient
from ..bookings.models import Appointment
from ..scheduling.services import fetch_integration_starts
from ..protocols.services import protocol_of
from ..db.clinic_time import clinic_zone, format_local
from .models import CATEGORIES, NOTE_NEEDS, CoordinationNote, CoordinationReport, ReleaseOfInformation


# -- releases ----------------------------------------------------------------------------------

def patient_releases(patient_id: int) -> list[ReleaseOfInformation]:
    return db.session.scalars(select(ReleaseOfInformation).where(ReleaseOfInformation.patient_id == patient_id)
                              .order_by(ReleaseOfInformation.effective_on.desc(), ReleaseOfInformation.id.desc())).all()


def create_release(patient: Patient, *, recipient_user_id: int | None, recipient_name: str | None,
                   categories: list[str], purpose: str, effective_on: date, expires_on: date | None,
                   by: User) -> ReleaseOfInformation:
    problems = {}
    name = (recipient_name or "").strip() or None
    if recipient_user_id:
        recipient = db.session.get(User, recipient_user_id)
        if recipient is None or not recipient.active or not recipient.can("reports.receive"):
            problems["recipient"] = "Choose an active prescriber."
        elif recipient.id == by.id:
            problems["recipient"] = "A release is recorded by someone other than its recipient."
        name = None
    elif not name:
        problems["recipient"] = "Choose a prescriber, or name the outside clinic or clinician."
    unknown = set(categories) - set(CATEGORIES)
    if not categories or unknown:
        problems["categories"] = "Choose at least one category the patient permits."
    if expires_on is not None and expires_on < effective_on:
        problems["expires_on"] = "The release expires after it takes effect."
    if problems:
        raise DomainError(problems)
    release = ReleaseOfInformation(patient_id=patient.id, recipient_user_id=recipient_user_id or None,
                                   recipient_name=name, categories=sorted(set(categories)), purpose=purpose.strip(),
                                   effective_on=effective_on, expires_on=expires_on, created_by_id=by.id)
    db.session.add(release)
    db.session.flush()
    return release


def revoke_release(release: ReleaseOfInformation, *, on: date, by: User) -> None:
    lock_row(release)
    if release.revoked_on is not None and release.revoked_on <= on:
        raise DomainError(f"This release is revoked already, as of {release.revoked_on}.")
    release.revoked_on, release.revoked_by_id = on, by.id  # an earlier date brings a revocation forward
    db.session.flush()


def permitted(patient_id: int, recipient_id: int, day: date) -> tuple[set[str], list[int]]:
    """The categories the patient's releases active on `day` permit for this prescriber, and
    which releases those are."""
    releases = [r for r in db.session.scalars(select(ReleaseOfInformation).where(
        ReleaseOfInformation.patient_id == patient_id, ReleaseOfInformation.recipient_user_id == recipient_id))
        if r.active_on(day)]
    return {c for r in releases for c in r.categories if c in CATEGORIES}, [r.id for r in releases]


# -- coordination notes -----------------------------------------------------------------------

def send_note(course: TreatmentCourse, *, recipient_id: int, priority: str, category: str, body: str, by: User,
              today: date, follows: CoordinationNote | None = None) -> CoordinationNote:
    recipient = db.session.get(User, recipient_id)
    if recipient is None or not recipient.active or recipient.id == by.id:
        raise DomainError({"recipient": "Choose a colleague on the patient's care team."})
    team = {(m.user_id, m.role) for m in course.patient.care_team}
    if not any(uid == recipient.id for uid, _ in team) or not recipient.can("coordination.message"):
        raise DomainError({"recipient": "Choose a colleague on the patient's care team."})
    if (recipient.id, PRESCRIBER) in team and by.has_role(THERAPIST):
        # the therapist's information goes to the prescriber only as far as the release allows
        allowed, _ = permitted(course.patient_id, recipient.id, today)
        need = NOTE_NEEDS[category]
        if not allowed or (need is not None and need not in allowed):
            what = CATEGORIES[need].lower() if need else "anything"
            raise DomainError({"category": f"The patient's release of information does not permit sharing {what} "
                                           f"with {recipient.full_name} today; nothing was sent."})
    note = CoordinationNote(patient_id=course.patient_id, course_id=course.id, author_id=by.id,
                            recipient_id=recipient.id, priority=priority, category=category, body=body.strip(),
                            follows_id=follows.id if follows else None)
    db.session.add(note)
    db.session.flush()
    return note


def acknowledge_note(note: CoordinationNote, *, reply: str | None, by: User, now: datetime) -> None:
    if note.recipient_id != by.id:
        raise DomainError("Only the note's recipient acknowledges it.")
    lock_row(note)
    if note.acknowledged_at is not None:
        raise DomainError("This note was acknowledged already.")
    note.acknowledged_at, note.reply = now, (reply or "").strip() or None
    db.session.flush()


def course_notes(course_id: int) -> list[CoordinationNote]:
    return db.session.scalars(select(CoordinationNote).where(CoordinationNote.course_id == course_id)
                              .order_by(CoordinationNote.sent_at, CoordinationNote.id)).all()


# -- the report --------------------------------------------------------------------------------

def _vitals(session: DosingSession) -> list[dict]:
    readings = {v.timepoint: v for v in session.vitals}
    return [{"label": label, "bp": f"{v.systolic}/{v.diastolic}" if v.systolic and v.diastolic else "—",
             "hr": v.heart_rate or "—", "spo2": v.spo2 or "—"}
            for tp, label in VITAL_TIMEPOINTS.items() if (v := readings.get(tp)) is not None]


def report_data(course: TreatmentCourse, *, recipient: User, categories: set[str], now: datetime,
                questions: str | None, recommendations: str | None) -> dict:
    """Everything the report shows, as plain data, and only what `categories` permit."""
    patient = course.patient
    data = {
        "clinic": current_app.config["CLINIC_NAME"], "generated": format_local(now), "recipient": recipient.full_name,
        "patient": {"name": patient.full_name, "mrn": patient.mrn, "dob": patient.date_of_birth.isoformat()},
        "course": {"start": course.start_date.isoformat()},
        "categories": [CATEGORIES[c] for c in CATEGORIES if c in categories],
        "withheld": [CATEGORIES[c] for c in CATEGORIES if c not in categories],
        "questions": (questions or "").strip(), "recommendations": (recommendations or "").strip(),
    }
    if "treatment" in categories:
        data["course"].update(protocol=course.protocol_version.name, version=course.protocol_version.version,
                              phase=course.current_phase.label, indication=course.indication)
    sessions = db.session.scalars(select(DosingSession).where(DosingSession.course_id == course.id,
                                                              DosingSession.status == DOSING_SIGNED)
                                  .order_by(DosingSession.sequence)).all()
    if "dosing" in categories:
        data["dosing"] = [{"sequence": s.sequence, "when": format_local(s.started_at), "route": s.route,
                           "medication": s.medication, "dose": f"{s.dose_mg} mg"
                           + (f" ({s.dose_mg_per_kg} mg/kg)" if s.dose_mg_per_kg else ""),
                           "vitals": _vitals(s), "sedation": s.sedation or "—", "dissociation": s.dissociation or "—",
                           "monitoring": s.monitoring_minutes,
                           "adverse_events": [f"{e.event_type} ({e.severity})"
                                              + (f": {e.action_taken}" if e.action_taken else "")
                                              for e in s.adverse_events]}
                          for s in sessions]
    if "measures" in categories:
        responses = course_measures(course.id)
        data["measures"] = []
        for key, measure in scoring.MEASURES.items():
            rows = trend(responses, key)
            if not rows:
                continue
            last = rows[-1][1]
            data["measures"].append({
                "name": measure.name, "chart": charts.trend_chart(measure, rows),
                "rows": [{"date": r.administered_on.isoformat(), "total": r.total, "band": r.band,
                          "change": "baseline" if c is None else f"{c.delta:+d}"} for r, c in rows],
                "status": _status(measure, last)})
    if "attendance" in categories:
        windows = course_windows(course, sessions, fetch_integration_starts(course.id), now)
        held = db.session.scalars(select(Appointment.status).where(Appointment.course_id == course.id,
                                                                   Appointment.kind == "integration")).all()
        data["attendance"] = {"windows": len(windows), "covered": sum(w.covered for w in windows),
                              "optimal": sum(w.covered_optimally for w in windows),
                              "attended": held.count("attended"), "no_show": held.count("no_show"),
                              "cancelled": held.count("cancelled"), "booked": held.count("booked")}
    if "themes" in categories:
        signed = db.session.scalars(select(SessionNote).where(
            SessionNote.course_id == course.id, SessionNote.status == SIGNED, SessionNote.kind == "integration")
            .order_by(SessionNote.session_date)).all()
        data["themes"] = [{"name": r.name, "sessions": r.sessions, "first": r.first_seen.isoformat(),
                           "last": r.last_seen.isoformat()} for r in theme_recurrence(course.patient_id, course.id)]
        data["insights"] = [{"date": n.session_date.isoformat(), "text": n.content.get("insights")}
                            for n in signed if (n.content or {}).get("insights")]
    if "action_plan" in categories:
        data["action_plan"] = [{"what": s.what, "how_often": s.how_often, "status": s.status,
                                "check_ins": [f"{when.isoformat()}: {c.progress}, {c.decision}" for c, when in ins]}
                               for s, ins in step_tracker(course.id)]
    if "safety" in categories:
        data["safety"] = [{"date": a.response.administered_on.isoformat(), "item": a.item_score,
                           "label": a.measure_entry.safety_label, "topic": a.measure_entry.safety.topic}
                          for a in open_alerts([course.patient_id]) if a.course_id == course.id]
    return data


def _status(measure, change) -> str:
    if change is None:
        return "Baseline only"
    parts = []
    if change.response is not None:
        parts.append("response" if change.response else "no response yet")
    if change.remission is not None:
        parts.append("remission" if change.remission else "not in remission")
    return ", ".join(parts).capitalize() or "—"


def generate_report(course: TreatmentCourse, *, recipient_id: int, by: User, now: datetime, today: date,
                    questions: str | None, recommendations: str | None) -> CoordinationReport:
    recipient = db.session.get(User, recipient_id)
    if recipient is None or not any(m.user_id == recipient_id and m.role == PRESCRIBER
                                    for m in course.patient.care_team):
        raise DomainError({"recipient": "Choose a prescriber on the patient's care team."})
    categories, release_ids = permitted(course.patient_id, recipient.id, today)
    if not categories:
        raise DomainError({"recipient": f"No release of information lets this patient's record go to "
                                        f"{recipient.full_name} today; nothing was generated."})
    data = report_data(course, recipient=recipient, categories=categories, now=now, questions=questions,
                       recommendations=recommendations)
    pdf = render_report_pdf(data)
    report = CoordinationReport(patient_id=course.patient_id, course_id=course.id, recipient_id=recipient.id,
                                release_ids=release_ids, categories=sorted(categories), created_by_id=by.id,
                                pdf=pdf, content_hash=hashlib.sha256(pdf).hexdigest())
    db.session.add(report)
    db.session.flush()
    return report


def course_reports(course_id: int) -> list[CoordinationReport]:
    return db.session.scalars(select(CoordinationReport).where(CoordinationReport.course_id == course_id)
                              .order_by(CoordinationReport.created_at.desc())).all()


# -- reports due by the protocol's coordination rules -------------------------------------------

def due_triggers(protocol, sessions: list[DosingSession], start: datetime, now: datetime) -> list[tuple[datetime, str]]:
    """(when a report fell due, why) under the protocol's coordination rules. Pure."""
    rules, triggers = protocol.coordination, []
    by_sequence = {s.sequence: s for s in sessions}
    for n in rules.report_after_dosing:
        if n in by_sequence:
            triggers.append((by_sequence[n].ended_at, f"after dosing session {n}"))
    last = protocol.experience.dosing_sessions
    if rules.report_at_end_of_series and last in by_sequence:
        triggers.append((by_sequence[last].ended_at, "at the end of the series"))
    if rules.report_every_days:
        step, moment = timedelta(days=rules.report_every_days), start + timedelta(days=rules.report_every_days)
        while moment <= now:
            triggers.append((moment, f"every {rules.report_every_days} days"))
            moment += step
    return sorted(triggers)


def reports_due(courses: list[tuple], now: datetime) -> list[tuple]:
    """(course, why) for each course whose latest coordination rule fell due after its latest
    report. `courses`: (course, its ProtocolVersion) pairs, the course a TreatmentCourse or a row
    with id, phase and start_date. One query each for sessions and reports, whatever their number."""
    live = [(c, v) for c, v in courses if not Phase(c.phase).ended]
    if not live:
        return []
    ids = [c.id for c, _v in live]
    sessions = fetch_signed_sessions_by_course(ids)
    latest = dict(db.session.execute(select(CoordinationReport.course_id, func.max(CoordinationReport.created_at))
                                     .where(CoordinationReport.course_id.in_(ids))
                                     .group_by(CoordinationReport.course_id)).all())
    due = []
    for course, version in live:
        start = datetime.combine(course.start_date, time(9), clinic_zone())
        triggers = due_triggers(protocol_of(version), sessions.get(course.id, []), start, now)
        if triggers and (course.id not in latest or latest[course.id] < triggers[-1][0]):
            due.append((course, triggers[-1][1]))
    return due
