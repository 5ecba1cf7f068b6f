"""Session notes with their themes, action steps and check-ins; process notes; case
formulations; measures and safety alerts.

A signed note never changes: the service refuses it, an ORM guard refuses it (signed_guard.py), and
database triggers (migration 0007) refuse it whatever code path tries. Corrections are addenda.
"""
from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import JSON, CheckConstraint, ForeignKey, Index, String, Text, UniqueConstraint, false, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..accounts.models import User
from ..courses.models import TreatmentCourse
from ..db.clinic_time import to_clinic
from ..db.types import UTCDateTime, utcnow
from ..domain.measures import MEASURES, Measure
from ..domain.safety import MEASURE as MEASURE_SOURCE, PORTAL_ANSWER, RISK_SCREEN_GUIDANCE, SOURCES
from ..experience.models import DosingSession
from ..extensions import db
from ..patients.models import Patient
from ..plans.models import TreatmentPlan
from ..plans.progress import ObjectiveProgress

DRAFT, SIGNED = "draft", "signed"
#: the kinds of session note: "dosing" documents one dosing session at which a therapist was present
#: (the protocol's experience.therapist_present, issue 20 point 9; migration 0031)
PREPARATION, INTEGRATION, DOSING = "preparation", "integration", "dosing"
NOTE_KINDS = {PREPARATION: "Preparation session", INTEGRATION: "Integration session", DOSING: "Dosing session"}
KNOWN_KINDS = ", ".join(f"'{kind}'" for kind in NOTE_KINDS)
PROGRESS = {"done": "Done", "partly": "Partly", "not": "Not done"}
DECISIONS = {"continue": "Continue", "adjust": "Adjust", "stop": "Stop"}


class Theme(db.Model):
    """The clinic's theme vocabulary, managed by the admin; retired themes stay for history."""

    __tablename__ = "themes"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(80), unique=True)
    active: Mapped[bool] = mapped_column(default=True)


