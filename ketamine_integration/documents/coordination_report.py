"""The prescriber coordination report as typed data, and its HTML and PDF.

The report is built (coordination/report.py) from small frozen records, one per section; a
section the patient's release does not permit is None, so the template leaves it out. The
same markup is the preview and, through WeasyPrint, the PDF.
"""
from __future__ import annotations

from dataclasses import dataclass

from flask import render_template

from .pdf import render_pdf


@dataclass(frozen=True)
class ReportHeader:
    clinic: str
    #: when it was generated, in clinic time
    generated: str
    #: each person named with their credential ("A. Example, MD")
    recipient: str
    author: str
    #: how the recipient reaches the author (documents/contact.py; "" when nothing is on file)
    author_contact: str = ""


@dataclass(frozen=True)
class ReleaseScope:
    """The categories the release permits, and those it does not (their labels, in category order)."""
    categories: tuple[str, ...]
    withheld: tuple[str, ...]


@dataclass(frozen=True)
class PatientIdentity:
    """What every report carries, whatever the release: the recipient must know whose record it is."""
    name: str
    mrn: str
    dob: str


@dataclass(frozen=True)
class TreatmentSummary:
    """The "treatment" category: the protocol the course follows, its phase and indication."""
    protocol: str
    version: str
    phase: str
    indication: str


@dataclass(frozen=True)
class CourseSummary:
    start: str
    #: None unless the release permits the treatment summary
    treatment: TreatmentSummary | None


@dataclass(frozen=True)
class VitalSigns:
    label: str
    #: systolic/diastolic, mmHg, or "—"
    bp: str
    #: beats per minute, or "—"
    hr: int | str
    #: percent, or "—"
    spo2: int | str
    #: breaths per minute, or "—"
    rr: int | str = "—"


@dataclass(frozen=True)
class DosingEntry:
    sequence: int
    when: str
    route: str
    medication: str
    dose: str
    vitals: tuple[VitalSigns, ...]
    sedation: str
    dissociation: str
    #: minutes
    monitoring: int | None
    adverse_events: tuple[str, ...]
    #: who gave, monitored and signed the dose, each with their credential
    administered_by: str = "—"
    monitored_by: str = "—"
    signed_by: str = "—"
    #: what the record calls who gave and monitored it: in the clinic, or by telehealth at home
    administered_label: str = "Administered by"
    monitored_label: str = "Monitored by"
    #: readings outside the protocol's limits, in plain words
    flags: tuple[str, ...] = ()
    #: the documented clinical responses to them
    responses: tuple[str, ...] = ()


@dataclass(frozen=True)
class DosingNoteEntry:
    """A signed dosing-session note: what the therapist present at the dose wrote of it ("" where a
    section was left empty)."""
    sequence: int
    date: str
    #: the therapist, with their credential
    author: str
    set_setting: str
    intention: str
    observations: str
    support_given: str
    reflections: str
    integration_plan: str


@dataclass(frozen=True)
class MeasureReading:
    date: str
    total: int
    band: str
    #: "baseline", or the signed change from it
    change: str
    #: the answer the measure's safety item gave, e.g. "1 (alert)" ("" when it has none)
    safety: str = ""
    #: "completed by the patient in the portal", or "" for a clinician's entry
    completed_by: str = ""


@dataclass(frozen=True)
class MeasureSeries:
    name: str
    #: the trend chart's geometry (notes/charts.py)
    chart: dict | None
    rows: tuple[MeasureReading, ...]
    status: str
    #: False for a screener read by its risk level (its total means nothing)
    charted: bool = True
    #: the heading of the safety item's column, e.g. "Item 9 (thoughts of self-harm)" (None: no column)
    safety_heading: str | None = None
    #: the chart laid out for a phone's width: the preview's on a narrow screen (never in the PDF)
    chart_narrow: dict | None = None
    #: which way the total improves, in words ("Higher totals are better": an alliance scale)
    direction: str = ""
    #: False for a measure that publishes no bands (WAI-SR): no severity column
    banded: bool = True
    #: where the measure's wording, bands and change rules are published
    sources: tuple[str, ...] = ()


@dataclass(frozen=True)
class WindowCoverage:
    """Integration windows by coverage (domain/coverage.py), and what became of integration sessions."""
    windows: int
    #: covered by an attended session; of those, with one inside the optimal span
    covered: int
    optimal: int
    #: covered only by sessions booked ahead; resting on a session over with no outcome
    provisional: int
    awaiting: int
    attended: int
    no_show: int
    late_cancelled: int
    clinic_cancelled: int
    #: called off before their time
    cancelled: int
    #: their time came with no outcome recorded
    unconfirmed: int
    #: still ahead
    booked: int


@dataclass(frozen=True)
class ThemeEntry:
    name: str
    sessions: int
    first: str
    last: str


@dataclass(frozen=True)
class Insight:
    date: str
    text: str


@dataclass(frozen=True)
class ThemesAndInsights:
    themes: tuple[ThemeEntry, ...]
    insights: tuple[Insight, ...]


@dataclass(frozen=True)
class ActionStepProgress:
    what: str
    how_often: str
    status: str
    check_ins: tuple[str, ...]


@dataclass(frozen=True)
class SafetyHistoryEntry:
    """One safety alert of the patient, open or acknowledged (who, when, what was done)."""
    #: when it was raised, clinic time
    raised: str
    #: "Measure", "Therapist's risk screen"
    source: str
    #: what raised it: "PHQ-9 item 9 (thoughts of self-harm) answered 2"
    finding: str
    #: None while open
    acknowledged_by: str | None
    acknowledged_at: str | None
    what_was_done: str | None


@dataclass(frozen=True)
class TherapistQuestions:
    """The therapist's own words to the prescriber."""
    questions: str
    recommendations: str


@dataclass(frozen=True)
class CoordinationReportData:
    """Everything a coordination report shows. Each optional section is None unless the
    patient's release permits its category."""
    header: ReportHeader
    scope: ReleaseScope
    patient: PatientIdentity
    course: CourseSummary
    dosing: tuple[DosingEntry, ...] | None
    dosing_notes: tuple[DosingNoteEntry, ...] | None
    measures: tuple[MeasureSeries, ...] | None
    attendance: WindowCoverage | None
    themes: ThemesAndInsights | None
    action_plan: tuple[ActionStepProgress, ...] | None
    safety: tuple[SafetyHistoryEntry, ...] | None
    therapist: TherapistQuestions

    @property
    def open_alerts(self) -> tuple[SafetyHistoryEntry, ...]:
        """Safety alerts no clinician has acknowledged yet: the most urgent thing the report says,
        so the report opens with them (under the release's safety category, like the history)."""
        return tuple(a for a in self.safety or () if a.acknowledged_by is None)


@dataclass(frozen=True)
class PreviewActions:
    """What the preview offers above the report, never in the PDF: back to the coordination page
    with what was typed (posted back, so the text never lands in a URL), or generate it as shown."""
    #: posts the text back: the coordination page re-rendered with the report form filled in
    back_url: str
    generate_url: str
    recipient: int
    questions: str
    recommendations: str


TEMPLATE = "coordination/report.html"


def render_report_html(report: CoordinationReportData, *, for_pdf: bool,
                       actions: PreviewActions | None = None) -> str:
    """The report page; `for_pdf` adds the running header and footer the PDF's pages carry; the
    preview carries `actions` above it."""
    return render_template(TEMPLATE, report=report, for_pdf=for_pdf, actions=None if for_pdf else actions)


def render_report_pdf(report: CoordinationReportData) -> bytes:
    return render_pdf(render_report_html(report, for_pdf=True))
