"""Note, formulation, measure and theme forms. Section wording follows clinical practice
(BRIEF: "Integration session content")."""
from __future__ import annotations

import re

from flask_wtf import FlaskForm
from wtforms import (BooleanField, FieldList, Form, FormField, HiddenField, RadioField, SelectField, StringField,
                     TextAreaField)
from wtforms.validators import InputRequired, Length, Optional

from ..domain.measures import MEASURES
from ..domain.plans import HOST_THEORIES, STAGES
from ..plans.progress import PROGRESS as PROGRESS_ON
from ..domain.practices import DEFAULT_PRACTICES
from ..web.fields import ClinicDateField, MultiCheckboxField, WrittenAtLeast, options
from .models import DECISIONS, PROGRESS, VOID_REASON_MINIMUM
from .technique_models import RESPONSES
from .safety import ACKNOWLEDGEMENT_MINIMUM, ACKNOWLEDGEMENT_TOO_SHORT

YES_NO = options([("yes", "Yes"), ("no", "No")])
PSYCHOEDUCATION = {"what_to_expect": "What to expect during dosing", "dissociation": "Dissociation and altered perception",
                   "safety_monitoring": "Safety, monitoring and discharge", "set_and_setting": "Set and setting",
                   "integration": "How integration works", "interactions": "Medication interactions and risks"}
READINESS = {"ready": "Ready", "somewhat": "Somewhat ready: more preparation advised", "not_ready": "Not ready yet"}
#: the default practices; the pages offer the clinic's vocabulary instead (practices/vocabulary.py:
#: practice_choices), whose keys these are, so the notes signed before it keep their words
PRACTICES = dict(DEFAULT_PRACTICES)
CHALLENGES = {"remembering": "Difficulty remembering", "not_sticking": "Insights not sticking",
              "overwhelm": "Overwhelming emotion", "symptoms_return": "Returning symptoms",
              "resistance": "Resistance to change"}
THEME_ROWS, STEP_ROWS, TECHNIQUE_ROWS = 4, 2, 2
#: techniques an integration note records from the vocabulary (the formulation keeps TECHNIQUE_ROWS free-text rows)
NOTE_TECHNIQUE_ROWS = 3
#: the words a signed note shows for each chosen key, by the content field (or check-in column) holding it
VOCABULARY = {"psychoeducation": PSYCHOEDUCATION, "readiness": READINESS, "practices": PRACTICES,
              "challenges": CHALLENGES, "host_theory": HOST_THEORIES, "yes_no": {"yes": "yes", "no": "no"},
              "progress": PROGRESS, "decision": DECISIONS, "move_stage": STAGES}


def _text(label: str, limit: int = 5000, description: str | None = None) -> TextAreaField:
    return TextAreaField(label, validators=[Optional(), Length(max=limit)], description=description)


#: the signer's confirmation, asked with the "Sign and lock" button (a checkbox: it works without JavaScript)
LOCK_CONFIRMATION = "I understand this note will be locked: after signing, only addenda can be added"
LOCK_NOT_CONFIRMED = "Tick this box to confirm that the note will be locked, then sign again."


class NoteBaseForm(FlaskForm):
    session_date = ClinicDateField("Session date", validators=[InputRequired()])
    version = HiddenField()
    #: required only when the form is signed (notes.views checks it with the note's other needs)
    confirm_lock = BooleanField(LOCK_CONFIRMATION)


class PreparationNoteForm(NoteBaseForm):
    intentions = _text("Intentions, one per line, in the patient's words", 3000)
    expectations = _text("Expectations")
    concerns = _text("Concerns")
    psychoeducation = MultiCheckboxField("Psychoeducation covered", choices=options(PSYCHOEDUCATION.items()))
    set_setting_plan = _text("Set and setting plan")
    support_person = StringField("Support person", validators=[Optional(), Length(max=200)])
    readiness = SelectField("Readiness", choices=options([("", "—")] + list(READINESS.items())),
                            validators=[Optional()])
    consent_questions_answered = RadioField("Consent questions answered", choices=YES_NO, validators=[Optional()])
    next_session_plan = _text("Plan for next session", 2000)


#: narrative fields of each kind, stored in SessionNote.content
PREPARATION_FIELDS = ("intentions", "expectations", "concerns", "psychoeducation", "set_setting_plan",
                      "support_person", "readiness", "consent_questions_answered", "next_session_plan")