class SessionNote(db.Model):
    __tablename__ = "session_notes"
    __table_args__ = (
        CheckConstraint(f"kind IN ({KNOWN_KINDS})", name="known_kind"),
        # a dosing-session note names its dosing session, and no other note names one
        CheckConstraint(f"(kind = '{DOSING}' AND dosing_session_id IS NOT NULL) OR "
                        f"(kind <> '{DOSING}' AND dosing_session_id IS NULL)", name="dosing_note_names_its_session"),
        # one dosing-session note per dosing session (a discarded draft gives way to a new one)
        Index("uq_session_notes_dosing_session_id", "dosing_session_id", unique=True,
              sqlite_where=text("discarded_at IS NULL"), postgresql_where=text("discarded_at IS NULL")),
        CheckConstraint("status IN ('draft', 'signed')", name="known_status"),
        # an author's unsigned notes (the dashboard counts them on every visit) without reading
        # the thousands they signed; partial: drafts are few, signed notes pile up (migration 0014)
        Index("ix_session_notes_drafts", "author_id", sqlite_where=text("status = 'draft'"),
              postgresql_where=text("status = 'draft'")),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    course_id: Mapped[int] = mapped_column(ForeignKey("treatment_courses.id"), index=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id"), index=True)
    kind: Mapped[str] = mapped_column(String(20))
    #: the clinic date the session took place
    session_date: Mapped[date]
    author_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    status: Mapped[str] = mapped_column(String(10), default=DRAFT)
    #: the narrative sections, by field name (see notes.forms)
    content: Mapped[dict] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    signed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    #: SHA-256 of the signed content; `flask notes verify` recomputes it
    content_digest: Mapped[str | None] = mapped_column(String(64))
    version: Mapped[int] = mapped_column(default=1)
    #: a draft its author discarded: when, and by whom (always the author); its text was cleared
    #: then and the row stays, so the record shows a note was started and given up (migration 0027)
    discarded_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    discarded_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    #: the dosing session a dosing-session note documents (kind "dosing" only); fixed when the note
    #: is started, and never changed (database trigger, migration 0031)
    dosing_session_id: Mapped[int | None] = mapped_column(ForeignKey("dosing_sessions.id"))
    #: the signed treatment-plan revision an integration note was written against (its pathway, host
    #: theory and objectives); set on every save from the course's active plan, frozen once signed
    #: (migration 0050). None: no signed plan then, or a note older than plans.
    plan_id: Mapped[int | None] = mapped_column(ForeignKey("treatment_plans.id"))

    course: Mapped[TreatmentCourse] = relationship()
    plan: Mapped[TreatmentPlan | None] = relationship()
    dosing_session: Mapped[DosingSession | None] = relationship()
    patient: Mapped[Patient] = relationship()
    author: Mapped[User] = relationship(lazy="joined", foreign_keys=[author_id])
    themes: Mapped[list[NoteTheme]] = relationship(back_populates="note", cascade="all, delete-orphan",
                                                   lazy="selectin", order_by="NoteTheme.id")
    check_ins: Mapped[list[ActionCheckIn]] = relationship(back_populates="note", cascade="all, delete-orphan",
                                                          lazy="selectin", order_by="ActionCheckIn.id")
    new_steps: Mapped[list[ActionStep]] = relationship(back_populates="note", lazy="selectin",
                                                       order_by="ActionStep.id")
    dosing_links: Mapped[list[NoteDosingLink]] = relationship(back_populates="note", cascade="all, delete-orphan",
                                                              lazy="selectin")
    addenda: Mapped[list[NoteAddendum]] = relationship(back_populates="note", lazy="selectin",
                                                       order_by="NoteAddendum.id")
    #: techniques used from the vocabulary, and responses to those of an earlier note (technique_models.py)
    techniques: Mapped[list["NoteTechnique"]] = relationship(  # noqa: F821
        back_populates="note", cascade="all, delete-orphan", lazy="selectin", order_by="NoteTechnique.id")
    technique_responses: Mapped[list["TechniqueResponse"]] = relationship(  # noqa: F821
        back_populates="note", cascade="all, delete-orphan", lazy="selectin", order_by="TechniqueResponse.id")
    #: progress on the followed plan's objectives (plans.progress)
    objective_progress: Mapped[list[ObjectiveProgress]] = relationship(
        back_populates="note", cascade="all, delete-orphan", lazy="selectin", order_by="ObjectiveProgress.id")

    __mapper_args__ = {"version_id_col": version}

    @property
    def signed(self) -> bool:
        return self.status == SIGNED

    @property
    def discarded(self) -> bool:
        return self.discarded_at is not None

    @property
    def label(self) -> str:
        return NOTE_KINDS[self.kind]


class NoteDosingLink(db.Model):
    """Which dosing sessions' windows an integration note serves: windows that include the
    session's date, or another one as a stated exception (a late review), with its reason."""

    __tablename__ = "note_dosing_links"

    note_id: Mapped[int] = mapped_column(ForeignKey("session_notes.id"), primary_key=True)
    dosing_session_id: Mapped[int] = mapped_column(ForeignKey("dosing_sessions.id"), primary_key=True)
    #: why the note serves a window that does not include its date; None: the window includes it
    exception_reason: Mapped[str | None] = mapped_column(Text)

    note: Mapped[SessionNote] = relationship(back_populates="dosing_links")


class NoteTheme(db.Model):
    __tablename__ = "note_themes"
    __table_args__ = (CheckConstraint("theme_id IS NOT NULL OR free_theme IS NOT NULL", name="named"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    note_id: Mapped[int] = mapped_column(ForeignKey("session_notes.id"), index=True)
    #: from the clinic vocabulary ...
    theme_id: Mapped[int | None] = mapped_column(ForeignKey("themes.id"))
    #: ... or the therapist's own words
    free_theme: Mapped[str | None] = mapped_column(String(80))
    #: the patient's words for it
    patient_words: Mapped[str | None] = mapped_column(String(500))

    note: Mapped[SessionNote] = relationship(back_populates="themes")
    theme: Mapped[Theme | None] = relationship(lazy="joined")

    @property
    def name(self) -> str:
        return self.theme.name if self.theme else self.free_theme


class ActionStep(db.Model):
    """A specific, measurable step agreed in a note ("walk three times a week from Monday")."""

    __tablename__ = "action_steps"
    __table_args__ = (CheckConstraint("status IN ('open', 'stopped')", name="known_status"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    course_id: Mapped[int] = mapped_column(ForeignKey("treatment_courses.id"), index=True)
    note_id: Mapped[int] = mapped_column(ForeignKey("session_notes.id"), index=True)
    what: Mapped[str] = mapped_column(String(300))
    how_often: Mapped[str] = mapped_column(String(120))
    starts_on: Mapped[date]
    review_on: Mapped[date]
    linked_insight: Mapped[str | None] = mapped_column(String(300))
    #: the plan objective it serves (PlanObjective.lineage_id); None: no plan when it was agreed, or older
    objective_lineage_id: Mapped[str | None] = mapped_column(String(32))
    #: how the patient and therapist will know it worked (required of new steps; older ones have none)
    success_criterion: Mapped[str | None] = mapped_column(String(300))
    #: why it should help
    mechanism: Mapped[str | None] = mapped_column(String(500))
    #: stopped by a signed check-in that decided to stop
    status: Mapped[str] = mapped_column(String(10), default="open")

    note: Mapped[SessionNote] = relationship(back_populates="new_steps")
    check_ins: Mapped[list[ActionCheckIn]] = relationship(back_populates="step", order_by="ActionCheckIn.id")


class ActionCheckIn(db.Model):
    __tablename__ = "action_check_ins"
    __table_args__ = (
        UniqueConstraint("note_id", "action_step_id"),
        CheckConstraint("progress IN ('done', 'partly', 'not')", name="known_progress"),
        CheckConstraint("decision IN ('continue', 'adjust', 'stop')", name="known_decision"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    note_id: Mapped[int] = mapped_column(ForeignKey("session_notes.id"), index=True)
    action_step_id: Mapped[int] = mapped_column(ForeignKey("action_steps.id"), index=True)
    progress: Mapped[str] = mapped_column(String(10))
    obstacles: Mapped[str | None] = mapped_column(String(500))
    decision: Mapped[str] = mapped_column(String(10))
    #: what changes, when the decision is to adjust
    adjustment: Mapped[str | None] = mapped_column(String(300))

    note: Mapped[SessionNote] = relationship(back_populates="check_ins")
    step: Mapped[ActionStep] = relationship(back_populates="check_ins", lazy="joined")


class NoteAddendum(db.Model):
    """A correction or later observation on a signed note; never edited."""

    __tablename__ = "note_addenda"

    id: Mapped[int] = mapped_column(primary_key=True)
    note_id: Mapped[int] = mapped_column(ForeignKey("session_notes.id"), index=True)
    author_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    body: Mapped[str] = mapped_column(Text)
    #: SHA-256 of what it says, stored at creation; `flask signatures verify` recomputes it
    content_digest: Mapped[str | None] = mapped_column(String(64))

    note: Mapped[SessionNote] = relationship(back_populates="addenda")
    author: Mapped[User] = relationship(lazy="joined")


class ProcessNote(db.Model):
    """Psychotherapy notes (45 CFR 164.501): the author's alone. Never shown to anyone else,
    never in a report or export; every read is audited. Kept apart from the session note."""

    __tablename__ = "process_notes"

    id: Mapped[int] = mapped_column(primary_key=True)
    note_id: Mapped[int] = mapped_column(ForeignKey("session_notes.id"), unique=True)
    author_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    body: Mapped[str] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    version: Mapped[int] = mapped_column(default=1)

    __mapper_args__ = {"version_id_col": version}


class CaseFormulation(db.Model):
    """One saved version of a course's case formulation; the latest is current, all are kept."""

    __tablename__ = "case_formulations"
    __table_args__ = (UniqueConstraint("course_id", "revision"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    course_id: Mapped[int] = mapped_column(ForeignKey("treatment_courses.id"), index=True)
    #: 1, 2, 3 ... per course
    revision: Mapped[int]
    #: the sections, by field name (see notes.forms.FormulationForm)
    content: Mapped[dict] = mapped_column(JSON)
    author_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    saved_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    #: SHA-256 of the revision, stored at creation; `flask signatures verify` recomputes it
    content_digest: Mapped[str | None] = mapped_column(String(64))

    author: Mapped[User] = relationship(lazy="joined")


#: how a response the patient completed is marked wherever responses are listed
PATIENT_COMPLETED = "completed by the patient in the portal"
#: how a portal answer's alert says whether the patient went on to complete the questionnaire
NOT_COMPLETED, COMPLETED_LATER = "questionnaire not completed", "questionnaire completed afterwards"
#: what a measure's void reason must say, in characters written (spaces do not count)
VOID_REASON_MINIMUM = 5


class MeasureResponse(db.Model):
    """One completed questionnaire of the measure registry. Never edited: one entered in error is
    voided once, with a reason, and kept (database triggers, migration 0015)."""

    __tablename__ = "measure_responses"
    __table_args__ = (
        # a clinician's entry names who entered it; one the patient completed names no staff user
        CheckConstraint("(completed_by_patient AND entered_by_id IS NULL) OR "
                        "(NOT completed_by_patient AND entered_by_id IS NOT NULL)", name="who_completed"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id"), index=True)
    course_id: Mapped[int] = mapped_column(ForeignKey("treatment_courses.id"), index=True)
    #: a key of domain.measures.MEASURES, checked by the service (no CHECK: the registry is open,
    #: migration 0018)
    measure: Mapped[str] = mapped_column(String(10))
    administered_on: Mapped[date]
    #: item scores in order
    answers: Mapped[list] = mapped_column(JSON)
    difficulty: Mapped[str | None] = mapped_column(String(12))
    total: Mapped[int]
    band: Mapped[str] = mapped_column(String(30))
    #: the clinician who entered it (None: the patient completed it in the portal)
    entered_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    #: when it was entered: for the patient's own, when they completed it
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    #: completed by the patient in the portal, not entered by a clinician (migration 0041)
    completed_by_patient: Mapped[bool] = mapped_column(default=False, server_default=false())
    #: the moment of the protocol's schedule the patient answered (domain.questionnaires keys,
    #: "before_each_dosing:12"); None for a clinician's entry or an answer the schedule no longer asked for
    moment: Mapped[str | None] = mapped_column(String(60))
    voided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    void_reason: Mapped[str | None] = mapped_column(String(300))
    #: SHA-256 of the answers, total and band (not the voiding), stored at creation; `flask signatures verify` recomputes it
    content_digest: Mapped[str | None] = mapped_column(String(64))

    entered_by: Mapped[User | None] = relationship(lazy="joined")
    patient: Mapped[Patient] = relationship()


class SafetyAlert(db.Model):
    """A suicide-risk signal from one source: a measure response that meets its measure's safety
    rule (PHQ-9 item 9 above 0, any yes on the C-SSRS screener), a therapist's risk screen on an
    integration note, or the patient's answer meeting that rule on a portal questionnaire they did
    not complete (domain/safety.py). Open until a clinician acknowledges it with what was done; kept
    after that as the patient's safety history (append-only: migrations 0015, 0022, 0043)."""

    __tablename__ = "safety_alerts"
    __table_args__ = (
        CheckConstraint("source IN ('measure', 'risk_screen', 'portal_answer')", name="known_source"),
        # a portal answer's alert names its measure; the response completed later may be linked to it once
        CheckConstraint("(source = 'measure' AND measure_response_id IS NOT NULL AND session_note_id IS NULL) OR "
                        "(source = 'risk_screen' AND session_note_id IS NOT NULL AND measure_response_id IS NULL) OR "
                        "(source = 'portal_answer' AND measure IS NOT NULL AND session_note_id IS NULL)",
                        name="one_source"),
        CheckConstraint("acknowledged_at IS NULL OR (acknowledged_by_id IS NOT NULL AND "
                        "acknowledgement IS NOT NULL AND acknowledgement != '')", name="acknowledged_with_what_was_done"),
        # one alert per finding of a note's risk screen, however often the draft is saved
        UniqueConstraint("session_note_id", "finding", name="uq_safety_alerts_session_note_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id"), index=True)
    course_id: Mapped[int] = mapped_column(ForeignKey("treatment_courses.id"))
    #: domain.safety.SOURCES: "measure", "risk_screen" or "portal_answer"
    source: Mapped[str] = mapped_column(String(20), server_default=MEASURE_SOURCE)
    #: the response that raised it (source "measure"), or the one the patient completed after a
    #: portal answer's alert, linked once (source "portal_answer", notes/safety.py; migration 0043)
    measure_response_id: Mapped[int | None] = mapped_column(ForeignKey("measure_responses.id"), unique=True)
    #: the measure whose safety rule a portal answer met (source "portal_answer": no response held it)
    measure: Mapped[str | None] = mapped_column(String(10))
    #: the integration note whose risk screen raised it (source "risk_screen")
    session_note_id: Mapped[int | None] = mapped_column(ForeignKey("session_notes.id"), index=True)
    #: the answer to the safety rule's item that raised it (PHQ-9 item 9: 1-3; None for other rules)
    item_score: Mapped[int | None]
    #: what was seen, in a sentence, as it was when raised ("PHQ-9 item 9 (thoughts of self-harm) answered 2")
    finding: Mapped[str] = mapped_column(Text, server_default="")
    raised_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    acknowledged_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    acknowledged_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    #: what was done (required to acknowledge)
    acknowledgement: Mapped[str | None] = mapped_column(Text)

    patient: Mapped[Patient] = relationship()
    response: Mapped[MeasureResponse | None] = relationship(lazy="joined")
    note: Mapped[SessionNote | None] = relationship(lazy="joined")
    acknowledged_by: Mapped[User | None] = relationship(foreign_keys=[acknowledged_by_id], lazy="joined")

    @property
    def measure_entry(self) -> Measure | None:
        """The registry entry whose safety rule raised it (None: another source)."""
        key = self.response.measure if self.response is not None else self.measure
        return None if key is None else MEASURES[key]

    @property
    def source_label(self) -> str:
        if self.source == PORTAL_ANSWER:
            return f"{SOURCES[self.source]} ({COMPLETED_LATER if self.response is not None else NOT_COMPLETED})"
        by_patient = self.response is not None and self.response.completed_by_patient
        return f"{SOURCES[self.source]} ({PATIENT_COMPLETED})" if by_patient else SOURCES[self.source]

    @property
    def observed_on(self) -> date:
        """The clinic date of what raised it: the questionnaire's, the session's, or the portal answer's."""
        if self.response is not None:
            return self.response.administered_on
        return self.note.session_date if self.note is not None else to_clinic(self.raised_at).date()

    @property
    def guidance(self) -> str:
        entry = self.measure_entry
        return entry.safety.guidance if entry is not None else RISK_SCREEN_GUIDANCE

    @property
    def open(self) -> bool:
        return self.acknowledged_at is None


class UnsavedWork(db.Model):
    """What a clinician submitted to a note, process-note or formulation page after their
    login session had timed out: kept, and offered back on that page once they sign in
    again, so no text is lost. Their next successful save there (the recovered text or any
    other) clears the text for good: only who, where and when stay (migration 0015)."""

    __tablename__ = "unsaved_work"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    #: the page it was submitted to (its URL path)
    path: Mapped[str] = mapped_column(String(200))
    #: the submitted fields, as lists of values by name (CSRF token left out)
    form: Mapped[dict] = mapped_column(JSON)
    submitted_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    recovered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


# the technique tables name SessionNote; imported here so that every user of the notes' models maps them
from .technique_models import NoteTechnique, TechniqueResponse  # noqa: E402,F401
