"""The coordination report's content: one small builder per section, each reading only what
its section shows, and only for the categories the patient's release permits."""
from __future__ import annotations

from collections import Counter
from datetime import datetime

from flask import current_app
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from ..accounts.models import User
from ..clinic_settings.contact import clinic_phone
from ..courses.models import TreatmentCourse
from ..db.clinic_time import format_local
from ..documents.coordination_report import (ActionStepProgress, CoordinationReportData, CourseSummary,
                                             DosingEntry, DosingNoteEntry, Insight, MeasureReading, MeasureSeries, SafetyHistoryEntry,
                                             PatientIdentity, ReleaseScope, ReportHeader, TherapistQuestions,
                                             ThemeEntry, ThemesAndInsights, TreatmentSummary, VitalSigns,
                                             WindowCoverage)
from ..documents.contact import contact_line
from ..domain import measures as scoring
from ..domain.dosing import route_label
from ..domain.coverage import (ATTENDED, BOOKED, CANCELLED, CLINIC_CANCELLED, LATE_CANCELLED, NO_SHOW,
                               Coverage)
from ..experience.models import SIGNED as DOSING_SIGNED
from ..experience.models import DosingSession
from ..experience import monitoring
from ..experience.wording import record_words, timepoint_labels
from ..experience.windows import course_windows
from ..extensions import db
from ..notes import charts
from ..notes.forms import DOSING_FIELDS
from ..notes.models import DOSING, PATIENT_COMPLETED, SIGNED, SessionNote
from ..notes.baselines import (AFTER_FIRST_DOSE, BASELINE, BEFORE_BASELINE, ENTERED_LATE, LATE_ENTRY, TrendRow,
                               first_dose_of, trend)
from ..notes.safety import safety_history
from ..notes.services import course_measures
from ..notes.views_data import step_tracker, theme_recurrence
from ..scheduling.services import fetch_integration_sessions
from .models import CATEGORIES


def report_data(course: TreatmentCourse, *, recipient: User, author: User, categories: set[str], now: datetime,
                questions: str | None, recommendations: str | None) -> CoordinationReportData:
    """Everything the report shows, as typed data, and only what `categories` permit: a section
    whose category is not among them is None and its builder never runs."""
    def if_permitted(category, build, *args):
        return build(*args) if category in categories else None

    sessions = signed_dosing_sessions(course)
    return CoordinationReportData(
        header=ReportHeader(clinic=current_app.config["CLINIC_NAME"], generated=format_local(now),
                            recipient=recipient.display_name, author=author.display_name,
                            author_contact=contact_line(author.email, author.phone, clinic_phone())),
        scope=_scope(categories),
        patient=_patient(course),
        course=CourseSummary(start=course.start_date.isoformat(),
                             treatment=if_permitted("treatment", _treatment, course)),
        dosing=if_permitted("dosing", _dosing, sessions),
        dosing_notes=if_permitted("dosing_notes", _dosing_notes, course),
        measures=if_permitted("measures", _measures, course),
        attendance=if_permitted("attendance", window_coverage, course, sessions, now),
        themes=if_permitted("themes", themes_and_insights, course),
        action_plan=if_permitted("action_plan", _action_plan, course),
        safety=if_permitted("safety", _safety, course),
        therapist=TherapistQuestions(questions=(questions or "").strip(),
                                     recommendations=(recommendations or "").strip()),
    )


def _scope(categories: set[str]) -> ReleaseScope:
    return ReleaseScope(categories=tuple(CATEGORIES[c] for c in CATEGORIES if c in categories),
                        withheld=tuple(CATEGORIES[c] for c in CATEGORIES if c not in categories))


def _patient(course: TreatmentCourse) -> PatientIdentity:
    patient = course.patient
    return PatientIdentity(name=patient.full_name, mrn=patient.mrn, dob=patient.date_of_birth.isoformat())


def _treatment(course: TreatmentCourse) -> TreatmentSummary:
    return TreatmentSummary(protocol=course.protocol_version.name, version=course.protocol_version.version,
                            phase=course.current_phase.label, indication=course.indication)


def signed_dosing_sessions(course: TreatmentCourse) -> list[DosingSession]:
    return db.session.scalars(select(DosingSession).where(DosingSession.course_id == course.id,
                                                          DosingSession.status == DOSING_SIGNED)
                              .options(selectinload(DosingSession.administered_by),
                                       selectinload(DosingSession.monitored_by),
                                       selectinload(DosingSession.signed_by))
                              .order_by(DosingSession.sequence)).all()


# -- dosing ------------------------------------------------------------------------------------