class ThemeRowForm(Form):
    theme = SelectField("Theme from the clinic's list", coerce=int, validators=[Optional()])
    free_theme = StringField("Or a new theme", validators=[Optional(), Length(max=80)])
    patient_words = StringField("In the patient's words", validators=[Optional(), Length(max=500)])


class StepRowForm(Form):
    """A new SMART action step (domain.note_plan.step_problems): the objective choices are the active
    plan's (note_form sets them)."""
    what = StringField("What, specifically", validators=[Optional(), Length(max=300)])
    how_often = StringField("How often", validators=[Optional(), Length(max=120)])
    starts_on = ClinicDateField("From", validators=[Optional()])
    review_on = ClinicDateField("Review on", validators=[Optional()])
    success_criterion = StringField("Success criterion: how you will both know it worked",
                                    validators=[Optional(), Length(max=300)])
    objective = SelectField("Plan objective it serves", choices=options([("", "—")]), validators=[Optional()],
                            validate_choice=False)
    mechanism = StringField("Why it should help", validators=[Optional(), Length(max=500)])
    linked_insight = StringField("Linked insight", validators=[Optional(), Length(max=300)])


class ObjectiveProgressRowForm(Form):
    """Progress on one objective of the active plan (one row per objective: note_form adds them)."""
    lineage = HiddenField()
    progress = SelectField("Progress on this objective", choices=options([("", "—")] + list(PROGRESS_ON.items())),
                           validators=[Optional()])
    comment = StringField("Comment on the progress", validators=[Optional(), Length(max=500)])


class CheckInRowForm(Form):
    step_id = HiddenField()
    progress = SelectField("Progress", choices=options([("", "—")] + list(PROGRESS.items())), validators=[Optional()])
    obstacles = StringField("Obstacles", validators=[Optional(), Length(max=500)])
    decision = SelectField("Then", choices=options([("", "—")] + list(DECISIONS.items())), validators=[Optional()])
    adjustment = StringField("Adjusted to", validators=[Optional(), Length(max=300)])


class TechniqueRowForm(Form):
    technique = StringField("Assimilated technique", validators=[Optional(), Length(max=120)])
    rationale = StringField("Rationale", validators=[Optional(), Length(max=500)])


class TechniqueUseRowForm(Form):
    """A technique used in the session, from the clinic's vocabulary (choices grouped by cluster:
    note_form sets them), and why (required with a technique: notes.technique_uses)."""
    technique = SelectField("Technique used", choices=[], validators=[Optional()], validate_choice=False)
    rationale = StringField("Rationale: why this technique, for this patient, now",
                            validators=[Optional(), Length(max=500)])


class TechniqueResponseRowForm(Form):
    """How the patient responded to a technique the previous signed note used."""
    use_id = HiddenField()
    response = SelectField("How the patient responded", choices=options([("", "—")] + list(RESPONSES.items())),
                           validators=[Optional()])
    comment = StringField("Comment on the response", validators=[Optional(), Length(max=500)])


class IntegrationNoteForm(NoteBaseForm):
    dosing_sessions = MultiCheckboxField("Dosing sessions whose window this session serves", coerce=int,
                                         description="Only the windows that include the session date are offered.")
    dosing_exceptions = MultiCheckboxField("Serve as an exception: a window that does not include this date",
                                           coerce=int)
    dosing_exception_reason = TextAreaField("Reason for the exception (for example, a late review)",
                                            validators=[Optional(), Length(max=500)])
    stood_out = _text("Experience review: what stood out")
    emotions = _text("Emotions")
    imagery = _text("Images, memories, visions")
    surprises = _text("Surprises")
    meaningful = _text("What felt meaningful")
    themes = FieldList(FormField(ThemeRowForm), min_entries=THEME_ROWS, max_entries=THEME_ROWS)
    insights = _text("Insights")
    core_beliefs = _text("Core beliefs that emerged")
    connections_present = _text("Connections to present life")
    connections_past = _text("Connections to the past")
    # one row per open action step of the course, however many (steps are refused if unknown)
    check_ins = FieldList(FormField(CheckInRowForm), min_entries=0)
    new_steps = FieldList(FormField(StepRowForm), min_entries=STEP_ROWS, max_entries=STEP_ROWS)
    practices = MultiCheckboxField("Self-guided practices agreed", choices=options(PRACTICES.items()))
    practices_note = _text("Practices: details", 2000)
    challenges = MultiCheckboxField("Challenges met", choices=options(CHALLENGES.items()))
    challenges_note = _text("Challenges: details", 2000)
    # one row per objective of the course's active plan, however many (unknown ones are refused)
    objective_progress = FieldList(FormField(ObjectiveProgressRowForm), min_entries=0)
    move_stage = SelectField("Move the course to stage", choices=options([("", "— (no change)")] + list(STAGES.items())),
                             validators=[Optional()],
                             description="Recorded as a stage change when the note is signed.")
    stage_reason = TextAreaField("Why the stage changes", validators=[Optional(), Length(max=1000)])
    techniques = FieldList(FormField(TechniqueUseRowForm), min_entries=NOTE_TECHNIQUE_ROWS,
                           max_entries=NOTE_TECHNIQUE_ROWS)
    # one row per technique the previous signed note used, however many (unknown ones are refused)
    technique_responses = FieldList(FormField(TechniqueResponseRowForm), min_entries=0)
    self_harm_thoughts = RadioField("Risk screen: thoughts of self-harm", choices=YES_NO, validators=[Optional()])
    self_harm_intent = RadioField("Risk screen: intent to act on them", choices=YES_NO, validators=[Optional()])
    safety_plan_reviewed = RadioField("Safety plan reviewed", choices=YES_NO, validators=[Optional()])
    risk_notes = _text("Risk: details and actions", 2000)
    next_session_plan = _text("Plan for next session", 2000)


