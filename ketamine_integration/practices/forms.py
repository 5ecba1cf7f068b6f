"""The practice vocabulary's forms (the admin's), and assigning and ending a practice (the therapist's)."""
from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import HiddenField, SelectField, StringField, TextAreaField
from wtforms.validators import InputRequired, Length, Optional

from ..domain.practices import MAX_TIMES, PER
from ..web.fields import ClinicDateField, WholeNumberField, options
from .vocabulary import NAME_LIMIT


class PracticeForm(FlaskForm):
    name = StringField("New practice", validators=[InputRequired(), Length(max=NAME_LIMIT)],
                       description="For example “Gratitude letter” or “Body scan before sleep”.")


class PracticeToggleForm(FlaskForm):
    """Archive or restore one practice (its key in a hidden field: the buttons of the list)."""
    practice = HiddenField(validators=[InputRequired()])


class AssignPracticeForm(FlaskForm):
    """A practice for the patient to keep, how often and over which days (the course page's and the
    integration note's form; `practice` choices come from the vocabulary)."""
    practice = SelectField("Practice", validators=[InputRequired("Choose a practice.")])
    times = WholeNumberField("How many times", validators=[InputRequired("Enter how many times.")],
                             description=f"At most {MAX_TIMES['day']} a day or {MAX_TIMES['week']} a week.")
    per = SelectField("Per", choices=options(PER.items()), validators=[InputRequired()])
    starts_on = ClinicDateField("From", validators=[InputRequired("Enter the first day.")])
    ends_on = ClinicDateField("To (last day)", validators=[InputRequired("Enter the last day.")])
    instructions = TextAreaField("Instructions for the patient", validators=[Optional(), Length(max=500)],
                                 description="The patient reads these words with the practice.")
    #: the integration note it is assigned from, when it is (the page goes back there)
    from_note = HiddenField()


class EndAssignmentForm(FlaskForm):
    """"End this assignment": the CSRF token, nothing more (it ends today)."""
