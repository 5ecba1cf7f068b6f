"""Audit completeness of refused submissions (ASVS 5.0 V16; HIPAA 164.312(b)): every form of
the app that acts on one patient's record, submitted by a permitted user with input it refuses,
writes exactly one audit row naming that patient: the refused action's durable row.

A refusal either re-renders the page it was posted from (422/409: the patient's name, care
team, course page...) or redirects back with a message; the request's transaction is rolled
back, so only a durable row survives. The second outside review found two re-renders that
wrote none (the enrolment form and the preparation checklist, issue 17 point 4). Forms come
from tests/security/form_targets.py, so a new form is classified here before it ships.
"""
from __future__ import annotations

from typing import Callable

from ketamine_integration.record_access.services import PORTAL_DAILY_LIMIT

from .clinic import Clinic, today
from .form_targets import TARGETS
from .test_audit_completeness import _last_id, _new_rows
from .test_form_fuzzing import _refused_by_message

SUITE = "Audit completeness"

#: forms that act on no existing patient's record, with the reason (key, index into TARGETS[key])
NO_PATIENT = {
    ("accounts.forms.LoginForm", 0): "signing in",
    ("accounts.forms.UserForm", 0): "a staff account",
    ("accounts.forms.NewUserForm", 0): "a staff account",
    ("accounts.forms.PasswordResetForm", 0): "a staff account's password",
    ("mfa.forms.PolicyForm", 0): "a clinic setting",
    ("mfa.forms.ResetAuthenticatorForm", 0): "a staff account's authenticator",
    ("audit.views.AuditFilterForm", 0): "the audit page's filter (a GET; audit.view is not patient data)",
    ("pages.calendar_booking.SlotForm", 0): "a free slot's time from the calendar's link (a GET); refused, it "
                                            "shows no patient, none being chosen yet",
    ("calendars.forms.FeedForm", 0): "the user's own feed address",
    ("calendars.forms.FeedForm", 1): "the user's own feed address",
    ("calendars.forms.FeedIdentityForm", 0): "a clinic setting",
    ("clinic_settings.forms.FileNamesForm", 0): "a clinic setting",
    ("telehealth.forms.TelehealthSettingsForm", 0): "a clinic setting",
    ("reminders.forms.ReminderSettingsForm", 0): "a clinic setting",
    ("notifications.forms.OnCallForm", 0): "a clinic setting",
    ("notifications.forms.AccountNotificationsForm", 0): "the user's own settings",
    ("busy_times.forms.CalendarImportForm", 0): "a clinician's busy time (its page shows no patient)",
    ("imports.forms.ImportCheckForm", 0): "a file of patients to register: checking it names nobody (import.check "
                                           "carries the file name and counts); no patient exists yet to name",
    ("imports.forms.ImportRunForm", 0): "a file of patients to register, refused whole before any exists",
    ("outcomes.forms.OutcomesFilterForm", 0): "the clinic outcomes page's filter (a GET; aggregates, no patient)",
    ("patients.forms.PatientForm", 0): "registering: a refused registration re-renders only what was typed; "
                                       "no patient exists yet to name",
    ("notes.forms.ThemeForm", 0): "the clinic's theme list",
    ("practices.forms.PracticeForm", 0): "the clinic's practice vocabulary",
    ("practices.forms.PracticeToggleForm", 0): "the clinic's practice vocabulary",
    ("scheduling.forms.WorkingHoursForm", 0): "a clinician's hours",
    ("scheduling.forms.TimeOffForm", 0): "a clinician's time off",
    ("scheduling.forms.ExtraHoursForm", 0): "a clinician's extra hours",
    ("scheduling.forms.SessionTypeForm", 0): "a clinic setting",
    ("scheduling.forms.RoomForm", 0): "a clinic setting",
    ("portal.forms.PortalSignInForm", 0): "a patient signing in to the portal (portal.sign_in_failure names the "
                                          "account when the address is known: test_portal_sign_in.py)",
    ("portal.forms.AcceptForm", 0): "an invitation link, before any account is the patient's: a refused password "
                                    "changes nothing and is shown again (test_portal_invitations.py)",
    ("signed_forms.page_forms.ButtonForm", 2): "the clinic tablet's Done: it always ends a live signing (the service "
                                               "audits forms.tablet_end); without one the device answers 403 and names "
                                               "nobody (test_signed_form_pages.py)",
}

