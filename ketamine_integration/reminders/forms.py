"""The forms of contact consent (patient page) and of the clinic's reminder settings."""
from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import Form, FormField, RadioField, SelectField, StringField
from wtforms.validators import InputRequired

from ..bookings.models import KINDS
from ..domain.reminders import CHANNELS
from ..web.fields import MultiCheckboxField, options
from .models import METHODS, STAFF_METHODS

DECISIONS = {"grant": "Consents to reminders on this channel", "withdraw": "Does not consent (withdrawn or refused)"}
_METHOD_CHOICES = options([("", "Choose…"), *((m, METHODS[m]) for m in STAFF_METHODS)])


class ContactConsentForm(FlaskForm):
    channel = RadioField("Channel", choices=options(CHANNELS.items()),
                         validators=[InputRequired("Choose email or text message.")])
    decision = RadioField("The patient's answer", choices=options(DECISIONS.items()),
                          validators=[InputRequired("Choose whether the patient consents.")])
    method = SelectField("How the patient told the clinic", choices=_METHOD_CHOICES,
                         validators=[InputRequired("Choose how the patient told the clinic.")])


class OptOutForm(FlaskForm):
    """Withdraws every channel at once: the patient wants no messages at all."""

    method = SelectField("How the patient told the clinic", choices=_METHOD_CHOICES,
                         validators=[InputRequired("Choose how the patient told the clinic.")])


class KindRuleForm(Form):
    """One kind of session's reminders (a row of ReminderSettingsForm, no CSRF of its own)."""

    offsets = StringField("When, before the start", description="e.g. 48h, 2h (30m to 7d, at most 4); "
                                                                "empty: no reminders")
    channels = MultiCheckboxField("Sent by", choices=options(CHANNELS.items()))
    wording = StringField("How the message names it", description="empty: “your appointment”")


class ReminderSettingsForm(FlaskForm):
    sender = StringField("Sender name", description="shown as who the message is from; no clinical word")
    quiet_hours = StringField("Quiet hours (clinic time)", description="e.g. 21:00-08:00; empty: none")
    clinic_address = StringField("Clinic address", description="where in-person appointments are")
    clinic_phone = StringField("Clinic phone number", description="given in every reminder to cancel or change, "
                               "and on the crisis page a patient sees after an answer that raises a safety alert")


for _kind, _label in KINDS.items():
    setattr(ReminderSettingsForm, _kind, FormField(KindRuleForm, label=_label))
