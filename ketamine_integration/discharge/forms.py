"""Forms: the discharge summary's written sections (save, or save and sign), an addendum, sending a copy."""
from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import BooleanField, HiddenField, SelectField, TextAreaField
from wtforms.validators import InputRequired, Length, Optional

from .content import MAX_WRITTEN, WRITTEN


class DischargeForm(FlaskForm):
    """One text area per written section (discharge.content.WRITTEN); the page shows those the course has."""
    version = HiddenField()
    confirm_sign = BooleanField("I understand this discharge summary will be locked when signed: corrections are "
                                "addenda, and the computed sections are frozen as they read now")


for _section in WRITTEN:
    setattr(DischargeForm, _section.key, TextAreaField(_section.title, description=_section.hint,
                                                       validators=[Optional(), Length(max=MAX_WRITTEN)]))


class StartForm(FlaskForm):
    """Starting the summary of an ended course: a button."""


class AddendumForm(FlaskForm):
    body = TextAreaField("Addendum", validators=[InputRequired(), Length(max=MAX_WRITTEN)])


class SendForm(FlaskForm):
    recipient = SelectField("Send to the prescriber", coerce=int, validators=[InputRequired()],
                            id="discharge-recipient")