def _dosing(sessions: list[DosingSession]) -> tuple[DosingEntry, ...]:
    return tuple(_dosing_entry(s) for s in sessions)


def _dosing_entry(session: DosingSession) -> DosingEntry:
    dose = f"{session.dose_mg} mg" + (f" ({session.dose_mg_per_kg} mg/kg)" if session.dose_mg_per_kg else "")
    words = record_words(session.setting)
    return DosingEntry(sequence=session.sequence, when=format_local(session.started_at),
                       route=route_label(session.route), medication=session.medication, dose=dose,
                       vitals=_vitals(session),
                       sedation=session.sedation or "—", dissociation=session.dissociation or "—",
                       monitoring=session.monitoring_minutes,
                       adverse_events=tuple(f"{e.event_type} ({e.severity})"
                                            + (f": {e.action_taken}" if e.action_taken else "")
                                            for e in session.adverse_events),
                       **{role: person.display_name for role in ("administered_by", "monitored_by", "signed_by")
                          if (person := getattr(session, role)) is not None},
                       administered_label=words["administered_by"], monitored_label=words["monitored_by"],
                       flags=tuple(f.words for f in monitoring.session_flags(session)),
                       responses=tuple(monitoring.response_lines(session)))


def _vitals(session: DosingSession) -> tuple[VitalSigns, ...]:
    readings = {v.timepoint: v for v in session.vitals}
    return tuple(VitalSigns(label=label, bp=f"{v.systolic}/{v.diastolic}" if v.systolic and v.diastolic else "—",
                            hr=v.heart_rate or "—", spo2=v.spo2 or "—", rr=v.respiratory_rate or "—")
                 for tp, label in timepoint_labels(session.setting).items() if (v := readings.get(tp)) is not None)


def _dosing_notes(course: TreatmentCourse) -> tuple[DosingNoteEntry, ...]:
    """The course's signed dosing-session notes, in dosing order, of doses given: those whose record
    is signed, as the dosing section reads them (a note of a dose cancelled or never recorded
    describes nothing that happened; drafts are their author's alone; process notes are never
    read here)."""
    rows = db.session.execute(select(SessionNote, DosingSession.sequence)
                              .join(DosingSession, DosingSession.id == SessionNote.dosing_session_id)
                              .where(SessionNote.course_id == course.id, SessionNote.kind == DOSING,
                                     SessionNote.status == SIGNED, DosingSession.status == DOSING_SIGNED)
                              .order_by(DosingSession.sequence)).all()
    return tuple(DosingNoteEntry(sequence=sequence, date=note.session_date.isoformat(), author=note.author.display_name,
                                 **{key: (note.content or {}).get(key) or "" for key in DOSING_FIELDS})
                 for note, sequence in rows)


# -- measures ----------------------------------------------------------------------------------

def _measures(course: TreatmentCourse) -> tuple[MeasureSeries, ...]:
    """One series per measure the course has live responses to, in registry order."""
    responses, first_dose = course_measures(course.id), first_dose_of(course.id)
    series = []
    for key, measure in scoring.MEASURES.items():
        rows = trend(responses, key, first_dose)
        if rows:
            points = [(row.response, row.change) for row in rows]
            series.append(MeasureSeries(
                name=measure.name,
                chart=charts.trend_chart(measure, points) if measure.charted else None,
                chart_narrow=charts.trend_chart(measure, points, charts.NARROW) if measure.charted else None,
                rows=tuple(MeasureReading(date=row.response.administered_on.isoformat(), total=row.response.total,
                                          band=row.response.band, change=_change(row, measure),
                                          safety=_safety_answer(row.response.answers, measure),
                                          completed_by=PATIENT_COMPLETED if row.response.completed_by_patient
                                          else "") for row in rows),
                status=measure_status(rows[-1], measure), charted=measure.charted,
                safety_heading=_safety_heading(measure), direction=measure.direction if measure.charted else "",
                banded=bool(measure.bands), sources=measure.sources))
    return tuple(series)


def _safety_heading(measure) -> str | None:
    """The column of an item-based safety rule (PHQ-9 item 9); a screener's shows as its risk level."""
    rule = measure.safety
    if rule is None or rule.item is None:
        return None
    return f"Item {rule.item} ({rule.topic})"


def _safety_answer(answers: list[int | None], measure) -> str:
    rule = measure.safety
    if rule is None or rule.item is None or answers[rule.item - 1] is None:
        return ""
    answer = answers[rule.item - 1]
    return f"{answer} (alert)" if answer > rule.above else str(answer)