INTEGRATION_FIELDS = ("stood_out", "emotions", "imagery", "surprises", "meaningful", "insights", "core_beliefs",
                      "connections_present", "connections_past", "practices", "practices_note", "challenges",
                      "challenges_note", "move_stage", "stage_reason", "self_harm_thoughts", "self_harm_intent",
                      "safety_plan_reviewed", "risk_notes", "next_session_plan")
#: what older integration notes typed and new ones take from the plan (a draft begun before keeps it)
FROM_THE_PLAN = ("host_theory",)


class DosingNoteForm(NoteBaseForm):
    """The dosing-session note (issue 20, point 9): the therapist present at the dose documents it."""
    #: the day of its dosing session, never typed (notes.dosing_notes.dose_day)
    session_date = None
    set_setting = _text("Set and setting: how they were prepared",
                        description="The room, music, eyeshades, who was there; the patient's state before dosing.")
    intention = _text("The patient's intention for this session, in their words", 1000)
    observations = _text("Your observations during the session",
                         description="What you saw and heard as the session went: the arc of the experience, "
                                     "emotion, movement, what the patient said.")
    support_given = _text("Support given",
                          description="For example grounding, reassurance, guided breathing, music changed, "
                                      "supportive touch with consent; or that none was needed.")
    reflections = _text("The patient's immediate reflections",
                        description="What the patient said as the effects eased, in their words where you can.")
    integration_plan = _text("To take into integration", 2000,
                             description="What the next integration session should pick up while it is fresh.")


DOSING_FIELDS = ("set_setting", "intention", "observations", "support_given", "reflections", "integration_plan")
FIELDS = {"preparation": PREPARATION_FIELDS, "integration": INTEGRATION_FIELDS, "dosing": DOSING_FIELDS}
FORMS = {"preparation": PreparationNoteForm, "integration": IntegrationNoteForm, "dosing": DosingNoteForm}


class NewNoteForm(FlaskForm):
    kind = SelectField("Note", choices=options([("integration", "Integration session"),
                                                ("preparation", "Preparation session")]))
    session_date = ClinicDateField("Session date", validators=[InputRequired()])


class StartDosingNoteForm(FlaskForm):
    """"Write the dosing-session note" on a dosing record: the CSRF token, nothing more."""


class DiscardNoteForm(FlaskForm):
    confirm = BooleanField("I understand the text of this draft will not be kept",
                           validators=[InputRequired("Tick this box to confirm, then discard the draft.")])
    version = HiddenField()


class ProcessNoteForm(FlaskForm):
    body = TextAreaField("Process notes (only you will ever see these)",
                         validators=[InputRequired(), Length(max=20000)])
    version = HiddenField()


def _strip(value):
    return value.strip() if isinstance(value, str) else value


class NoteAddendumForm(FlaskForm):
    body = TextAreaField("Addendum", filters=[_strip], validators=[InputRequired(), WrittenAtLeast(5), Length(max=5000)])


