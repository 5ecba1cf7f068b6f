"""Pages with several forms: every id once, every control named by a label (WCAG 1.3.1, 4.1.1).

The course page (its phase, preparation, dosing plan, booking and note forms) and the
availability page (hours, time off, extra hours, calendar upload) repeated field names such as
`reason` and `starts_at` as ids, so a label named two controls and the second had none; each
form's CSRF field repeated id="csrf_token" too.
"""
from datetime import date, datetime, timedelta, timezone
from io import BytesIO

import pytest

from tests.page_html import read_forms


@pytest.fixture
def clinic(make):
    ids = {"therapist": make.user("therapist", username="ther", full_name="Hazel Quint"),
           "prescriber": make.user("prescriber", username="pres", full_name="Orrin Vale"),
           "staff": make.user("staff", username="desk"),
           "admin": make.user("admin", username="boss")}
    ids["patient"] = make.patient(therapists=[ids["therapist"]], prescribers=[ids["prescriber"]])
    ids["course"] = make.course(ids["patient"], ids["therapist"], ids["prescriber"])
    # a course in its dosing series: each planned session adds its own move and cancel forms
    other = make.patient(therapists=[ids["therapist"]], prescribers=[ids["prescriber"]])
    ids["dosing_course"] = make.course(other, ids["therapist"], ids["prescriber"], phase="experience")
    make.dosing_plan(ids["dosing_course"], first_start=datetime.now(timezone.utc) + timedelta(days=3),
                     days_between=3, count=2)
    # two measures: each row of the measures table has its own void form
    def measures():
        from ketamine_integration.accounts.models import User
        from ketamine_integration.courses.models import TreatmentCourse
        from ketamine_integration.extensions import db
        from ketamine_integration.notes.services import record_measure
        course, by = db.session.get(TreatmentCourse, ids["dosing_course"]), db.session.get(User, ids["therapist"])
        for _ in range(2):
            record_measure(course, measure="phq9", answers=[1] * 9, difficulty=None, administered_on=date.today(),
                           by=by, today=date.today())
    make.run(measures)
    return ids


def _pages(clinic) -> list[tuple[str, str]]:
    """(who, path) of the pages showing several forms, as each kind of user sees them."""
    course, patient = f"/courses/{clinic['course']}", clinic["patient"]
    dosing = f"/courses/{clinic['dosing_course']}"
    return [("ther", course), ("pres", course), ("desk", course), ("ther", dosing), ("pres", dosing),
            ("ther", f"/availability/{clinic['therapist']}"), ("desk", f"/availability/{clinic['prescriber']}"),
            ("desk", f"/patients/{patient}/edit"), ("boss", f"/users/{clinic['admin']}/edit"),
            # the note and report forms; the measures' entry forms and a void form per row
            ("ther", f"{dosing}/coordination"), ("ther", f"{dosing}/measures"),
            # the consent form beside the opt-out form (both ask how the patient told the clinic);
            # the reminder settings' rows per kind of session
            ("desk", f"/patients/{patient}/contact-consent"), ("boss", "/settings/reminders"),
            # the daily summary's choice and time beside a clinician's video room; the on-call address
            ("ther", "/account/notifications"), ("boss", "/settings/notifications")]


def _check(html: str, where: str) -> int:
    forms = read_forms(html)
    assert forms.repeated_ids() == [], where
    assert forms.unlabelled() == [], where
    return len(forms.controls)


def test_every_id_is_unique_and_every_control_labelled(clinic, app, figures, databases):
    from tests.conftest import Auth

    checked = 0
    for who, path in _pages(clinic):
        client = app.test_client()
        Auth(app, client).login(who)
        response = client.get(path)
        assert response.status_code == 200, (who, path)
        checked += _check(response.get_data(as_text=True), f"{path} as {who}")
    figures.record("Form labels", "pages with several forms", f"{len(_pages(clinic))} pages, {checked} controls: "
                   "0 repeated ids, 0 unlabelled", engine=databases.name)


def test_a_refused_calendar_upload_keeps_ids_unique(clinic, auth):
    """The availability page answering a refused upload (422) shows the forms with an error."""
    auth.sign_in("ther")
    response = auth.post(f"/availability/{clinic['therapist']}/calendar-import",
                         {"calendar_file": (BytesIO(b"not a calendar"), "notes.ics")},
                         content_type="multipart/form-data")
    assert response.status_code == 422
    _check(response.get_data(as_text=True), "refused upload")


def test_hidden_fields_carry_no_id(clinic, auth, client):
    """Flask-WTF writes id="csrf_token" for each form: a page with five forms had five."""
    auth.sign_in("ther")
    html = client.get(f"/courses/{clinic['course']}").get_data(as_text=True)
    assert html.count('name="csrf_token"') >= 4 and 'id="csrf_token"' not in html


def test_the_import_report_with_its_confirmation_keeps_ids_unique(clinic, auth):
    """The import page after a check shows two forms, each with a file field: the check and the confirmation."""
    auth.sign_in("desk")
    response = auth.post("/imports/check", {"kind": "patients", "import_file": (BytesIO(
        b"given_name,family_name,date_of_birth\nLabel,Fictional,1981-01-01\n"), "patients.csv")},
        content_type="multipart/form-data")
    assert response.status_code == 200 and "Import 1 patient<" in response.get_data(as_text=True)
    _check(response.get_data(as_text=True), "import report")


def test_the_forms_pages_keep_ids_unique_and_every_control_labelled(clinic, app, make, figures, databases):
    """The packet page shows a review form and a withdrawal form per signed consent beside the countersign and
    in-clinic signing buttons; the portal's signing page of the intake questionnaire has its medication rows."""
    from tests.conftest import Auth

    course = clinic["course"]
    make.sign_packet(course, only=["consent-iv-ketamine", "consent-psychotherapy-integration"],
                     flagged=("read_and_understood",))
    checked, pages = 0, 0
    for who in ("pres", "ther", "desk"):
        client = app.test_client()
        Auth(app, client).login(who)
        response = client.get(f"/courses/{course}/forms")
        assert response.status_code == 200, who
        checked, pages = checked + _check(response.get_data(as_text=True), f"packet page as {who}"), pages + 1
    patient = Auth(app, app.test_client())
    patient.portal_sign_in(make.portal_account(clinic["patient"]))
    response = patient.client.get(f"/portal/forms/{course}/intake-questionnaire")
    assert response.status_code == 200
    checked, pages = checked + _check(response.get_data(as_text=True), "intake signing page"), pages + 1
    # refused: every answer's error tied to its control, ids still unique
    refused = patient.post(f"/portal/forms/{course}/intake-questionnaire", {"typed_name": "Someone Else"})
    assert refused.status_code == 422
    checked, pages = checked + _check(refused.get_data(as_text=True), "refused intake"), pages + 1
    figures.record("Form labels", "forms pages", f"{pages} pages, {checked} controls: 0 repeated ids, 0 unlabelled",
                   engine=databases.name)
