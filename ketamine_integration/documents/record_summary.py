"""The readable summary of a patient's designated record set (45 CFR 164.524), as typed data, and its PDF.

Built by record_access/content.py from the record: plain data only, no model. What it holds is what a
right-of-access copy carries; psychotherapy notes are excluded by the regulation and never reach it.
"""
from __future__ import annotations

from dataclasses import dataclass

from flask import render_template

from .pdf import render_pdf


@dataclass(frozen=True)
class Fact:
    label: str
    value: str


@dataclass(frozen=True)
class PhaseRow:
    phase: str
    started: str
    ended: str


@dataclass(frozen=True)
class DoseRow:
    sequence: int
    when: str
    medication: str
    route: str
    dose: str
    #: "Administered by …; monitored by …; signed by …"
    people: str
    monitoring: str
    adverse_events: tuple[str, ...]


@dataclass(frozen=True)
class CourseRecord:
    title: str
    facts: tuple[Fact, ...]
    phases: tuple[PhaseRow, ...]
    doses: tuple[DoseRow, ...]


@dataclass(frozen=True)
class SessionRow:
    when: str
    kind: str
    clinician: str
    modality: str


@dataclass(frozen=True)
class MeasureRow:
    day: str
    measure: str
    total: str
    band: str
    #: "You, in the portal" or the clinician who entered it
    entered: str


@dataclass(frozen=True)
class NoteSection:
    title: str
    text: str


@dataclass(frozen=True)
class NoteRecord:
    title: str
    #: "Signed by … on …"
    signed: str
    sections: tuple[NoteSection, ...]
    addenda: tuple[NoteSection, ...]


@dataclass(frozen=True)
class ObjectiveRecord:
    #: "Patient walks 20 minutes, 3 times a week"
    target: str
    facts: tuple[Fact, ...]
    #: what the signed notes recorded of it under this revision or an earlier one, oldest first
    progress: tuple[str, ...]


@dataclass(frozen=True)
class PlanRecord:
    """One signed treatment plan revision with its SMART objectives and their progress."""
    title: str
    #: "Signed by … on …"
    signed: str
    facts: tuple[Fact, ...]
    goals: tuple[str, ...]
    objectives: tuple[ObjectiveRecord, ...]
    #: planned techniques: name, and why
    techniques: tuple[Fact, ...]
    addenda: tuple[NoteSection, ...]


@dataclass(frozen=True)
class JournalRow:
    written: str
    prompt: str
    text: str


@dataclass(frozen=True)
class ReportRow:
    day: str
    recipient: str
    author: str
    contents: str
    #: the report's own PDF, as sent, in the zip (None when none is kept)
    file: str | None


@dataclass(frozen=True)
class ReleaseRow:
    recipient: str
    purpose: str
    categories: str
    period: str
    state: str


@dataclass(frozen=True)
class RecordSummary:
    clinic: str
    #: when the copy was made, clinic time
    generated: str
    #: who asked and for whom, in words
    requested: str
    patient_name: str
    mrn: str
    demographics: tuple[Fact, ...]
    courses: tuple[CourseRecord, ...]
    sessions: tuple[SessionRow, ...]
    measures: tuple[MeasureRow, ...]
    notes: tuple[NoteRecord, ...]
    plans: tuple[PlanRecord, ...]
    #: the case formulation's revisions (a NoteRecord each: title, who saved it, its sections)
    formulations: tuple[NoteRecord, ...]
    #: the safety plan's signed revisions, their addenda and, as addenda, its reviews
    safety_plans: tuple[NoteRecord, ...]
    #: the journal entries the patient shared with the clinic (never a private one)
    journal: tuple[JournalRow, ...]
    reports: tuple[ReportRow, ...]
    releases: tuple[ReleaseRow, ...]


TEMPLATE = "documents/record_summary.html"


def render_record_html(summary: RecordSummary, *, for_pdf: bool) -> str:
    return render_template(TEMPLATE, doc=summary, for_pdf=for_pdf)


def render_record_pdf(summary: RecordSummary) -> bytes:
    return render_pdf(render_record_html(summary, for_pdf=True))