FORMULATION_SECTIONS = {
    "presenting_concerns": "Presenting concerns",
    "patterns": "Patterns (trigger → thought → feeling → behaviour → consequence)",
    "core_beliefs": "Core beliefs",
    "emotion_nervous_system": "Emotion and nervous system",
    "development_context": "Development and context",
    "strengths": "Strengths",
    # what a formulation answers besides "what is going on" (FRAMEWORKS.md, case formulation; issue 24,
    # point 4); revisions saved before these sections were offered show as they were, without them
    "why_now": "Why now",
    "maintaining_factors": "What keeps it going (maintaining factors)",
    "what_might_help": "What might help",
}


#: the approach: the course's stable choices, kept in the formulation and carried into each new
#: integration note as its default (issue 20, point 10), by the note field each fills
CARRIED = {"host_theory": "Host theory", "techniques": "Assimilated techniques, each with its rationale",
           "practices": "Self-guided practices the patient keeps"}


class FormulationForm(FlaskForm):
    presenting_concerns = _text(FORMULATION_SECTIONS["presenting_concerns"])
    patterns = _text(FORMULATION_SECTIONS["patterns"])
    core_beliefs = _text(FORMULATION_SECTIONS["core_beliefs"])
    emotion_nervous_system = _text(FORMULATION_SECTIONS["emotion_nervous_system"])
    development_context = _text(FORMULATION_SECTIONS["development_context"])
    strengths = _text(FORMULATION_SECTIONS["strengths"])
    why_now = _text(FORMULATION_SECTIONS["why_now"], description="What brought the problem to a head, or the "
                    "patient to treatment, at this point.")
    maintaining_factors = _text(FORMULATION_SECTIONS["maintaining_factors"], description="Cycles, avoidance, "
                                "relationships or circumstances that keep the problem going.")
    what_might_help = _text(FORMULATION_SECTIONS["what_might_help"], description="Where to start: the least "
                            "intrusive effective steps first, and what to do when they do not help.")
    host_theory = SelectField(CARRIED["host_theory"], choices=options(HOST_THEORIES.items()), validators=[Optional()])
    techniques = FieldList(FormField(TechniqueRowForm), min_entries=TECHNIQUE_ROWS, max_entries=TECHNIQUE_ROWS)
    practices = MultiCheckboxField(CARRIED["practices"], choices=options(PRACTICES.items()))
    revision = HiddenField()


def measure_form_class(measure_key: str):
    """A form with one radio group per item, with the questionnaire's exact wording and each
    item's own answers (the registry entry's)."""
    measure = MEASURES[measure_key]
    fields = {"administered_on": ClinicDateField("Completed on", validators=[InputRequired()])}
    prompts = dict(measure.prompts)
    for n, item in enumerate(measure.items, 1):
        # an item asked only after another's answer offers "Not asked" (chosen until it is asked, and
        # choosable again: a radio button cannot be cleared); the scoring checks the skip
        skipped = [("", "Not asked")] if item.asked_if else []
        required = Optional() if item.asked_if else InputRequired("Answer every item.")
        fields[f"item{n}"] = RadioField(f"{n}. {item.text}",
                                        choices=options(skipped + [(str(o.value), o.label) for o in item.options]),
                                        default="" if item.asked_if else None,
                                        validators=[required], description=_skip_hint(measure, item, prompts.get(n)))
    if measure.difficulty_question:
        fields["difficulty"] = RadioField(measure.difficulty_question, choices=options(measure.difficulty_options),
                                          validators=[Optional()])
    return type(f"{re.sub(r'[^A-Za-z0-9]', '', measure.name)}Form", (FlaskForm,), fields)


def _skip_hint(measure, item, prompt: str | None) -> str:
    """The published prompt under an item, and when it is asked."""
    hints = [prompt] if prompt else []
    if item.asked_if:
        after, values = item.asked_if
        answers = " or ".join(o.label for o in measure.items[after - 1].options if o.value in values)
        hints.append(f"Asked only if question {after} is answered {answers}; otherwise “Not asked”.")
    return " ".join(hints)


class AcknowledgeForm(FlaskForm):
    note = TextAreaField("What was done (required)", filters=[_strip],
                         validators=[InputRequired(), WrittenAtLeast(ACKNOWLEDGEMENT_MINIMUM,
                                                                     ACKNOWLEDGEMENT_TOO_SHORT), Length(max=2000)])


class VoidMeasureForm(FlaskForm):
    reason = StringField("Why is this entry void?", filters=[_strip],
                         validators=[InputRequired(), WrittenAtLeast(VOID_REASON_MINIMUM), Length(max=300)])


class ThemeForm(FlaskForm):
    name = StringField("Theme", validators=[InputRequired(), Length(max=80)])
