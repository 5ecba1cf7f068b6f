"""Treatment plan forms: a revision's draft (fixed rows of goals, objectives and techniques; a draft
with more objectives gets more rows), an addendum, a stage change."""
from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import BooleanField, FieldList, Form, FormField, HiddenField, SelectField, StringField, TextAreaField
from wtforms.validators import InputRequired, Length, Optional

from ..domain.measures import MEASURES
from ..domain.plans import HOST_THEORIES, PATHWAYS, STAGES
from ..web.fields import ClinicDateField, SelectChoice, WrittenAtLeast, number_controls, options

GOAL_ROWS, OBJECTIVE_ROWS, TECHNIQUE_ROWS, MOST_ROWS = 4, 4, 4, 12
LOCK_CONFIRMATION = "I understand this revision will be locked: after signing, only addenda can be added"
LOCK_NOT_CONFIRMED = "Tick this box to confirm that the revision will be locked, then sign again."
NONE = [("", "—")]


def _strip(value):
    return value.strip() if isinstance(value, str) else value


class ObjectiveRowForm(Form):
    lineage = HiddenField()
    goal = SelectField("Goal it serves", choices=options(NONE + [(str(n), f"Goal {n}") for n in
                                                                range(1, GOAL_ROWS + 1)]), validators=[Optional()])
    target = StringField("Specific target (who does what, how often or how many)", filters=[_strip],
                         validators=[Optional(), Length(max=500)])
    criterion = StringField("Measure and criterion of success", filters=[_strip],
                            validators=[Optional(), Length(max=500)])
    by_when = ClinicDateField("By when", validators=[Optional()])
    mechanism = StringField("Mechanism (why it should help)", filters=[_strip],
                            validators=[Optional(), Length(max=1000)])
    measure = SelectField("Linked measure (optional)",
                          choices=options(NONE + [(key, m.name) for key, m in MEASURES.items()]),
                          validators=[Optional()])


class TechniqueRowForm(Form):
    technique = SelectField("Planned technique", validators=[Optional()], validate_choice=False)
    rationale = StringField("Why this technique", filters=[_strip], validators=[Optional(), Length(max=1000)])


class PlanForm(FlaskForm):
    version = HiddenField()
    problems_patient = TextAreaField("Problems, in the patient's words", filters=[_strip],
                                     validators=[Optional(), Length(max=3000)])
    problems_clinician = TextAreaField("Problems, in the clinician's words", filters=[_strip],
                                       validators=[Optional(), Length(max=3000)])
    goals = FieldList(StringField("Goal", filters=[_strip], validators=[Optional(), Length(max=300)]),
                      min_entries=GOAL_ROWS, max_entries=GOAL_ROWS)
    objectives = FieldList(FormField(ObjectiveRowForm), min_entries=OBJECTIVE_ROWS, max_entries=MOST_ROWS)
    pathway = SelectField("Main integration pathway", choices=options(NONE + list(PATHWAYS.items())),
                          validators=[Optional()])
    host_theory = SelectField("Host theory", choices=options(HOST_THEORIES.items()), validators=[Optional()])
    techniques = FieldList(FormField(TechniqueRowForm), min_entries=TECHNIQUE_ROWS, max_entries=MOST_ROWS)
    stage = SelectField("Decision-map stage", choices=options(NONE + list(STAGES.items())), validators=[Optional()])
    review_on = ClinicDateField("Review the plan on", validators=[Optional()])
    no_change = BooleanField("Reviewed, no change: this revision records a review that kept the plan")
    confirm_lock = BooleanField(LOCK_CONFIRMATION)

    def number_rows(self) -> None:
        """Each row's controls named after their row ("Objective 2: by when"): four rows of the same
        labels read as one list of identical names to a screen reader and to voice control."""
        for rows, noun in ((self.objectives, "Objective"), (self.techniques, "Technique")):
            number_controls(rows, noun)


def technique_choices(grouped: list[tuple[str, list[tuple[str, str]]]], kept: dict[str, str]) -> dict:
    """The vocabulary as <optgroup>s, with a technique the draft holds that the vocabulary dropped."""
    choices = {"": [SelectChoice("", "—")]}
    for cluster, techniques in grouped:
        choices[cluster] = options(techniques)
    known = {key for _, techniques in grouped for key, _ in techniques}
    gone = [(key, name) for key, name in kept.items() if key not in known]
    if gone:
        choices["No longer in the vocabulary"] = options(gone)
    return choices


class PlanAddendumForm(FlaskForm):
    body = TextAreaField("Addendum", filters=[_strip], validators=[InputRequired(), WrittenAtLeast(5), Length(max=5000)])


class StageChangeForm(FlaskForm):
    stage = SelectField("Move to stage", choices=options(NONE + list(STAGES.items())), validators=[Optional()])
    reason = TextAreaField("Why the stage changes", filters=[_strip], validators=[Optional(), Length(max=2000)])


class StartRevisionForm(FlaskForm):
    """The "start the plan" / "revise the plan" button: nothing but its CSRF token."""
