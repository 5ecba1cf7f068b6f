"""Forms for planning a dosing series, recording and signing a session, addenda and REMS."""
from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import (FieldList, Form, FormField, HiddenField, RadioField, SelectField,
                     StringField, TextAreaField)
from wtforms.validators import InputRequired, Length, NumberRange, Optional

from ..domain.protocols import MEDICATIONS, ROUTES
from ..domain.vitals import DISCHARGE_CRITERIA, TIMEPOINTS
from ..web.fields import ClinicDateField, ClinicDateTimeField, FiniteDecimalField, WholeNumberField, options
from ..patients.forms import care_team_join_fields
from ..bookings.models import MINUTES_RANGE
from .models import SETTING_LABELS, SEVERITIES, VITAL_SOURCES, VITAL_TIMEPOINTS

#: an explicit yes or no: "not answered" must not read as "no"
YES_NO = options([("yes", "Yes"), ("no", "No")])


def _yes_no(value):
    if value in (None, "", True, False):
        return value if value in (True, False) else None
    if value in ("yes", "no"):
        return value == "yes"
    raise ValueError("Choose yes or no.")


SEVERITY_CHOICES = options([("", "—")] + [(s, s.capitalize()) for s in SEVERITIES])
#: fixed adverse-event rows on the form; empty rows are ignored
ADVERSE_EVENT_ROWS = 3
#: at most this many adverse events on one record (the form always keeps one empty row below the saved ones)
MAX_ADVERSE_EVENTS = 12


class PlanForm(care_team_join_fields("plan"), FlaskForm):
    first_start = ClinicDateTimeField("First session (date and time)", validators=[InputRequired()])
    days_between = WholeNumberField("Days between sessions", validators=[InputRequired(), NumberRange(0, 365)],
                                description="One stage of the protocol at a time: plan the next stage "
                                            "once this one is planned.")
    count = WholeNumberField("Number of sessions", validators=[InputRequired(), NumberRange(1, 100)])
    clinician = SelectField("Clinician running the sessions", coerce=int, validators=[InputRequired()])
    # shown only when the protocol allows dosing at home (sublingual KAP)
    setting = RadioField("Where", choices=options(list(SETTING_LABELS.items())), default="in_clinic",
                         validators=[Optional()],
                         description="Supervised at home: the clinician supervises by telehealth; no room is booked.")
    room = SelectField("Room", coerce=int, validators=[InputRequired()])
    minutes = WholeNumberField("Length of each session (minutes)", validators=[Optional(), NumberRange(*MINUTES_RANGE)],
                           description="Leave empty for the clinic's default length of a dosing session.")
    # an id of its own: the course page's phase form has a reason too
    reason = TextAreaField("Reason, if the plan breaks the protocol's spacing", id="plan-reason",
                           validators=[Optional(), Length(max=2000)])


class RescheduleForm(FlaskForm):
    planned_start = ClinicDateTimeField("New date and time", validators=[InputRequired()])
    reason = TextAreaField("Reason, if this breaks the protocol's spacing",
                           validators=[Optional(), Length(max=2000)])


class CancelForm(FlaskForm):
    reason = StringField("Why is this session cancelled?", validators=[InputRequired(), Length(min=5, max=300)])


class VitalsForm(Form):
    # Plain range checks here; plausibility (domain.dosing.VITAL_RANGES) is checked in the service.
    systolic = WholeNumberField("Systolic (mmHg)", validators=[Optional(), NumberRange(0, 400)])
    diastolic = WholeNumberField("Diastolic (mmHg)", validators=[Optional(), NumberRange(0, 300)])
    heart_rate = WholeNumberField("Heart rate (/min)", validators=[Optional(), NumberRange(0, 400)])
    spo2 = WholeNumberField("SpO2 (%)", validators=[Optional(), NumberRange(0, 200)])
    respiratory_rate = WholeNumberField("Respiratory rate (/min)", validators=[Optional(), NumberRange(0, 200)])
    source = SelectField("Taken by", choices=options([("", "—")] + list(VITAL_SOURCES.items())),
                         validators=[Optional()])


class ResponseForm(Form):
    """The clinical response to a flagged reading: what was done, who decided, the later reading."""

    action = TextAreaField("What was done", validators=[Optional(), Length(max=2000)])
    decided_by = SelectField("Who decided", coerce=int, validators=[Optional()])
    later_at = ClinicDateTimeField("Later reading taken at", validators=[Optional()])
    later_systolic = WholeNumberField("Later systolic (mmHg)", validators=[Optional(), NumberRange(0, 400)])
    later_diastolic = WholeNumberField("Later diastolic (mmHg)", validators=[Optional(), NumberRange(0, 300)])
    later_heart_rate = WholeNumberField("Later heart rate (/min)", validators=[Optional(), NumberRange(0, 400)])
    later_spo2 = WholeNumberField("Later SpO2 (%)", validators=[Optional(), NumberRange(0, 200)])
    later_respiratory_rate = WholeNumberField("Later respiratory rate (/min)",
                                          validators=[Optional(), NumberRange(0, 200)])


def _response_label(timepoint: str) -> str:
    return f"Clinical response to the flagged reading {TIMEPOINTS[timepoint].lower()}"


class DischargeForm(Form):
    """One explicit answer per discharge criterion (domain.vitals.DISCHARGE_CRITERIA); whether the
    vital signs are within range is read from the discharge reading, not asked."""


