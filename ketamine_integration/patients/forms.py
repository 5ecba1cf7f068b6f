"""Patient registration and demographics forms."""
from __future__ import annotations

import re
from datetime import date

from flask_wtf import FlaskForm
from wtforms import BooleanField, HiddenField, SelectMultipleField, StringField
from wtforms.validators import Email, InputRequired, Length, Optional, Regexp, ValidationError

from ..accounts.forms import shown_text
from ..web.fields import ClinicDateField
from ..db.clinic_time import clinic_today
from .care_team import REASON_LENGTH, JoinRequest
from ..domain.text import written_length

#: a patient's or contact's phone: digits and + ( ) - . and spaces, 7 to 32 of them, the whole value (`\Z`,
#: not `$`, which lets a final line break through: it reached the documents that print the number)
_PHONE = re.compile(r"[0-9+()\-. ]{7,32}\Z")
#: digits a number to dial has at least: "......." or "(((((((" is none (the clinician's work phone's rule)
MIN_PHONE_DIGITS = 7


def patient_phone(form, field) -> None:
    """A number someone can dial (_PHONE, MIN_PHONE_DIGITS); ValidationError otherwise."""
    value = field.data or ""
    if not _PHONE.match(value) or sum(c.isdigit() for c in value) < MIN_PHONE_DIGITS:
        raise ValidationError(f"Use digits and + ( ) - . only, 7 to 32 characters, at least {MIN_PHONE_DIGITS} "
                              "of them digits.")


class PatientForm(FlaskForm):
    given_name = StringField("Given name", validators=[InputRequired(), Length(max=80), shown_text])
    family_name = StringField("Family name", validators=[InputRequired(), Length(max=80), shown_text])
    preferred_name = StringField("Preferred name", validators=[Optional(), Length(max=80), shown_text])
    date_of_birth = ClinicDateField("Date of birth", validators=[InputRequired()])
    mrn = StringField("MRN", validators=[Optional(), Length(max=32),
                                         Regexp(r"[A-Za-z0-9-]+\Z", message="Letters, digits and dashes only.")],
                      description="Leave empty to assign the next clinic number.")
    phone = StringField("Phone", validators=[Optional(), patient_phone])
    email = StringField("Email", validators=[Optional(), Email(), Length(max=254)])
    emergency_contact_name = StringField("Emergency contact", validators=[Optional(), Length(max=120), shown_text])
    emergency_contact_relationship = StringField("Relationship", validators=[Optional(), Length(max=60), shown_text])
    emergency_contact_phone = StringField("Emergency contact phone", validators=[Optional(), patient_phone])
    therapists = SelectMultipleField("Integration therapists", coerce=int, validators=[Optional()])
    prescribers = SelectMultipleField("Prescribers", coerce=int, validators=[Optional()])
    nurses = SelectMultipleField("Nurses", coerce=int, validators=[Optional()])
    team_reason = StringField("Reason for a care-team change", validators=[Optional(), Length(max=REASON_LENGTH[1])],
                              description="Needed when you add or remove a clinician: recorded in the audit "
                                          "trail with the change. Not clinical, e.g. 'covering while Dr Ames is away'.")
    #: the version the editor started from (optimistic locking)
    version = HiddenField()

    def validate_date_of_birth(self, field):
        if field.data and not date(1900, 1, 1) <= field.data <= clinic_today():
            raise ValidationError("Date of birth must be between 1900-01-01 and today.")

    def validate(self, extra_validators=None) -> bool:
        valid = super().validate(extra_validators)
        # A contact nobody can call is no emergency contact (checked across two fields).
        if self.emergency_contact_name.data and not self.emergency_contact_phone.data:
            self.emergency_contact_phone.errors = list(self.emergency_contact_phone.errors) + [
                "Add a phone number for the emergency contact."]
            valid = False
        return valid


def care_team_join_fields(form_name: str) -> type:
    """The optional pair a booking or planning form offers for a clinician outside the care team:
    ask for their membership, and say why (patients.care_team.admit_clinician). `form_name`
    keeps the fields' ids unique on the course page, which shows both forms."""

    class CareTeamJoinFields:
        join_care_team = BooleanField("Add this clinician to the care team", id=f"{form_name}-join_care_team",
                                      description="Only for a clinician not on the team yet: they will read this "
                                                  "patient's record from then on. Recorded with your reason.")
        # No Optional(): it would stop the chain before validate_join_reason sees an empty reason.
        join_reason = StringField("Reason for adding them", id=f"{form_name}-join_reason",
                                  validators=[Length(max=REASON_LENGTH[1])],
                                  description="Not clinical, e.g. 'covering while Dr Ames is on leave'.")

        def join_request(self) -> JoinRequest | None:
            return JoinRequest(reason=self.join_reason.data or "") if self.join_care_team.data else None

        def validate_join_reason(self, field):
            if self.join_care_team.data and written_length(field.data) < REASON_LENGTH[0]:
                raise ValidationError("Say why this clinician joins the care team.")

    return CareTeamJoinFields
