"""Every WTForms form of the app, with the route(s) that take it, who may submit it, and a
submission the app accepts (the baseline the fuzzer mutates field by field).

tests/security/test_form_fuzzing.py fails when a form class of the app is missing here, so a
new form cannot ship unfuzzed: add a Target for it (or, for a row form nested in another, a
line in SUBFORMS).
"""
from __future__ import annotations

import hashlib
import importlib
import itertools
import inspect
import pkgutil
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Callable

from wtforms import Form

import ketamine_integration
from tests.conftest import PASSWORD

from .clinic import Clinic, answer_data, form_time, ics, local, today
from .portal_world import CHOSEN, accept_data


def _another_stage(c: Clinic) -> str:
    """A decision-map stage the course is not at (moving to the current one is refused)."""
    from ketamine_integration.plans.services import current_stage
    current = c.make.query(lambda: current_stage(c.course))
    return "clarify" if current != "clarify" else "deepen"


@dataclass(frozen=True)
class Target:
    #: whose session submits it: a key of clinic.USERNAMES, "patient" (the portal), "tablet" (the patient
    #: handed a clinic tablet), or "anonymous"
    role: str
    url: Callable[[Clinic], str]
    #: a submission the app accepts while the record's state allows it (recomputed before each example)
    baseline: Callable[[Clinic], dict] = lambda c: {}
    #: the form's prefix; a callable for a form whose prefix names its record (one form per row of a page)
    prefix: str | Callable[[Clinic], str] = ""
    method: str = "POST"
    #: a file upload field: the baseline's file content is mutated as bytes
    upload: str | None = None
    #: the name the baseline's file is sent under (the busy-time import reads .ics, imports .csv)
    upload_name: str = "baseline.ics"
    extra: dict = field(default_factory=dict)

    def prefix_for(self, clinic: Clinic) -> str:
        """The prefix its fields carry, with its dash ("" for none)."""
        prefix = self.prefix(clinic) if callable(self.prefix) else self.prefix
        return f"{prefix}-" if prefix else ""


#: the reminder settings as an admin would save them (every kind by email and SMS, 48 h and 2 h before)
REMINDER_SETTINGS = {"sender": "Oak Street Clinic", "quiet_hours": "21:00-08:00", "clinic_address": "12 Oak Street",
                     "clinic_phone": "555-0100",
                     **{f"{kind}-{name}": value for kind in ("preparation", "dosing", "integration", "follow_up")
                        for name, value in (("offsets", "48h, 2h"), ("channels", ["email", "sms"]),
                                            ("wording", ""))}}


_IMPORTED = itertools.count(1)


def _import_csv() -> bytes:
    """A one-patient CSV whose person is new each time (a repeated one is refused as registered already)."""
    n = next(_IMPORTED)
    return f"given_name,family_name,date_of_birth\nImpa,Fictional{n:04d},1981-02-03\n".encode()


def _import_run() -> dict:
    content = _import_csv()
    return {"kind": "patients", "digest": hashlib.sha256(content).hexdigest(), "import_file": content}


def _note_path(c: Clinic, note: int) -> str:
    return f"/notes/{note}"


def shipped_forms():
    """The newest version of each shipped intake and consent form."""
    from ketamine_integration.domain.form_library import load_folder
    from ketamine_integration.shipped import shipped_folder
    return load_folder(shipped_folder("forms")).newest()


def form_key(cls) -> str:
    return f"{cls.__module__.removeprefix('ketamine_integration.')}.{cls.__name__}"


#: the protocol of the patient's course (tests/security/clinic.py) whose packet asks for each shipped form;
#: the others are every protocol's, signed on the IV course
FORM_PROTOCOLS = {"consent-im-ketamine": "im-ketamine-kap", "consent-sublingual-ketamine": "sublingual-ketamine-kap",
                  "consent-telehealth": "sublingual-ketamine-kap",
                  "consent-intranasal-esketamine": "esketamine-trd-rems"}


def answer_form_targets() -> dict[str, Target]:
    """Each shipped form's answer form (one class per form version), signed by the patient in the portal on
    a course of theirs whose packet asks for it: every answer valid, the typed name theirs."""
    from ketamine_integration.signed_forms.answer_form import answer_form_class
    targets = {}
    for form in shipped_forms():
        protocol = FORM_PROTOCOLS.get(form.id, "iv-ketamine-induction")
        targets[form_key(answer_form_class(form))] = Target(
            "patient", lambda c, f=form, p=protocol: f"/portal/forms/{c.forms_course(p)}/{f.id}",
            lambda c, f=form: answer_data(f, c.patient_name))
    return targets