for _key, _label in DISCHARGE_CRITERIA.items():
    setattr(DischargeForm, _key, RadioField(_label, choices=YES_NO, coerce=_yes_no, validators=[Optional()]))


class AdverseEventForm(Form):
    #: which saved event this row shows (empty for a new one): a change keeps the earlier version
    event_id = HiddenField()
    event_type = StringField("Adverse event", validators=[Optional(), Length(max=60)])
    severity = SelectField("Severity", choices=SEVERITY_CHOICES, validators=[Optional()])
    action_taken = StringField("Action taken", validators=[Optional(), Length(max=300)])

    def validate(self, extra_validators=None) -> bool:
        valid = super().validate(extra_validators)
        # A severity nobody chose must not enter the record (checked across two fields, after
        # Optional() has had its say on each).
        if (self.event_type.data or "").strip() and not self.severity.data:
            self.severity.errors = list(self.severity.errors) + ["Choose the severity of this adverse event."]
            valid = False
        return valid


class DosingRecordForm(FlaskForm):
    started_at = ClinicDateTimeField("Dosing started", validators=[Optional()])
    ended_at = ClinicDateTimeField("Dosing ended", validators=[Optional()],
                                   description="The integration window is counted from here.")
    route = SelectField("Route", choices=options([(r, r.upper() if len(r) == 2 else r) for r in ROUTES]))
    medication = SelectField("Medication", choices=options([(m, m) for m in MEDICATIONS]))
    # No default and no suggested number: the hint states the protocol's usual doses, the prescriber decides.
    dose_mg = FiniteDecimalField("Dose (mg)", places=2, validators=[Optional(), NumberRange(0.01, 100000)])
    dose_reason = TextAreaField("Reason for a dose outside the protocol's usual doses",
                                validators=[Optional(), Length(max=2000)],
                                description="Needed only when the dose is outside the usual doses; kept on the "
                                            "record and in the audit log.")
    weight_kg = FiniteDecimalField("Weight used (kg)", places=1, validators=[Optional(), NumberRange(0, 1000)],
                                   description="Weight-based routes (IV, IM): mg/kg is computed from this.")
    lot_number = StringField("Lot number", validators=[Optional(), Length(max=40)])
    administered_by = SelectField("Administered by", coerce=int, validators=[Optional()])
    monitored_by = SelectField("Monitored by", coerce=int, validators=[Optional()])
    baseline = FormField(VitalsForm, label=VITAL_TIMEPOINTS["baseline"])
    post_40 = FormField(VitalsForm, label=VITAL_TIMEPOINTS["post_40"])
    discharge = FormField(VitalsForm, label=VITAL_TIMEPOINTS["discharge"])
    vitals_correction_reason = TextAreaField(
        "Why a saved reading is changed", validators=[Optional(), Length(max=2000)],
        description="Needed only when you change a reading already saved; the earlier reading stays on the record.")
    sedation = SelectField("Sedation observed", choices=SEVERITY_CHOICES, validators=[Optional()])
    dissociation = SelectField("Dissociation observed", choices=SEVERITY_CHOICES, validators=[Optional()])
    adverse_events = FieldList(FormField(AdverseEventForm), min_entries=ADVERSE_EVENT_ROWS,
                               max_entries=MAX_ADVERSE_EVENTS)
    adverse_events_change_reason = TextAreaField(
        "Why a saved adverse event is changed or removed", validators=[Optional(), Length(max=2000)],
        description="Needed only when you change or clear an adverse event already saved; the earlier version "
                    "stays on the record.")
    concomitant_sedating_medications = StringField("Concomitant sedating medications",
                                                   validators=[Optional(), Length(max=500)])
    discharged_at = ClinicDateTimeField("Discharged at", validators=[Optional()],
                                        description="Monitoring is counted from the start of dosing to here.")
    discharge_criteria = FormField(DischargeForm, label="Discharge criteria")
    #: one per timepoint; the page shows a timepoint's only when a reading there is flagged
    response_baseline = FormField(ResponseForm, label=_response_label("baseline"))
    response_post_40 = FormField(ResponseForm, label=_response_label("post_40"))
    response_discharge = FormField(ResponseForm, label=_response_label("discharge"))
    responses_change_reason = TextAreaField(
        "Why a saved clinical response is changed or cleared", validators=[Optional(), Length(max=2000)],
        description="Needed only when you change or clear what a saved response says (adding to it needs none); "
                    "the earlier response stays on the record.")
    ready_to_leave_at = ClinicDateTimeField(
        "REMS: when would the patient have been ready to leave without the 2-hour rule?",
        validators=[Optional()])
    vitals_acceptable_before_dosing = RadioField("REMS: vital signs acceptable before dosing", choices=YES_NO,
                                                 coerce=_yes_no, validators=[Optional()])
    vitals_acceptable_before_discharge = RadioField("REMS: vital signs acceptable before discharge",
                                                    choices=YES_NO, coerce=_yes_no, validators=[Optional()])
    spacing_reason = TextAreaField("Reason, if this date breaks the protocol's spacing",
                                   validators=[Optional(), Length(max=2000)])
    version = HiddenField()


class AddendumForm(FlaskForm):
    body = TextAreaField("Addendum", validators=[InputRequired(), Length(min=5, max=5000)],
                         description="Corrections and later observations; the signed record stays as it was.")


class RemsSubmittedForm(FlaskForm):
    submitted_on = ClinicDateField("Submitted to the REMS programme on", validators=[InputRequired()])