#: how each patient form is made to fail, where an empty submission (required fields missing)
#: is accepted or stops before the form: the baseline with one value the form refuses
SPOILED: dict[tuple[str, int], Callable[[Clinic], dict]] = {
    # every field is optional: a stale revision (someone else's save in between) is refused
    ("notes.forms.FormulationForm", 0): lambda c: {"presenting_concerns": "x", "revision": "999"},
    ("coordination.forms.AcknowledgeNoteForm", 0): lambda c: {"reply": "x" * 5001, "next_page": "worklist"},
    ("experience.forms.DosingRecordForm", 0): lambda c: c.record_data(c.draft_session, version="999"),
    ("courses.forms.EnrolForm", 0): lambda c: {"protocol": "nope@1", "start_date": today().isoformat()},
    # the form is its button alone: a second draft of the course's plan is refused
    ("plans.forms.StartRevisionForm", 0): lambda c: (c.plan_draft(), {})[1],
    # the form is its button alone: starting a discharge summary started already is refused
    ("discharge.forms.StartForm", 0): lambda c: (c.post("therapist", f"/courses/{c.ended_course}/discharge", {}),
                                                 {})[1],
    # the form is its button alone: the patient's download once the day's downloads are used up is refused (429)
    ("record_access.forms.PortalDownloadForm", 0): lambda c: [
        c.post("patient", "/portal/record/", {}) for _ in range(PORTAL_DAILY_LIMIT)] and {},
    # the form is its button alone: ending an assignment ended already is refused
    ("practices.forms.EndAssignmentForm", 0): lambda c: (c.post("therapist", f"/practice-assignments/{c.assignment}/end",
                                                                {}), {})[1],
    # the form is its button alone: a countersignature given already is refused
    ("signed_forms.page_forms.ButtonForm", 0): lambda c: (c.post("prescriber", f"/signed-forms/{c.countersign_consent}/"
                                                                              "countersign", {}), {})[1],
    # the form is its button alone: an in-clinic signing of a course with nothing left to sign is refused
    ("signed_forms.page_forms.ButtonForm", 1): lambda c: (c.make.sign_packet(c.tablet_course), {})[1],
    # the form is its button alone: ending an in-clinic signing ended already is refused
    ("signed_forms.page_forms.ButtonForm", 3): lambda c: (c.post(
        "staff", f"/courses/{c.handed_course}/forms/tablet/end", {}), {})[1],
}


def patient_targets():
    return [(key, n) for key in sorted(TARGETS) for n in range(len(TARGETS[key])) if (key, n) not in NO_PATIENT]


def test_every_form_is_classified():
    every = {(key, n) for key in TARGETS for n in range(len(TARGETS[key]))}
    assert sorted(set(NO_PATIENT) - every) == [], "NO_PATIENT names forms form_targets.py no longer has"
    assert sorted(set(SPOILED) - every) == []
    assert not set(SPOILED) & set(NO_PATIENT)


def _failing_submission(clinic: Clinic, key: str, index: int) -> tuple[str, dict]:
    """The url and a submission it refuses (seeding whatever the url names first)."""
    target = TARGETS[key][index]
    url = target.url(clinic)
    values = SPOILED[(key, index)](clinic) if (key, index) in SPOILED else {}
    prefix = target.prefix_for(clinic)
    return url, {prefix + k: v for k, v in values.items()}


def test_each_refused_patient_form_writes_one_row_naming_its_patient(app, make, auth, databases, figures):
    clinic = Clinic(make, auth)
    problems, exact, cases = [], 0, patient_targets()
    for key, index in cases:
        url, data = _failing_submission(clinic, key, index)
        clinic.login(TARGETS[key][index].role)
        _refused_by_message(auth.client)  # earlier flashes are not this submission's
        last = _last_id(make)
        response = auth.post(url, data)
        # 429: a refusal for too many (the portal's record downloads), which changes nothing as 422 does
        refused = response.status_code in (409, 422, 429) or (response.status_code == 302
                                                          and _refused_by_message(auth.client))
        rows = _new_rows(make, last)
        name = f"{key.rsplit('.', 1)[-1]} POST {url}"
        if not refused:
            problems.append(f"{name}: not refused ({response.status_code}); the suite's failing input is stale")
        elif len(rows) != 1 or rows[0].patient_id != clinic.patient or rows[0].outcome == "success":
            problems.append(f"{name} -> {response.status_code}: {len(rows)} rows ("
                            + ", ".join(f"{r.action} {r.outcome} -> {r.patient_id}" for r in rows)
                            + f"), expected one refusal naming patient {clinic.patient}")
        else:
            exact += 1
    figures.record(SUITE, "refused patient forms", f"{len(cases)} patient forms submitted with input they refuse, "
                   f"{exact} with exactly one row naming the patient; {len(NO_PATIENT)} forms without a patient",
                   engine=databases.name)
    assert problems == [], "\n".join(problems)
    assert exact == len(cases)