TARGETS: dict[str, list[Target]] = {
    # -- accounts --------------------------------------------------------------------------
    "accounts.forms.LoginForm": [Target("anonymous", lambda c: "/login", lambda c: {
        "username": "nobody-here", "password": "not the password at all", "next": "/patients/"})],
    "accounts.forms.UserForm": [Target("admin", lambda c: f"/users/{c.users['victim']}/edit", lambda c: {
        "username": "fz-victim", "full_name": "Vic Tim", "credentials": "LCSW", "email": "vic@clinic.example",
        "phone": "555-0100 ext. 12", "roles": ["therapist"], "active": "y"})],
    "accounts.forms.NewUserForm": [Target("admin", lambda c: "/users/new", lambda c: {
        "username": "fz-new", "full_name": "New Person", "credentials": "", "email": "", "roles": ["staff"],
        "active": "y", "password": "quartz lantern velvet orbit 42", "confirm": "quartz lantern velvet orbit 42"})],
    "accounts.forms.PasswordResetForm": [Target("admin", lambda c: f"/users/{c.users['victim']}/password", lambda c: {
        "password": "quartz lantern velvet orbit 42", "confirm": "quartz lantern velvet orbit 42"})],
    "mfa.forms.PolicyForm": [Target("admin", lambda c: "/settings/two-step", lambda c: {
        "roles": ["admin", "staff", "therapist", "prescriber"]})],
    "mfa.forms.ResetAuthenticatorForm": [Target("admin", lambda c: f"/users/{c.users['victim']}/authenticator-reset",
                                                lambda c: {"reason": "Lost their phone on holiday"})],
    "audit.views.AuditFilterForm": [Target("admin", lambda c: "/audit/", lambda c: {
        "user": str(c.users["therapist"]), "patient": "", "action": "patient.view",
        "date_from": (today() - timedelta(days=7)).isoformat(), "date_to": today().isoformat()}, method="GET")],
    # -- the calendar's free slots (a GET: the slot's time, then the patient is picked) --------
    "outcomes.forms.OutcomesFilterForm": [Target("admin", lambda c: "/outcomes/", lambda c: {
        "quarter": f"{today().year}-Q{(today().month - 1) // 3 + 1}"}, method="GET")],
    "pages.calendar_booking.SlotForm": [Target("staff", lambda c: "/calendar/book", lambda c: {
        "starts_at": form_time(local(3, 10))}, method="GET", extra={"clinician": "1", "room": "1"})],
    # -- calendars ---------------------------------------------------------------------------
    "calendars.forms.FeedForm": [
        Target("therapist", lambda c: "/calendars/feeds", lambda c: {"label": "phone"}),
        Target("therapist", lambda c: f"/calendars/feeds/{c.feed}/revoke", lambda c: {"label": ""})],
    "calendars.forms.FeedIdentityForm": [Target("admin", lambda c: "/calendars/settings", lambda c: {
        "identity": "initials", "initials_understood": "y", "calendar_name": "Work diary"})],
    "clinic_settings.forms.FileNamesForm": [Target("admin", lambda c: "/settings/file-names",
                                                   lambda c: {"file_names": "mrn"})],
    "telehealth.forms.TelehealthSettingsForm": [Target("admin", lambda c: "/settings/telehealth", lambda c: {
        "template": "https://video.example.org/{appointment}", "in_feeds": "y"})],
    # -- notifications: the on-call address, a user's own settings ---------------------------
    "notifications.forms.OnCallForm": [Target("admin", lambda c: "/settings/notifications",
                                              lambda c: {"oncall_email": "oncall@clinic.example"})],
    "notifications.forms.AccountNotificationsForm": [Target("therapist", lambda c: "/account/notifications", lambda c: {
        "digest": "on", "digest_at": "07:30", "video_room_url": "https://video.example.org/own"})],
    # -- reminders: a patient's contact consent, the clinic's reminder settings ---------------
    "reminders.forms.ContactConsentForm": [Target("therapist", lambda c: f"/patients/{c.patient}/contact-consent",
                                                  lambda c: {"channel": "email", "decision": "withdraw",
                                                             "method": "phone"})],
    "reminders.forms.OptOutForm": [Target("staff", lambda c: f"/patients/{c.patient}/contact-consent/opt-out",
                                          lambda c: {"method": "written_form"}, prefix="opt_out")],
    "reminders.forms.ReminderSettingsForm": [Target("admin", lambda c: "/settings/reminders",
                                                    lambda c: REMINDER_SETTINGS)],
    "busy_times.forms.CalendarImportForm": [Target(
        "therapist", lambda c: f"/availability/{c.users['therapist']}/calendar-import",
        lambda c: {"calendar_file": ics((local(2, 9), local(2, 10)))}, upload="calendar_file")],
    # -- imports: a file checked (changes nothing), then imported with its digest ---------------
    "imports.forms.ImportCheckForm": [Target("staff", lambda c: "/imports/check", lambda c: {
        "kind": "patients", "import_file": _import_csv()}, upload="import_file", upload_name="patients.csv")],
    "imports.forms.ImportRunForm": [Target("staff", lambda c: "/imports/run", lambda c: _import_run(),
                                           upload="import_file", upload_name="patients.csv")],
    # -- patients and courses ------------------------------------------------------------------
    "patients.forms.PatientForm": [
        Target("staff", lambda c: "/patients/new", lambda c: {
            "given_name": "Newt", "family_name": "Fictional", "date_of_birth": "1985-02-03", "phone": "555-0100",
            "therapists": [str(c.users["therapist"])], "prescribers": [str(c.users["prescriber"])]}),
        Target("staff", lambda c: f"/patients/{c.patient}/edit", lambda c: {
            "given_name": "Fuzzy", "family_name": "Fictional", "date_of_birth": "1980-05-17", "phone": "555-0101",
            "emergency_contact_name": "Kin", "emergency_contact_phone": "555-0102",
            "therapists": [str(c.users["therapist"])], "prescribers": [str(c.users["prescriber"])],
            "nurses": [str(c.users["nurse"])], "version": c.version("patient", c.patient)})],
    "courses.forms.EnrolForm": [Target("staff", lambda c: f"/patients/{c.patient}/courses/new", lambda c: {
        "protocol": "im-ketamine-kap@4", "start_date": today().isoformat(), "indication": "Bipolar depression",
        "therapist": str(c.users["therapist"]), "prescriber": str(c.users["prescriber"])})],
    "courses.forms.PhaseForm": [Target("therapist", lambda c: f"/courses/{c.prep_course}/phase", lambda c: {
        "target": "experience", "reason": "Clearance confirmed by phone.", "override": "y",
        "version": c.version("course", c.prep_course)})],
    "courses.forms.PreparationForm": [Target("prescriber", lambda c: f"/courses/{c.prep_course}/preparation", lambda c: {
        "item": "medical_clearance", "completed_on": today().isoformat(), "note": "Cleared by GP"})],
    "courses.forms.VoidForm": [Target(
        "therapist", lambda c: f"/courses/{c.prep_course}/preparation/{c.preparation_record}/void",
        lambda c: {"reason": "Entered on the wrong course."})],
    # -- experience -----------------------------------------------------------------------------
    "experience.forms.PlanForm": [Target("staff", lambda c: f"/courses/{c.course}/dosing/plan", lambda c: {
        "first_start": form_time(local(3)), "days_between": "2", "count": "2", "clinician": str(c.users["prescriber"]),
        "room": str(c.room), "minutes": "", "reason": "Rebooked after travel."})],
    "experience.forms.RescheduleForm": [Target("staff", lambda c: f"/dosing/{c.planned_session}/reschedule",
                                               # 4 days after the session before it: inside the IV stage
                                               lambda c: {"planned_start": form_time(local(0, 15)),
                                                          "reason": "Patient asked."})],
    "experience.forms.CancelForm": [Target("staff", lambda c: f"/dosing/{c.planned_session}/cancel",
                                           lambda c: {"reason": "Patient unwell."})],
    "experience.forms.DosingRecordForm": [Target("prescriber", lambda c: f"/dosing/{c.draft_session}",
                                                 lambda c: c.record_data(c.draft_session))],
    "experience.forms.AddendumForm": [Target("prescriber", lambda c: f"/dosing/{c.signed_session}/addenda",
                                             lambda c: {"body": "Patient called: mild headache, resolved."})],
    "experience.forms.RemsSubmittedForm": [Target(
        "prescriber", lambda c: f"/dosing/{c.rems_signed_session}/rems-submitted",
        lambda c: {"submitted_on": today().isoformat()})],
    # -- notes ------------------------------------------------------------------------------------
    "notes.forms.NewNoteForm": [Target("therapist", lambda c: f"/courses/{c.course}/notes", lambda c: {
        "kind": "integration", "session_date": today().isoformat()}, prefix="note")],
    "notes.forms.PreparationNoteForm": [Target("therapist", lambda c: _note_path(c, c.draft_preparation_note),
                                               lambda c: c.preparation_data(c.draft_preparation_note))],
    "notes.forms.IntegrationNoteForm": [Target("therapist", lambda c: _note_path(c, c.draft_note),
                                               lambda c: c.integration_data(c.draft_note))],
    "notes.forms.StartDosingNoteForm": [Target("therapist", lambda c: f"/dosing/{c.kap_dose}/note")],
    "notes.forms.DosingNoteForm": [Target("therapist", lambda c: _note_path(c, c.draft_dosing_note),
                                          lambda c: c.dosing_note_data(c.draft_dosing_note))],
    "notes.forms.DiscardNoteForm": [Target("therapist", lambda c: f"/notes/{c.discardable_note}/discard",
                                           lambda c: {"confirm": "y", "version": c.version("note", c.discardable_note)},
                                           prefix="discard")],
    "notes.forms.ProcessNoteForm": [Target("therapist", lambda c: f"/notes/{c.signed_note}/process",
                                           lambda c: {"body": "My own reflections.", "version": ""})],
    "notes.forms.NoteAddendumForm": [Target("therapist", lambda c: f"/notes/{c.signed_note}/addenda",
                                            lambda c: {"body": "Correction: the walk is by the canal."})],
    "plans.forms.PlanForm": [Target("therapist", lambda c: f"/plans/{c.plan_draft()}",
                                    lambda c: c.plan_data(c.plan_draft()))],
    "plans.forms.PlanAddendumForm": [Target("therapist", lambda c: f"/plans/{c.signed_plan}/addenda",
                                            lambda c: {"body": "Later: prefers morning sessions."}, prefix="addendum")],
    "plans.forms.StageChangeForm": [Target("therapist", lambda c: (c.signed_plan, f"/courses/{c.course}/stage")[1],
                                           lambda c: {"stage": _another_stage(c), "reason": "Safety steady for weeks."},
                                           prefix="stage")],
    "plans.forms.StartRevisionForm": [Target("therapist", lambda c: (c.signed_plan,
                                                                     f"/courses/{c.course}/plan/revisions")[1])],
    "notes.forms.FormulationForm": [Target("therapist", lambda c: f"/courses/{c.course}/formulation", lambda c: {
        "presenting_concerns": "Low mood", "patterns": "Criticism -> withdrawal", "core_beliefs": "Not enough",
        "emotion_nervous_system": "", "development_context": "", "strengths": "Curious", "why_now": "Redundancy",
        "maintaining_factors": "Withdrawal keeps the low mood going", "what_might_help": "Activity scheduling",
        "revision": "0"})],
    # -- safety plans ------------------------------------------------------------------------
    "safety_plans.forms.SafetyPlanForm": [Target("therapist", lambda c: f"/patients/{c.patient}/safety-plan/edit",
                                                 lambda c: {**c.SAFETY_PLAN, "action": "save",
                                                            "version": c.safety_plan_version()})],
    "safety_plans.forms.SafetyPlanAddendumForm": [Target(
        "therapist", lambda c: f"/safety-plans/{c.safety_plan}/addenda", lambda c: {"body": "Dana's number changed"})],
    "safety_plans.forms.SafetyPlanReviewForm": [Target(
        "therapist", lambda c: c.safety_plan and f"/patients/{c.patient}/safety-plan/review", lambda c: {
            "reviewed_on": today().isoformat(), "with_patient": "yes", "changes": "none", "comment": "Read together"})],
    "notes.forms.PHQ9Form": [Target("therapist", lambda c: f"/courses/{c.course}/measures/phq9", lambda c: {
        "administered_on": today().isoformat(), **{f"item{n}": "1" for n in range(1, 10)},
        "difficulty": "somewhat"}, prefix="phq9")],
    "notes.forms.GAD7Form": [Target("therapist", lambda c: f"/courses/{c.course}/measures/gad7", lambda c: {
        "administered_on": today().isoformat(), **{f"item{n}": "2" for n in range(1, 8)}}, prefix="gad7")],
    # questions 3-5 are asked only after a yes to question 2 (the screener's skip logic)
    "notes.forms.CSSRSscreenerForm": [Target("therapist", lambda c: f"/courses/{c.course}/measures/cssrs", lambda c: {
        "administered_on": today().isoformat(), "item1": "1", "item2": "0", "item6": "0"}, prefix="cssrs")],
    # the outcome measures (issue 24, point 5): every item at its scale's middle answer
    "notes.forms.PCL5Form": [Target("therapist", lambda c: f"/courses/{c.course}/measures/pcl5", lambda c: {
        "administered_on": today().isoformat(), **{f"item{n}": "2" for n in range(1, 21)}}, prefix="pcl5")],
    "notes.forms.WSASForm": [Target("therapist", lambda c: f"/courses/{c.course}/measures/wsas", lambda c: {
        "administered_on": today().isoformat(), **{f"item{n}": "4" for n in range(1, 6)}}, prefix="wsas")],
    "notes.forms.WAISRForm": [Target("therapist", lambda c: f"/courses/{c.course}/measures/waisr", lambda c: {
        "administered_on": today().isoformat(), **{f"item{n}": "3" for n in range(1, 13)}}, prefix="waisr")],
    "notes.forms.AcknowledgeForm": [Target("therapist", lambda c: f"/alerts/{c.alert}/acknowledge",
                                           lambda c: {"note": "Called the patient; safety plan reviewed."})],
    "notes.forms.VoidMeasureForm": [Target("therapist", lambda c: f"/measures/{c.measure}/void",
                                           lambda c: {"reason": "Entered twice."})],
    "notes.forms.ThemeForm": [Target("admin", lambda c: "/themes/", lambda c: {"name": "Belonging"})],
    # -- practices ----------------------------------------------------------------------------------
    "practices.forms.PracticeForm": [Target("admin", lambda c: "/settings/practices",
                                            lambda c: {"name": "Gratitude letter"})],
    "practices.forms.PracticeToggleForm": [Target("admin", lambda c: "/settings/practices/toggle",
                                                  lambda c: {"practice": "journaling"})],
    "practices.forms.AssignPracticeForm": [Target("therapist", lambda c: f"/courses/{c.course}/practices",
                                                  lambda c: c.assign_data(), prefix="assign")],
    "practices.forms.EndAssignmentForm": [Target("therapist",
                                                 lambda c: f"/practice-assignments/{c.assignment}/end")],
    # -- coordination -------------------------------------------------------------------------------
    "coordination.forms.ReleaseForm": [Target("therapist", lambda c: f"/patients/{c.patient}/releases",
                                              lambda c: c.release_data())],
    "coordination.forms.RevokeForm": [Target("therapist", lambda c: f"/releases/{c.release}/revoke",
                                             lambda c: {"revoked_on": today().isoformat()})],
    "coordination.forms.NoteForm": [Target("therapist", lambda c: f"/courses/{c.shared_course}/coordination",
                                           lambda c: {"recipient": str(c.users["prescriber"]), "priority": "urgent",
                                                      "category": "response", "body": "PHQ-9 down by half."},
                                           extra={"follows": ""})],
    "coordination.forms.AcknowledgeNoteForm": [Target(
        "prescriber", lambda c: f"/coordination/{c.coordination_note}/acknowledge",
        lambda c: {"reply": "Thanks, noted."}, extra={"next_page": "worklist"})],
    "coordination.forms.ReportForm": [Target("therapist", lambda c: f"/courses/{c.shared_course}/reports",
                                             lambda c: {"recipient": str(c.users["prescriber"]),
                                                        "questions": "Booster?", "recommendations": "Keep spacing."})],
    # -- right of access: a request recorded and its copy made; the patient's own download ---------------
    "record_access.forms.RequestForm": [Target("therapist", lambda c: f"/patients/{c.patient}/record-access",
                                               lambda c: {"requested_by": "representative",
                                                          "representative_name": "Rowan Fictional",
                                                          "representative_authority": "Health care power of attorney",
                                                          "received_on": today().isoformat(), "delivery": "mail",
                                                          "delivery_note": "1 Example Lane"})],
    "record_access.forms.PortalDownloadForm": [Target("patient", lambda c: (c.course, "/portal/record/")[1])],
    # -- discharge summaries --------------------------------------------------------------------------
    "discharge.forms.StartForm": [Target("therapist", lambda c: f"/courses/{c.ended_course}/discharge")],
    "discharge.forms.DischargeForm": [Target("therapist", lambda c: f"/discharge/{c.discharge_draft}",
                                             lambda c: c.discharge_data(c.discharge_draft))],
    "discharge.forms.AddendumForm": [Target("therapist", lambda c: f"/discharge/{c.discharge_summary}/addendum",
                                            lambda c: {"body": "Booster discussed by phone."})],
    "discharge.forms.SendForm": [Target("therapist", lambda c: f"/discharge/{c.discharge_summary}/send",
                                        lambda c: (c.release, {"recipient": str(c.users["prescriber"])})[1])],
    # -- scheduling ----------------------------------------------------------------------------------
    "scheduling.forms.BookForm": [Target("staff", lambda c: f"/courses/{c.shared_course}/sessions",
                                         lambda c: c.booking_data(starts_at=form_time(local(2, 14))))],
    "scheduling.forms.CancelAppointmentForm": [Target("staff", lambda c: f"/appointments/{c.appointment}/cancel",
                                                      lambda c: {"reason": "Patient ill."})],
    "scheduling.forms.OutcomeForm": [Target("staff", lambda c: f"/appointments/{c.past_appointment}/outcome",
                                            lambda c: {"outcome": "attended"})],
    "scheduling.forms.HeldSessionForm": [Target(
        "therapist", lambda c: f"/courses/{c.shared_course}/sessions/held",
        lambda c: {"starts_at": form_time(local(-5, 14)), "minutes": "50", "modality": "telehealth",
                   "attended": "y", "reason": "Walk-in after a hard week"}, prefix="held")],
    "scheduling.forms.MoveAppointmentForm": [Target("staff", lambda c: f"/appointments/{c.appointment}/reschedule",
                                                    lambda c: {"starts_at": form_time(local(3, 15)),
                                                               "reason": "Clash."})],
    "scheduling.forms.WorkingHoursForm": [Target("staff", lambda c: f"/availability/{c.users['therapist']}/hours",
                                                 lambda c: {"weekday": "2", "starts": "09:00", "ends": "12:00"})],
    "scheduling.forms.TimeOffForm": [Target("staff", lambda c: f"/availability/{c.users['therapist']}/time-off",
                                            lambda c: {"starts_at": form_time(local(5, 9)),
                                                       "ends_at": form_time(local(5, 17)), "reason": "Training"})],
    "scheduling.forms.ExtraHoursForm": [Target(
        "staff", lambda c: f"/availability/{c.users['therapist']}/extra-hours",
        lambda c: {"starts_at": form_time(local(6, 9)), "ends_at": form_time(local(6, 13)), "reason": "Cover"})],
    "scheduling.forms.SessionTypeForm": [Target("admin", lambda c: "/session-types/",
                                                lambda c: {"kind": "integration", "default_minutes": "55"})],
    "scheduling.forms.RoomForm": [Target("admin", lambda c: "/rooms/", lambda c: {"name": "Willow Room"})],
    # -- signed intake and consent forms (issue 26): a withdrawal, a review, the pages' buttons -----------------
    "signed_forms.page_forms.PatientWithdrawalForm": [Target(
        "patient", lambda c: f"/portal/forms/signed/{c.signed_consent}/withdraw",
        lambda c: {"reason": "I want to think it over."})],
    "signed_forms.page_forms.StaffWithdrawalForm": [Target(
        "therapist", lambda c: f"/signed-forms/{c.signed_consent}/withdraw",
        lambda c: {"reason": "Called the clinic to withdraw."}, prefix=lambda c: f"withdraw-{c.signed_consent}")],
    "signed_forms.page_forms.FlagReviewForm": [Target(
        "prescriber", lambda c: f"/signed-forms/{c.signed_consent}/review",
        lambda c: {"note": "Answered the patient's questions by phone."},
        prefix=lambda c: f"review-{c.signed_consent}")],
    "signed_forms.page_forms.ButtonForm": [
        Target("prescriber", lambda c: f"/signed-forms/{c.countersign_consent}/countersign"),
        Target("therapist", lambda c: f"/courses/{c.tablet_course}/forms/tablet"),
        Target("tablet", lambda c: "/tablet/done"),
        Target("staff", lambda c: (c.hand_tablet_elsewhere(c.handed_course),
                                   f"/courses/{c.handed_course}/forms/tablet/end")[1])],
    **{key: [target] for key, target in answer_form_targets().items()},
    # -- the patient portal ------------------------------------------------------------------------
    "portal.forms.PortalSignInForm": [Target("anonymous", lambda c: "/portal/sign-in", lambda c: {
        "email": "nobody@fictional.invalid", "password": "not the password at all", "next": "/portal/"})],
    "portal.forms.AcceptForm": [Target("anonymous", lambda c: f"/portal/accept/{c.portal_invitation}",
                                       lambda c: accept_data())],
    # staff turn a patient's accepted portal account off (after the first example the account is off: later
    # ones are refused, changing nothing)
    "portal.forms.TurnOffForm": [Target("staff", lambda c: (c.portal_account,
                                                            f"/patients/{c.patient}/portal/turn-off")[1],
                                        lambda c: {"why": "The patient asked; phone lost"})],
    "portal.forms.PasswordChangeForm": [Target("patient", lambda c: "/portal/account/password", lambda c: {
        "current": PASSWORD, "password": CHOSEN, "confirm": CHOSEN}, prefix="password")],
    # the patient's questionnaires, at the course's baseline (the IV protocol asks the PHQ-9 and GAD-7 then;
    # it never asks the C-SSRS, whose answers are kept only when they raise an alert: a yes to question 1)
    "portal.questionnaire_forms.PortalPHQ9Form": [Target("patient", lambda c: f"/portal/questionnaires/{c.course}"
                                                         "/phq9/baseline", lambda c: {
        **{f"item{n}": "1" for n in range(1, 9)}, "item9": "0", "difficulty": "somewhat"})],
    "portal.questionnaire_forms.PortalGAD7Form": [Target("patient", lambda c: f"/portal/questionnaires/{c.course}"
                                                         "/gad7/baseline", lambda c: {
        **{f"item{n}": "2" for n in range(1, 8)}, "difficulty": "not"})],
    "portal.questionnaire_forms.PortalCSSRSscreenerForm": [Target(
        "patient", lambda c: f"/portal/questionnaires/{c.course}/cssrs/baseline", lambda c: {
            "item1": "1", "item2": "0", "item3": "", "item4": "", "item5": "", "item6": "0"})],
    # the outcome measures at the baseline of a course on the test protocol that asks them (no safety rule:
    # a refusal writes nothing)
    "portal.questionnaire_forms.PortalPCL5Form": [Target("patient", lambda c: f"/portal/questionnaires/"
                                                         f"{c.outcomes_course}/pcl5/baseline", lambda c: {
        f"item{n}": "1" for n in range(1, 21)})],
    "portal.questionnaire_forms.PortalWSASForm": [Target("patient", lambda c: f"/portal/questionnaires/"
                                                         f"{c.outcomes_course}/wsas/baseline", lambda c: {
        f"item{n}": "3" for n in range(1, 6)})],
    "portal.questionnaire_forms.PortalWAISRForm": [Target("patient", lambda c: f"/portal/questionnaires/"
                                                          f"{c.outcomes_course}/waisr/baseline", lambda c: {
        f"item{n}": "4" for n in range(1, 13)})],
    # the patient's log of a practice and check-in on an action step (their ids prefix only the fields' ids)
    "portal.log_forms.PracticeLogForm": [Target("patient", lambda c: f"/portal/practices/{c.assignment}", lambda c: {
        "outcome": "partly", "for_date": today().isoformat(), "note": "The bus was late"})],
    "portal.log_forms.StepCheckInForm": [Target("patient", lambda c: f"/portal/steps/{c.step}", lambda c: {
        "progress": "done", "for_date": today().isoformat(), "obstacles": ""})],
    # the patient's journal: two boxes of its one write form (a free entry, the journal belongs to the course,
    # and one left empty), then editing a private one
    "portal.journal_forms.JournalWriteForm": [Target("patient", lambda c: (c.course, "/portal/journal/")[1],
                                                     lambda c: {"entries-0-prompt": "free",
                                                                "entries-0-dosing_session_id": "",
                                                                "entries-0-text": "A quiet day by the water",
                                                                "entries-1-prompt": "free",
                                                                "entries-1-dosing_session_id": "",
                                                                "entries-1-text": ""})],
    "portal.journal_forms.JournalEditForm": [Target("patient", lambda c: f"/portal/journal/{c.journal_entry}/edit",
                                                    lambda c: {"text": "A quiet day by the river",
                                                               "version": c.version("journal", c.journal_entry)})],
}

