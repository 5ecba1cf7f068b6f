"""What a discharge summary says: the sections the app computes from the course's record and the
sections the clinician writes, each with the release category that lets it go to a prescriber.

The computed sections are plain JSON (shown live on a draft, frozen into the summary at signing), so
the signed document, its digest and its PDF never depend on how the record reads later. A new
computed section is one more entry of COMPUTED: its title, its release category and its builder
(the treatment plan's objectives, issue 24 point 1, are `_objectives`: they go where the action plan may;
each with its outcome as the course's signed notes recorded it, point 6).
Process notes are never read here: the builders read signed notes' regular content and signed plans only.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import datetime

from ..courses.models import TreatmentCourse
from ..courses.services import phase_history
from ..coordination.report import measure_status, signed_dosing_sessions, themes_and_insights, window_coverage
from ..db.clinic_time import clinic_today, format_local
from ..domain import measures as scoring
from ..domain.dosing import route_label
from ..domain.phases import Phase
from ..notes.baselines import AFTER_FIRST_DOSE, BASELINE, course_measures, first_dose_of, trend
from ..plans.progress import ProgressEntry, progress_history
from ..plans.services import active_plan

#: what the summary says of an objective no signed note has recorded progress on
NO_PROGRESS = "No progress recorded"


@dataclass(frozen=True)
class ComputedSection:
    key: str
    title: str
    #: the release category (coordination.models.CATEGORIES) a prescriber's copy needs to carry it
    category: str
    #: (course, now) -> plain JSON
    build: Callable[[TreatmentCourse, datetime], object]


@dataclass(frozen=True)
class WrittenSection:
    key: str
    title: str
    #: the release category a prescriber's copy needs to carry it; None: always carried (the
    #: clinician's recommendations are written for the prescriber, as a coordination report's are)
    category: str | None
    #: the form's hint
    hint: str
    #: only on a discontinued course
    discontinued_only: bool = False


def _course(course: TreatmentCourse, now: datetime) -> dict:
    history = phase_history(course)
    ending = history[-1] if history and history[-1]["phase"].ended else None
    return {"protocol": f"{course.protocol_version.name} (version {course.protocol_version.version})",
            "indication": course.indication, "start": course.start_date.isoformat(),
            "end": clinic_today(ending["started"]).isoformat() if ending else None,
            "ending": ending["phase"].label if ending else None,
            "ending_reason": ending["reason"] if ending else None,
            "phases": [{"phase": row["phase"].label, "from": format_local(row["started"]),
                        "to": format_local(row["ended"]) if row["ended"] else None} for row in history]}


def _doses(course: TreatmentCourse, now: datetime) -> dict:
    """The doses given: signed dosing records, as the coordination report counts them."""
    doses = [{"sequence": s.sequence, "date": clinic_today(s.started_at).isoformat(), "route": route_label(s.route),
              "dose": f"{s.dose_mg} mg" + (f" ({s.dose_mg_per_kg} mg/kg)" if s.dose_mg_per_kg else "")}
             for s in signed_dosing_sessions(course)]
    return {"count": len(doses), "doses": doses}


def _attendance(course: TreatmentCourse, now: datetime) -> dict:
    """The windows by the one coverage rule and what became of each integration session."""
    return asdict(window_coverage(course, signed_dosing_sessions(course), now))


def _reading(row, measure: scoring.Measure | None = None) -> dict | None:
    """A reading as the summary keeps it; `reading`: how it reads ("14 (Moderate)", a screener's
    triage level alone: its total counts yes answers and means nothing on its own)."""
    if row is None:
        return None
    total, band = row.response.total, row.response.band
    reading = measure.reading(total, band) if measure is not None else f"{total} ({band})"
    return {"date": row.response.administered_on.isoformat(), "total": total, "band": band, "reading": reading}


def _measures(course: TreatmentCourse, now: datetime) -> list[dict]:
    """Per measure: the baseline, the last reading after the first dose, and response and remission
    by the registry's rules (notes.baselines: never against a backdated or late-entered score)."""
    responses, first_dose = course_measures(course.id), first_dose_of(course.id)
    rows = []
    for key, measure in scoring.MEASURES.items():
        series = trend(responses, key, first_dose)
        if not series:
            continue
        baseline, last = _baseline_and_last(series)
        change = last.change if last is not None else None
        rows.append({"name": measure.name, "baseline": _reading(baseline, measure), "last": _reading(last, measure),
                     "has_baseline": measure.has_baseline,
                     "change": None if change is None else f"{change.delta:+d}",
                     "status": measure_status(series[-1], measure)})
    return rows


def _baseline_and_last(series: list) -> tuple:
    """The baseline row of a measure's trend and its last reading after the first dose (either None)."""
    baseline = next((r for r in series if r.role == BASELINE), None)
    after = [r for r in series if r.role == AFTER_FIRST_DOSE]
    return baseline, after[-1] if after else None


