"""Booking forms."""
from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import IntegerField, SelectField
from wtforms.validators import InputRequired, NumberRange, Optional

from ..fields import ClinicDateTimeField, options

MODALITIES = options([("in_person", "In person"), ("telehealth", "Telehealth")])


class BookForm(FlaskForm):
    starts_at = ClinicDateTimeField("Date and time", validators=[InputRequired()])
    minutes = IntegerField("Length (minutes)", default=50, validators=[InputRequired(), NumberRange(15, 240)])
    clinician = SelectField("Integration therapist", coerce=int, validators=[InputRequired()])
    modality = SelectField("Modality", choices=MODALITIES, default="in_person")
    room = SelectField("Room", coerce=int, validators=[Optional()],
                       description="For in-person sessions; leave on 'first free room' to let the clinic choose.")