#: row forms that exist only inside another form (FieldList / FormField): fuzzed as part of it
SUBFORMS = {
    "plans.forms.ObjectiveRowForm": "plans.forms.PlanForm",
    "plans.forms.TechniqueRowForm": "plans.forms.PlanForm",
    "reminders.forms.KindRuleForm": "reminders.forms.ReminderSettingsForm",
    "experience.forms.VitalsForm": "experience.forms.DosingRecordForm",
    "experience.forms.AdverseEventForm": "experience.forms.DosingRecordForm",
    "experience.forms.ResponseForm": "experience.forms.DosingRecordForm",
    "experience.forms.DischargeForm": "experience.forms.DosingRecordForm",
    "notes.forms.ThemeRowForm": "notes.forms.IntegrationNoteForm",
    "notes.forms.StepRowForm": "notes.forms.IntegrationNoteForm",
    "notes.forms.CheckInRowForm": "notes.forms.IntegrationNoteForm",
    "notes.forms.TechniqueRowForm": "notes.forms.FormulationForm",
    "notes.forms.TechniqueUseRowForm": "notes.forms.IntegrationNoteForm",
    "notes.forms.TechniqueResponseRowForm": "notes.forms.IntegrationNoteForm",
    "safety_plans.forms.ContactRowForm": "safety_plans.forms.SafetyPlanForm",
    "notes.forms.ObjectiveProgressRowForm": "notes.forms.IntegrationNoteForm",
    "portal.journal_forms.EntryBox": "portal.journal_forms.JournalWriteForm",
    "signed_forms.answer_form.MedicationRowForm": "signed_forms.answer_form.IntakeQuestionnaireV2AnswerForm",
}
#: base classes no view instantiates, with the reason
ABSTRACT = {"notes.forms.NoteBaseForm": "shared fields of the note forms; each note form is fuzzed",
            "signed_forms.answer_form.AnswerForm": "what every answer form does; each shipped form's class is fuzzed",
            "portal.log_forms._DayForm": "the per-copy ids of the portal's log and check-in forms; each is fuzzed"}
