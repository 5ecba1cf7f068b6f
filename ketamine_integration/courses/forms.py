"""Forms for enrolment, phase changes and the preparation checklist."""
from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import BooleanField, HiddenField, SelectField, StringField, TextAreaField
from wtforms.validators import InputRequired, Length, Optional

from ..web.fields import ClinicDateField, WrittenAtLeast

INDICATIONS = ("Major depressive disorder", "Treatment-resistant depression",
               "Depression with suicidal ideation", "Post-traumatic stress disorder",
               "Generalised anxiety disorder", "Bipolar depression")


class EnrolForm(FlaskForm):
    protocol = SelectField("Protocol", validators=[InputRequired()])
    start_date = ClinicDateField("Start date", validators=[InputRequired()])
    indication = StringField("Indication", validators=[InputRequired(), Length(max=200)],
                             render_kw={"list": "indications"},
                             description="What the course treats, e.g. treatment-resistant depression.")
    therapist = SelectField("Integration therapist", coerce=int, validators=[InputRequired()])
    prescriber = SelectField("Prescriber", coerce=int, validators=[InputRequired()])


class PhaseForm(FlaskForm):
    target = SelectField("Move to", validators=[InputRequired()])
    reason = TextAreaField("Reason", validators=[Optional(), Length(max=2000)],
                           description="Required to end the course (completed or discontinued) or to override a protocol gate.")
    override = BooleanField("Override the protocol gate (a clinician's decision, recorded with the reason)")
    version = HiddenField()
    #: the preview of what ending the course cancels that the user confirmed (pages/course_end.py)
    reviewed = HiddenField()


class PreparationForm(FlaskForm):
    item = SelectField("Requirement", validators=[InputRequired()])
    completed_on = ClinicDateField("Date", validators=[InputRequired()])
    note = StringField("Note", validators=[Optional(), Length(max=300)],
                       description="Short and factual, e.g. 'cleared by Dr. Ames after the ECG'. Not clinical notes.")


class VoidForm(FlaskForm):
    reason = StringField("Why is this entry voided?", validators=[InputRequired(), WrittenAtLeast(10), Length(max=300)])