def _outcome(history: list[ProgressEntry]) -> dict:
    """Whether an objective was met, as the last signed note to judge it recorded (on any revision of
    it: the history follows its lineage), with that session's date. The criterion of success is the
    clinician's free text, which no code can check against a total: the recorded progress stands,
    and the summary shows a linked measure's baseline and last total beside it."""
    if not history:
        return {"outcome": NO_PROGRESS, "outcome_comment": None}
    last = history[-1]
    return {"outcome": f"{last.progress} (recorded {last.session_date.isoformat()})", "outcome_comment": last.comment}


def _objectives(course: TreatmentCourse, now: datetime) -> dict:
    """The objectives of the course's plan in force (its latest signed revision; a draft is never
    read), each with its outcome (`_outcome`), and for one a measure judges, that measure's baseline
    and last reading from the course's responses by the same rules as the measures section: derived
    from the record, never typed."""
    plan = active_plan(course.id)
    if plan is None:
        return {"revision": None, "signed": None, "objectives": []}
    responses, first_dose = course_measures(course.id), first_dose_of(course.id)
    history = progress_history(course.id)
    objectives = []
    for objective in plan.objectives:
        measure = scoring.MEASURES.get(objective.measure) if objective.measure else None
        reading = None
        if measure is not None:
            baseline, last = _baseline_and_last(trend(responses, measure.key, first_dose))
            reading = {"name": measure.name, "baseline": _reading(baseline), "last": _reading(last)}
        objectives.append({"goal": objective.goal, "target": objective.target, "criterion": objective.criterion,
                           "by_when": objective.by_when.isoformat(), "mechanism": objective.mechanism,
                           "measure": reading, **_outcome(history.get(objective.lineage_id, []))})
    return {"revision": plan.revision, "signed": clinic_today(plan.signed_at).isoformat(), "objectives": objectives}


def _themes(course: TreatmentCourse, now: datetime) -> dict:
    """Recurring themes and the insights of signed integration notes (never drafts, never process notes)."""
    return asdict(themes_and_insights(course))


COMPUTED: tuple[ComputedSection, ...] = (
    ComputedSection("course", "Course dates and phases", "treatment", _course),
    ComputedSection("doses", "Doses", "dosing", _doses),
    ComputedSection("attendance", "Integration sessions and windows", "attendance", _attendance),
    ComputedSection("measures", "Measures from baseline to last", "measures", _measures),
    ComputedSection("objectives", "Treatment plan objectives", "action_plan", _objectives),
    ComputedSection("themes", "Themes and insights", "themes", _themes),
)

#: the relapse-prevention plan is the action plan carried past the course's end: it goes where the
#: action plan may; the free summary and the reason for ending speak of the treatment itself
WRITTEN: tuple[WrittenSection, ...] = (
    WrittenSection("summary", "Summary of the course", "treatment",
                   "How the course went, in your words: what changed, what did not."),
    WrittenSection("ending_reason", "Reason for ending", "treatment",
                   "Why the course was discontinued.", discontinued_only=True),
    WrittenSection("warning_signs", "Relapse prevention: early warning signs", "action_plan",
                   "What the patient and those close to them watch for: sleep, withdrawal, old beliefs returning."),
    WrittenSection("practices", "Relapse prevention: practices to keep", "action_plan",
                   "The practices and action steps to keep, how often."),
    WrittenSection("booster_or_return", "Relapse prevention: when to ask for a booster or return", "action_plan",
                   "What should prompt a call: scores, signs, a time frame."),
    WrittenSection("recommendations", "Recommendations", None,
                   "For the patient's prescriber and future care."),
)
#: the longest text a written section keeps
MAX_WRITTEN = 5000


def written_sections(course: TreatmentCourse) -> tuple[WrittenSection, ...]:
    """The sections the clinician writes for this course (the reason for ending only when discontinued)."""
    return _written(course.current_phase is Phase.DISCONTINUED)


def _written(discontinued: bool) -> tuple[WrittenSection, ...]:
    return tuple(s for s in WRITTEN if discontinued or not s.discontinued_only)


def kept_sections(categories: set[str] | None, *, discontinued: bool) -> tuple[set[str], list[str]]:
    """The section keys a copy made under these release categories carries (None: the whole summary,
    for its writers), and the titles of those it leaves out, in the document's order. A section with
    no category (the recommendations, written for the prescriber) is always carried."""
    sections = [(s.key, s.title, s.category) for s in (*COMPUTED, *_written(discontinued))]
    if categories is None:
        return {key for key, _title, _category in sections}, []
    kept = {key for key, _title, category in sections if category is None or category in categories}
    return kept, [title for key, title, _category in sections if key not in kept]


def compute(course: TreatmentCourse, now: datetime) -> dict:
    """Every computed section, as plain JSON, by key."""
    return {section.key: section.build(course, now) for section in COMPUTED}