#: forms whose accepted submission changes only the portal session it was sent in (bookkeeping, which the
#: fuzzer's snapshot leaves out): the step they open is confirmed by a code, fuzzed as a code form
SESSION_ONLY_FORMS = {
    "portal.forms.FactorChoiceForm": "chooses the factor a pending sign-in enrols (portal_sessions.enrolling); "
                                     "tests/integration/test_portal_sign_in.py",
    "portal.forms.FactorChangeForm": "after the current password, asks for the new factor's code "
                                     "(portal_sessions.enrolling); tests/integration/test_portal_sign_in.py",
}
#: forms that check the rows of an uploaded file, never a request's fields: fuzzed through the upload
#: that carries them
FILE_ROW_FORMS = {
    "imports.patient_rows.ImportedPatientForm": "checks each row of a patients import; fuzzed as the file of "
                                                "imports.forms.ImportRunForm and ImportCheckForm, and "
                                                "tests/integration/test_imports.py (refused rows by field)",
}
#: forms whose only field is an authenticator code, with the suites that send them hostile input:
#: five wrong codes end the session on purpose, so this suite's signed-in session cannot fuzz them
CODE_FORMS = {
    "mfa.forms.TotpForm": "tests/integration/test_mfa.py (malformed codes refused without counting, "
                          "wrong codes counted) and tests/security/test_mfa_guessing.py",
    "mfa.forms.SignInCodeForm": "tests/security/test_mfa_guessing.py (40 guesses over 8 sign-ins, "
                                "0 accepted) and tests/integration/test_mfa.py",
    "portal.forms.PortalCodeForm": "tests/integration/test_portal_sign_in.py (wrong, expired and used codes refused "
                                   "and counted; five end the sign-in)",
}


def app_form_classes() -> dict[str, type]:
    """Every Form subclass defined in the app's modules, plus the measure forms that
    notes.forms.measure_form_class() and the portal's questionnaire_form_class() build at run time (one
    per questionnaire)."""
    found = {}
    for info in pkgutil.walk_packages(ketamine_integration.__path__, "ketamine_integration."):
        module = importlib.import_module(info.name)
        for _, cls in inspect.getmembers(module, inspect.isclass):
            if issubclass(cls, Form) and cls.__module__ == module.__name__:
                found[form_key(cls)] = cls
    from ketamine_integration.domain.measures import MEASURES
    from ketamine_integration.notes.forms import measure_form_class
    from ketamine_integration.portal.questionnaire_forms import questionnaire_form_class
    from ketamine_integration.signed_forms.answer_form import answer_form_class
    for key in MEASURES:
        for cls in (measure_form_class(key), questionnaire_form_class(key)):
            found[form_key(cls)] = cls
    for form in shipped_forms():  # the answer form of each shipped intake and consent form
        cls = answer_form_class(form)
        found[form_key(cls)] = cls
    return found
