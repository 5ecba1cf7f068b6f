"""Booking forms."""
from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import BooleanField, RadioField, SelectField, StringField, TimeField
from wtforms.validators import InputRequired, Length, NumberRange, Optional

from ..web.fields import ClinicDateTimeField, WholeNumberField, options
from ..patients.forms import care_team_join_fields
from ..bookings.models import KINDS, MINUTES_RANGE
from ..domain.coverage import OUTCOMES

MODALITIES = options([("in_person", "In person"), ("telehealth", "Telehealth")])


class BookForm(care_team_join_fields("book"), FlaskForm):
    # ids of their own where the course page's dosing plan form has a field of the same name,
    # so that each label names one control
    kind = SelectField("Session", choices=options([("integration", "Integration session"),
                                                   ("preparation", "Preparation session"),
                                                   ("follow_up", "Follow-up")]), default="integration")
    starts_at = ClinicDateTimeField("Date and time", validators=[InputRequired()])
    minutes = WholeNumberField("Length (minutes)", validators=[Optional(), NumberRange(*MINUTES_RANGE)], id="book-minutes",
                           description="Leave empty for the clinic's default length of this kind of session.")
    clinician = SelectField("Therapist", coerce=int, validators=[InputRequired()], id="book-clinician")
    modality = SelectField("Modality", choices=MODALITIES, default="in_person")
    room = SelectField("Room", coerce=int, validators=[Optional()], id="book-room",
                       description="For in-person sessions; leave on 'first free room' to let the clinic choose.")


class CancelAppointmentForm(FlaskForm):
    reason = StringField("Why is it cancelled?", validators=[InputRequired(), Length(min=3, max=300)])


class OutcomeForm(FlaskForm):
    outcome = SelectField("What happened", choices=options(OUTCOMES.items()))
    reason = StringField("Why it is corrected", validators=[Optional(), Length(max=300)],
                         description="Needed to correct an outcome already recorded; the earlier one is kept.")


class HeldSessionForm(FlaskForm):
    """An integration session entered after it was held (prefix "held": its fields sit beside the
    booking form's on the course page)."""

    starts_at = ClinicDateTimeField("When it started", validators=[InputRequired()])
    minutes = WholeNumberField("Length (minutes)", validators=[Optional(), NumberRange(*MINUTES_RANGE)],
                           description="Leave empty for the clinic's default length of an integration session.")
    # no default: an entry after the fact says how it was held, and a preset answer would say it for them
    modality = RadioField("How it was held", choices=MODALITIES, validators=[InputRequired(
        "Say whether the session was held in person or by telehealth.")])
    attended = BooleanField("The patient attended this session", validators=[InputRequired(
        "Only a session the patient attended is entered here; book or mark the others.")])
    reason = StringField("Why it is entered afterwards", validators=[InputRequired(), Length(max=300)],
                         description="For example: a walk-in, or telehealth set up outside the app.")


class MoveAppointmentForm(FlaskForm):
    starts_at = ClinicDateTimeField("New date and time", validators=[InputRequired()])
    reason = StringField("Reason", validators=[Optional(), Length(max=300)])


class WorkingHoursForm(FlaskForm):
    weekday = SelectField("Day", coerce=int, choices=options(enumerate(
        ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"))))
    starts = TimeField("From", validators=[InputRequired()])
    ends = TimeField("Until", validators=[InputRequired()])


class TimeOffForm(FlaskForm):
    starts_at = ClinicDateTimeField("Away from", validators=[InputRequired()])
    ends_at = ClinicDateTimeField("Back at", validators=[InputRequired()])
    reason = StringField("Reason (not clinical)", validators=[Optional(), Length(max=120)])


class ExtraHoursForm(FlaskForm):
    # ids of their own: the availability page shows the time-off form's fields of the same names
    starts_at = ClinicDateTimeField("Working from", validators=[InputRequired()], id="extra-starts_at")
    ends_at = ClinicDateTimeField("Until", validators=[InputRequired()], id="extra-ends_at")
    reason = StringField("Note (not clinical)", validators=[Optional(), Length(max=120)], id="extra-reason")


class SessionTypeForm(FlaskForm):
    kind = SelectField("Session type", choices=options(KINDS.items()))
    default_minutes = WholeNumberField("Default length (minutes)",
                                   validators=[InputRequired(), NumberRange(*MINUTES_RANGE)])


class RoomForm(FlaskForm):
    name = StringField("Room name", validators=[InputRequired(), Length(max=60)])