def _change(row: TrendRow, measure: scoring.Measure) -> str:
    if row.role == BASELINE:
        return "baseline"
    if row.role == BEFORE_BASELINE:
        return "before the first dose"
    if row.role == ENTERED_LATE:
        return LATE_ENTRY
    if not measure.has_baseline:
        return "—"  # read on its own (an alliance measure has no baseline to change from)
    return "no baseline" if row.change is None else f"{row.change.delta:+d}"


def measure_status(last: TrendRow, measure: scoring.Measure) -> str:
    change = last.change
    if not measure.charted:  # a screener's risk level, not a change from baseline
        return f"Latest: {last.response.band}"
    if last.role != AFTER_FIRST_DOSE:
        return "Before the first dose"
    if not measure.has_baseline:  # an alliance measure: a reading of the therapy under way, no baseline
        return f"Latest: {measure.reading(last.response.total, last.response.band)} (no baseline: read on its own)"
    if change is None:
        judged = ("response cannot be computed" if measure.response_rule
                  else f"change cannot be computed (the {measure.name} has no response rule)")
        return f"No baseline {measure.name} before the first dose: {judged}"
    parts = []
    if change.response is not None:
        parts.append("response" if change.response else "no response yet")
    if change.remission is not None:
        parts.append("remission" if change.remission else "not in remission")
    if not parts and measure.response_rule is None and measure.remission_below is None:
        # no published rule to judge it by (WSAS, WAI-SR): the change itself, and which way is better
        return f"{change.delta:+d} from baseline ({measure.direction.lower()}; no response rule)"
    return ", ".join(parts).capitalize() or "—"


# -- attendance, themes, action plan, safety ---------------------------------------------------

def window_coverage(course: TreatmentCourse, sessions: list[DosingSession], now: datetime) -> WindowCoverage:
    """The windows by the one coverage rule, and each integration session's outcome (a booking over
    with none counted as unconfirmed, never as held or ahead)."""
    integration = fetch_integration_sessions(course.id)
    windows = course_windows(course, sessions, integration, now)
    states = Counter(w.coverage.state for w in windows)
    outcomes = Counter(("unconfirmed" if s.over(now) else BOOKED) if s.outcome == BOOKED else s.outcome
                       for s in integration)
    return WindowCoverage(windows=len(windows), covered=states[Coverage.COVERED],
                          optimal=sum(w.covered_optimally for w in windows),
                          provisional=states[Coverage.PROVISIONAL], awaiting=states[Coverage.UNCONFIRMED],
                          attended=outcomes[ATTENDED], no_show=outcomes[NO_SHOW],
                          late_cancelled=outcomes[LATE_CANCELLED], clinic_cancelled=outcomes[CLINIC_CANCELLED],
                          cancelled=outcomes[CANCELLED], unconfirmed=outcomes["unconfirmed"], booked=outcomes[BOOKED])


def themes_and_insights(course: TreatmentCourse) -> ThemesAndInsights:
    """The course's recurring themes, and the insights its signed integration notes record."""
    signed = db.session.scalars(select(SessionNote).where(
        SessionNote.course_id == course.id, SessionNote.status == SIGNED, SessionNote.kind == "integration")
        .order_by(SessionNote.session_date)).all()
    themes = tuple(ThemeEntry(name=r.name, sessions=r.sessions, first=r.first_seen.isoformat(),
                              last=r.last_seen.isoformat()) for r in theme_recurrence(course.patient_id, course.id))
    insights = tuple(Insight(date=n.session_date.isoformat(), text=n.content.get("insights"))
                     for n in signed if (n.content or {}).get("insights"))
    return ThemesAndInsights(themes=themes, insights=insights)


def _action_plan(course: TreatmentCourse) -> tuple[ActionStepProgress, ...]:
    return tuple(ActionStepProgress(what=s.what, how_often=s.how_often, status=s.status,
                                    check_ins=tuple(f"{when.isoformat()}: {c.progress}, {c.decision}"
                                                    for c, when in ins))
                 for s, ins in step_tracker(course.id))


def _safety(course: TreatmentCourse) -> tuple[SafetyHistoryEntry, ...]:
    """The patient's safety history: every alert, open or acknowledged with what was done."""
    return tuple(SafetyHistoryEntry(
        raised=format_local(a.raised_at), source=a.source_label, finding=a.finding,
        acknowledged_by=a.acknowledged_by.display_name if a.acknowledged_by else None,
        acknowledged_at=format_local(a.acknowledged_at) or None, what_was_done=a.acknowledgement)
        for a in safety_history(course.patient_id))
