"""The safety plan's forms: the plan (list sections one item a line, contacts as rows of name and
phone), an addendum and a signed review."""
from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import BooleanField, FieldList, Form, FormField, HiddenField, RadioField, StringField, TextAreaField
from wtforms.validators import InputRequired, Length, Optional

from ..domain import safety_plans as rules
from ..web.fields import ClinicDateField, WrittenAtLeast, number_controls, options
from .models import REVIEW_CHANGES
from .services import ADDENDUM_MAXIMUM, ADDENDUM_MINIMUM, COMMENT_MAXIMUM

#: contact rows offered per contact section (empty rows are ignored)
CONTACT_ROWS = {"help_contacts": 4, "professionals": 5}
#: what a row of each contact section is, naming its controls ("Person to ask for help 3: phone")
CONTACT_NOUNS = {"help_contacts": "Person to ask for help", "professionals": "Professional or crisis line"}
LOCK_CONFIRMATION = ("I understand this revision will be locked: after signing, corrections are addenda or a "
                     "new revision")
LOCK_NOT_CONFIRMED = "Tick this box to confirm that the revision will be locked, then sign again."
#: a list section's textarea: lines at most times characters, with room for the line breaks
_LIST_LIMIT = rules.ITEMS_MAX * (rules.ITEM_MAX + 2)


def _strip(value):
    return value.strip() if isinstance(value, str) else value


class ContactRowForm(Form):
    name = StringField("Name", filters=[_strip], validators=[Optional(), Length(max=rules.NAME_MAX)])
    phone = StringField("Phone", filters=[_strip], validators=[Optional(), Length(max=rules.PHONE_MAX)])


def _list_field(key: str) -> TextAreaField:
    section = rules.BY_KEY[key]
    return TextAreaField(section.heading, validators=[Optional(), Length(max=_LIST_LIMIT)], description=section.hint)


def _contacts_field(key: str) -> FieldList:
    section = rules.BY_KEY[key]
    return FieldList(FormField(ContactRowForm), section.heading, min_entries=CONTACT_ROWS[key],
                     max_entries=CONTACT_ROWS[key])


class SafetyPlanForm(FlaskForm):
    warning_signs = _list_field("warning_signs")
    coping_strategies = _list_field("coping_strategies")
    distractions = _list_field("distractions")
    help_contacts = _contacts_field("help_contacts")
    professionals = _contacts_field("professionals")
    means_safety = _list_field("means_safety")
    reasons_for_living = _list_field("reasons_for_living")
    #: the edit token the form was opened on (models.edit_token)
    version = HiddenField()
    #: asked at each signing, like a note's, a treatment plan's and a discharge summary's
    confirm_lock = BooleanField(LOCK_CONFIRMATION)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for key, noun in CONTACT_NOUNS.items():  # the rows are fixed in number: named once here
            number_controls(getattr(self, key), noun)

    def plan_content(self) -> dict:
        """The plan as the service takes it: lists of lines and contact rows."""
        content = {key: rules.lines(getattr(self, key).data) for key in rules.LIST_SECTIONS}
        for key in rules.CONTACT_SECTIONS:
            content[key] = [{"name": row.form.name.data, "phone": row.form.phone.data} for row in getattr(self, key)]
        return content

    @classmethod
    def data_from(cls, plan: dict) -> dict:
        """A kept plan as the form's initial data."""
        data = {key: "\n".join(plan.get(key) or []) for key in rules.LIST_SECTIONS}
        data.update({key: list(plan.get(key) or []) for key in rules.CONTACT_SECTIONS})
        return data


class SafetyPlanAddendumForm(FlaskForm):
    body = TextAreaField("Addendum", filters=[_strip], validators=[
        InputRequired(), WrittenAtLeast(ADDENDUM_MINIMUM), Length(max=ADDENDUM_MAXIMUM)])


class SafetyPlanReviewForm(FlaskForm):
    reviewed_on = ClinicDateField("Reviewed on", validators=[InputRequired()])
    with_patient = RadioField("Reviewed with the patient", choices=options([("yes", "Yes"), ("no", "No")]),
                              validators=[InputRequired("Say whether the patient took part.")])
    changes = RadioField("Changes", choices=options(REVIEW_CHANGES.items()),
                         validators=[InputRequired("Say whether the review changed the plan.")])
    comment = TextAreaField("Comment (optional)", filters=[_strip],
                            validators=[Optional(), Length(max=COMMENT_MAXIMUM)])
