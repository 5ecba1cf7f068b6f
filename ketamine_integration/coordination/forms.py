"""Forms: a release of information, a coordination note and its acknowledgement, a report."""
from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import BooleanField, SelectField, StringField, TextAreaField
from wtforms.validators import InputRequired, Length, Optional

from ..web.fields import ClinicDateField, MultiCheckboxField, WrittenAtLeast, options
from .models import CATEGORIES, NOTE_CATEGORIES, PRIORITIES, REPORT_MINIMUM


class ReleaseForm(FlaskForm):
    recipient = SelectField("Prescriber of this clinic", coerce=int, validators=[Optional()])
    recipient_name = StringField("Or an outside clinic or clinician", validators=[Optional(), Length(max=200)])
    outside_care_team = BooleanField(
        "The recipient is outside the patient's care team (another practice)",
        description="Coordination among the patient's care team needs no release; sharing with anyone outside it "
                    "does, and only a release that says so covers it. Always so for a named outside recipient.")
    categories = MultiCheckboxField("The patient permits sharing", choices=options(CATEGORIES.items()),
                                    description=f"Every report names {REPORT_MINIMUM}; the indication, protocol "
                                                "and course phase only under the treatment summary, everything "
                                                "else only under its category. Process notes are never shared.")
    purpose = StringField("Purpose", validators=[InputRequired(), Length(max=300)])
    effective_on = ClinicDateField("Effective from", validators=[InputRequired()])
    expires_on = ClinicDateField("Expires on", validators=[Optional()])


class RevokeForm(FlaskForm):
    revoked_on = ClinicDateField("Revoked as of", validators=[InputRequired()])


class NoteForm(FlaskForm):
    recipient = SelectField("To", coerce=int, validators=[InputRequired()])
    priority = SelectField("Priority", choices=options(PRIORITIES.items()), default="routine")
    category = SelectField("About", choices=options(NOTE_CATEGORIES.items()))
    body = TextAreaField("Message", validators=[InputRequired(), WrittenAtLeast(3), Length(max=5000)])


class AcknowledgeNoteForm(FlaskForm):
    reply = TextAreaField("Reply (optional)", validators=[Optional(), Length(max=5000)])


class ReportForm(FlaskForm):
    # an id of its own: the coordination page's note form has a recipient too
    recipient = SelectField("For", coerce=int, validators=[InputRequired()], id="report-recipient")
    questions = TextAreaField("Questions for the prescriber", validators=[Optional(), Length(max=3000)])
    recommendations = TextAreaField("Recommendations", validators=[Optional(), Length(max=3000)])
