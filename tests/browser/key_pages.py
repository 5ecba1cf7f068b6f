"""The key pages of each role, in the demo clinic: one registry for the accessibility checks,
the page-width check and the screenshots.

The pages are opened in a copy of the demo clinic that `flask demo` builds once per run (the
same one the integration tests' `demo_clinic` marker copies), its users enrolled with the tests'
authenticator, a draft integration note added, so the note form has something to show, a session
moved, so an appointment's page has a history, and a calendar feed for everyone, so the feeds page
lists one with its Revoke button.

How to use it:

    with demo_clinic(browser_databases, tmp_path) as demo:      # the app served live
        for role in ROLES:
            sign_in_role(page, demo, role)                      # staff, the portal, or the tablet
            for key in pages_for(role):
                open_key_page(page, key, demo.ids[role])        # goes there (or submits the form)

`browser_databases` is the browser suite's fixture; outside pytest (a screenshot script, say)
`tests.databases.SQLiteDatabases(some_folder)` does the same, building the migrated template and
the demo there on first use. `registry()` lists every (role, KeyPage) pair; a KeyPage's `url(ids)`
gives its address from the role's `Ids`. A page reached by submitting a form (a preview) has
`submit`, which fills the form by its visible labels in Chromium, and `post`, the same submission
for the Flask test client (tests/browser/test_accessibility.py uses both).
"""
from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import date, timedelta

from sqlalchemy import select

from ketamine_integration import create_app
from ketamine_integration.accounts.models import User
from ketamine_integration.bookings.models import Appointment, AppointmentChange
from ketamine_integration.calendars.services import create_feed
from ketamine_integration.courses.models import TreatmentCourse
from ketamine_integration.db.errors import DomainError
from ketamine_integration.db.types import utcnow
from ketamine_integration.demo.clinic import DEMO_PASSWORD
from ketamine_integration.experience.models import DosingSession
from ketamine_integration.extensions import db
from ketamine_integration.mfa import totp
from ketamine_integration.mfa.services import begin_enrolment, confirm_enrolment
from ketamine_integration.notes.models import SessionNote
from ketamine_integration.plans.models import TreatmentPlan
from ketamine_integration.protocols.models import ProtocolVersion
from ketamine_integration.scheduling.services import reschedule_appointment
from tests.conftest import Auth, close_app
from tests.databases import app_settings
from tests.factories import TOTP_SECRET

#: the demo user who plays each role (therapist2 and prescriber2 share the course whose urgent
#: coordination note waits: the demo's busiest pair); "anonymous" is nobody signed in
USERS = {"admin": "admin", "staff": "staff1", "therapist": "therapist2", "prescriber": "prescriber2",
         "nurse": "nurse1"}
#: a demo patient signed in to the patient portal (issue 23): the first demo portal account
PATIENT = "patient"
#: a demo patient handed the clinic tablet (issue 26): staff start an in-clinic signing of a course whose forms
#: wait, on its confirmation step, and the browser goes to the patient (last: its final page ends the signing)
TABLET = "tablet"
ROLES = ("anonymous", *USERS, PATIENT, TABLET)
#: the shipped protocols; the two KAP ones have a therapist present at each dose
PROTOCOLS = ("iv-ketamine-induction", "im-ketamine-kap", "sublingual-ketamine-kap", "esketamine-trd-rems")
#: a course page per protocol shows the user's course of that protocol in the first phase found here
PHASE_PREFERENCE = ("experience", "integration", "maintenance", "preparation", "completed", "discontinued")

EVERYONE = ("admin", "staff", "therapist", "prescriber", "nurse")
KEEPERS = ("admin", "staff")
CLINICIANS = ("therapist", "prescriber")
CARE_TEAM = ("therapist", "prescriber", "nurse")


@dataclass(frozen=True)
class Ids:
    """The demo clinic's ids one role's pages are built from."""
    user: int                       #: the signed-in user
    therapist: int                  #: the coordination course's therapist (whose hours staff open)
    courses: dict[str, int]         #: protocol id -> the user's course of it, in its liveliest phase
    course: int                     #: the course with the urgent coordination note (experience phase)
    patient: int                    #: that course's patient
    dosing_signed: int              #: its newest signed dosing record
    dosing_planned: int             #: its next planned dosing session
    kap_dosing: int                 #: the newest signed dosing record of the role's IM KAP course
    note_signed: int                #: its newest signed integration note
    note_draft: int                 #: a draft integration note of the course's therapist
    prescriber: int                 #: the course's prescriber (the report preview is for them)
    appointment: int                #: a follow-up or preparation session moved once (its page shows the move)
    protocol_version: int           #: the esketamine protocol's version in use
    #: the patient role's questionnaire waiting to be completed (its page in the portal)
    portal_questionnaire: str = "/portal/questionnaires/"
    #: the portal patient's private journal entry (the patient role's ids only)
    journal_entry: int = 0
    #: the patient of that portal account (the staff role's ids only: the page to turn it off)
    portal_patient: int = 0
    #: the user's first course whose treatment plan has a second signed revision (the demo's, demo/plans.py)
    planned: int = 0
    #: a signed form of the coordination course (the clinicians' ids only)
    signed_form: int = 0
    #: the portal patient's first form waiting to be signed, else their forms (the patient role's ids only)
    portal_form: str = "/portal/forms/"
    #: a course of the demo whose forms wait to be signed: staff hand the clinic tablet over for it (staff's and
    #: the tablet role's ids)
    tablet_course: int = 0
    #: the tablet's page of that course's first form waiting (the tablet role's ids only)
    tablet_form: str = "/tablet/"


@dataclass(frozen=True)
class KeyPage:
    label: str
    url: Callable[[Ids], str]
    roles: tuple[str, ...]
    #: Chromium: fill and submit the form on `url` by its visible labels, leading to the page
    submit: Callable[["object", Ids], None] | None = None
    #: the Flask test client: the (url, form data) posted to reach the page (CSRF added by Auth)
    post: Callable[[Ids], tuple[str, dict]] | None = None
    status: int = 200


def _course_page(protocol: str) -> KeyPage:
    kind = {"im-ketamine-kap": " (KAP, intramuscular)", "sublingual-ketamine-kap": " (KAP, sublingual)",
            "esketamine-trd-rems": " (REMS)"}.get(protocol, "")
    return KeyPage(f"Course page, {protocol}{kind}", lambda i: f"/courses/{i.courses[protocol]}", EVERYONE)


def _preview_report(page, ids: Ids) -> None:
    form = page.locator("form", has=page.get_by_role("button", name="Preview"))
    form.get_by_label("For", exact=True).select_option(str(ids.prescriber))
    form.get_by_label("Questions for the prescriber").fill("Is the spacing still right?")
    form.get_by_role("button", name="Preview").click()


def _preview_course_end(page, ids: Ids) -> None:
    form = page.locator("form", has=page.get_by_role("button", name="Change phase"))
    form.get_by_label("Move to").select_option(label="Discontinued")
    form.get_by_label("Reason", exact=True).fill("The patient moved away; care continues elsewhere.")
    form.get_by_role("button", name="Change phase").click()


def _save_an_empty_entry(page, ids: Ids) -> None:
    page.locator("form.journal-write").get_by_role("button", name="Save in my journal").click()  # every box empty


def _return_the_tablet(page, ids: Ids) -> None:
    page.get_by_role("button", name="Done: return the tablet to the clinic").click()


def _refuse_a_representatives_request(page, ids: Ids) -> None:
    page.get_by_label("A personal representative named in the request").check()  # unnamed: refused
    page.get_by_label("Handed over in person (on paper or a device)").check()
    page.get_by_role("button", name="Make the copy (zip)").click()


#: every key page, with the roles that open it (by the permission table, domain/permissions.py)
KEY_PAGES: tuple[KeyPage, ...] = (
    KeyPage("Sign-in", lambda i: "/login", ("anonymous",)),
    KeyPage("Page not found", lambda i: "/no-such-page", ("anonymous",), status=404),
    KeyPage("Home", lambda i: "/", EVERYONE),
    KeyPage("Patients", lambda i: "/patients/", EVERYONE),
    KeyPage("Patient page", lambda i: f"/patients/{i.patient}", EVERYONE),
    *(_course_page(protocol) for protocol in PROTOCOLS),
    KeyPage("Course end preview", lambda i: f"/courses/{i.course}", CLINICIANS, submit=_preview_course_end,
            post=lambda i: (f"/courses/{i.course}/phase",
                            {"target": "discontinued", "reason": "The patient moved away; care continues elsewhere."})),
    KeyPage("Dosing record (signed)", lambda i: f"/dosing/{i.dosing_signed}", CARE_TEAM),
    KeyPage("Dosing record (planned: the form)", lambda i: f"/dosing/{i.dosing_planned}", CARE_TEAM),
    KeyPage("Dosing record, KAP course", lambda i: f"/dosing/{i.kap_dosing}", CARE_TEAM),
    KeyPage("Note form (draft)", lambda i: f"/notes/{i.note_draft}", ("therapist",)),
    KeyPage("Note (signed)", lambda i: f"/notes/{i.note_signed}", CLINICIANS),
    KeyPage("Process note", lambda i: f"/notes/{i.note_signed}/process", ("therapist",)),
    KeyPage("Measures", lambda i: f"/courses/{i.course}/measures", CLINICIANS),
    KeyPage("Action steps", lambda i: f"/courses/{i.course}/action-steps", CLINICIANS),
    KeyPage("Techniques used", lambda i: f"/courses/{i.course}/techniques", CLINICIANS),
    KeyPage("Formulation", lambda i: f"/courses/{i.course}/formulation", CLINICIANS),
    KeyPage("Treatment plan", lambda i: f"/courses/{i.course}/plan", ("therapist",)),  # therapists only (plans/)
    KeyPage("Treatment plan (signed, revised)", lambda i: f"/courses/{i.planned}/plan", ("therapist",)),
    KeyPage("Patient's themes", lambda i: f"/patients/{i.patient}/themes", CLINICIANS),
    KeyPage("Safety plan", lambda i: f"/patients/{i.patient}/safety-plan", CLINICIANS),
    KeyPage("Safety plan form", lambda i: f"/patients/{i.patient}/safety-plan/edit", ("therapist",)),
    KeyPage("Course forms", lambda i: f"/courses/{i.course}/forms", (*CLINICIANS, "staff")),
    KeyPage("Start in-clinic signing (the confirmation step)", lambda i: f"/courses/{i.tablet_course}/forms/tablet",
            ("staff",)),
    KeyPage("Signed form", lambda i: f"/signed-forms/{i.signed_form}", CLINICIANS),
    KeyPage("Coordination", lambda i: f"/courses/{i.course}/coordination", CLINICIANS),
    KeyPage("Coordination report preview", lambda i: f"/courses/{i.course}/coordination", ("therapist",),
            submit=_preview_report,
            post=lambda i: (f"/courses/{i.course}/report-preview",
                            {"recipient": str(i.prescriber), "questions": "Is the spacing still right?"})),
    KeyPage("Releases of information", lambda i: f"/patients/{i.patient}/releases",
            ("admin", "staff", "therapist", "prescriber")),
    KeyPage("Contact consent", lambda i: f"/patients/{i.patient}/contact-consent", ("staff", "therapist")),
    # right of access (issue 25, point 2): the copies made and the request form; a request refused on its fields
    KeyPage("Right of access", lambda i: f"/patients/{i.patient}/record-access", ("therapist",)),
    KeyPage("Right of access, a request refused", lambda i: f"/patients/{i.patient}/record-access", ("therapist",),
            submit=_refuse_a_representatives_request,
            post=lambda i: (f"/patients/{i.patient}/record-access", {
                "requested_by": "representative", "received_on": date.today().isoformat(), "delivery": "in_person"}),
            status=422),
    KeyPage("Prescriber worklist", lambda i: "/prescriber/", ("prescriber",)),
    KeyPage("REMS forms", lambda i: "/rems/", CLINICIANS),
    KeyPage("Staff worklist", lambda i: "/worklist", KEEPERS),
    KeyPage("Messages", lambda i: "/messages", KEEPERS),
    KeyPage("Appointment (moved)", lambda i: f"/appointments/{i.appointment}", KEEPERS),
    KeyPage("Calendar (week)", lambda i: "/calendar", EVERYONE),
    KeyPage("Calendar (day)", lambda i: "/calendar?view=day", EVERYONE),
    KeyPage("Auto-schedule", lambda i: "/schedule/auto", KEEPERS),
    KeyPage("My hours", lambda i: f"/availability/{i.user}", CLINICIANS),
    KeyPage("A therapist's hours", lambda i: f"/availability/{i.therapist}", KEEPERS),
    KeyPage("Calendar feeds", lambda i: "/calendars/", EVERYONE),
    KeyPage("Two-step sign-in", lambda i: "/account/two-step", EVERYONE),
    KeyPage("My notifications", lambda i: "/account/notifications", EVERYONE),
    KeyPage("Protocols", lambda i: "/protocols/", EVERYONE),
    KeyPage("Technique vocabulary", lambda i: "/protocols/techniques", EVERYONE),
    KeyPage("Intake and consent forms", lambda i: "/protocols/forms/", EVERYONE),
    KeyPage("Form (intake questionnaire)", lambda i: "/protocols/forms/intake-questionnaire/v1", EVERYONE),
    KeyPage("Form (IV ketamine consent)", lambda i: "/protocols/forms/consent-iv-ketamine/v1", EVERYONE),
    KeyPage("Protocol (esketamine, REMS)", lambda i: f"/protocols/esketamine-trd-rems/v{i.protocol_version}",
            EVERYONE),
    KeyPage("New patient", lambda i: "/patients/new", KEEPERS),
    KeyPage("Patient edit", lambda i: f"/patients/{i.patient}/edit", KEEPERS),
    KeyPage("Import patients or measures", lambda i: "/imports/", KEEPERS),
    KeyPage("Turn off a patient's portal account", lambda i: f"/patients/{i.portal_patient}/portal/turn-off",
            ("staff",)),
    KeyPage("Enrol in a course", lambda i: f"/patients/{i.patient}/courses/new",
            ("admin", "staff", "therapist", "prescriber")),
    KeyPage("Users", lambda i: "/users/", ("admin",)),
    KeyPage("New user", lambda i: "/users/new", ("admin",)),
    KeyPage("User edit", lambda i: f"/users/{i.therapist}/edit", ("admin",)),
    KeyPage("Password reset", lambda i: f"/users/{i.therapist}/password", ("admin",)),
    KeyPage("Authenticator reset", lambda i: f"/users/{i.therapist}/authenticator-reset", ("admin",)),
    KeyPage("Two-step policy", lambda i: "/settings/two-step", ("admin",)),
    KeyPage("Rooms", lambda i: "/rooms/", ("admin",)),
    KeyPage("Session types", lambda i: "/session-types/", ("admin",)),
    KeyPage("Reminder settings", lambda i: "/settings/reminders", ("admin",)),
    KeyPage("Theme vocabulary", lambda i: "/themes/", ("admin",)),
    KeyPage("Practice vocabulary", lambda i: "/settings/practices", ("admin",)),
    KeyPage("Telehealth links", lambda i: "/settings/telehealth", ("admin",)),
    KeyPage("Notifications", lambda i: "/settings/notifications", ("admin",)),
    KeyPage("Audit log", lambda i: "/audit/", ("admin",)),
    KeyPage("Clinic outcomes", lambda i: "/outcomes/", ("admin",)),
    # the patient portal (issue 23): its sign-in and a link that does not work, then the patient's pages
    KeyPage("Portal sign-in", lambda i: "/portal/sign-in", ("anonymous",)),
    KeyPage("Portal invitation link that does not work", lambda i: "/portal/accept/never-issued-link-0123456789",
            ("anonymous",), status=404),
    KeyPage("Portal home", lambda i: "/portal/", (PATIENT,)),
    KeyPage("Portal account", lambda i: "/portal/account", (PATIENT,)),
    KeyPage("Portal questionnaires", lambda i: "/portal/questionnaires/", (PATIENT,)),
    KeyPage("Portal questionnaire", lambda i: i.portal_questionnaire, (PATIENT,)),
    KeyPage("Portal practices", lambda i: "/portal/practices/", (PATIENT,)),
    KeyPage("Portal action steps", lambda i: "/portal/steps/", (PATIENT,)),
    KeyPage("Portal journal", lambda i: "/portal/journal/", (PATIENT,)),
    KeyPage("Portal journal, an empty entry refused", lambda i: "/portal/journal/", (PATIENT,),
            submit=_save_an_empty_entry,
            post=lambda i: ("/portal/journal/", {"entries-0-prompt": "free", "entries-0-text": ""}),
            status=422),
    KeyPage("Portal: your record", lambda i: "/portal/record/", (PATIENT,)),
    KeyPage("Portal forms", lambda i: "/portal/forms/", (PATIENT,)),
    KeyPage("Portal form to sign", lambda i: i.portal_form, (PATIENT,)),
    KeyPage("Portal journal entry to change", lambda i: f"/portal/journal/{i.journal_entry}/edit", (PATIENT,)),
    # the clinic tablet (issue 26, point 3): its list, a form to sign, then "Done" (the signing ends: last)
    KeyPage("Tablet: forms to sign", lambda i: "/tablet/", (TABLET,)),
    KeyPage("Tablet: a form to sign", lambda i: i.tablet_form, (TABLET,)),
    KeyPage("Tablet: returned (Done)", lambda i: "/tablet/", (TABLET,), submit=_return_the_tablet,
            post=lambda i: ("/tablet/done", {})),
    KeyPage("Tablet: no signing open", lambda i: "/tablet/", (TABLET,), status=403),
)


def pages_for(role: str) -> list[KeyPage]:
    return [key for key in KEY_PAGES if role in key.roles]


def registry() -> Iterator[tuple[str, KeyPage]]:
    """Every (role, key page) pair, role by role."""
    for role in ROLES:
        for key in pages_for(role):
            yield role, key


def open_key_page(page, key: KeyPage, ids: Ids):
    """Chromium to the key page (submitting its form when it has one); returns the response of
    the page's own document, whose status the caller checks and whose text is the served HTML."""
    if key.submit is None:
        return page.goto(key.url(ids))
    page.goto(key.url(ids))
    with page.expect_navigation() as navigation:
        key.submit(page, ids)
    return navigation.value


# -- the demo clinic behind them -------------------------------------------------------------------

@dataclass
class DemoClinic:
    live: object                    #: tests.browser.conftest.LiveServer
    ids: dict[str, Ids] = field(default_factory=dict)  #: role -> its ids
    #: the portal account the patient role signs in as (enrolled with the tests' authenticator)
    portal_account: int = 0

    @property
    def app(self):
        return self.live.app


@contextmanager
def demo_clinic(browser_databases, tmp_path) -> Iterator[DemoClinic]:
    """A copy of the demo clinic served live (tests/browser/conftest.py `serving`), its users
    enrolled with the tests' authenticator and a draft integration note added; yields it with
    each role's ids."""
    from tests.browser.conftest import serving

    app = create_app(app_settings(browser_databases.demo_copy()))
    app.instance_path = str(tmp_path)
    try:
        with app.app_context():
            _enrol_everyone()
            _give_everyone_a_feed()
            _move_a_session()
        with serving(app) as live:
            demo = DemoClinic(live)
            _add_draft_note(app)
            with app.app_context():
                demo.ids = {role: _ids_for(username) for role, username in USERS.items()}
                demo.ids["anonymous"] = demo.ids["staff"]  # the sign-in pages use none of them
                demo.portal_account, questionnaire = _enrol_a_patient()
                demo.ids["staff"] = replace(demo.ids["staff"], portal_patient=_patient_of(demo.portal_account))
                # nor do the portal's (the patient is the session's), but for the questionnaire waiting and
                # an entry of their own journal
                demo.ids[PATIENT] = replace(demo.ids["staff"], portal_questionnaire=questionnaire,
                                            journal_entry=_a_private_entry(demo.portal_account),
                                            portal_form=_a_form_to_sign(demo.portal_account))
                signed = _a_signed_form(demo.ids["therapist"].course)
                for role in ("therapist", "prescriber"):
                    demo.ids[role] = replace(demo.ids[role], signed_form=signed)
                course, form = _a_packet_waiting()
                demo.ids["staff"] = replace(demo.ids["staff"], tablet_course=course)
                demo.ids[TABLET] = replace(demo.ids["staff"], tablet_form=f"/tablet/forms/{form}")
            yield demo
    finally:
        close_app(app)


def _enrol_everyone() -> None:
    """Every demo user gets the tests' authenticator (the demo leaves enrolment to first sign-in)."""
    now = utcnow()
    for user in db.session.scalars(select(User)):
        begin_enrolment(user, secret=TOTP_SECRET)
        confirm_enrolment(user, totp.code_for_step(TOTP_SECRET, totp.step_at(now) - 1), now)
    db.session.commit()


def _patient_of(account_id: int) -> int:
    from ketamine_integration.portal.models import PortalAccount
    return db.session.get(PortalAccount, account_id).patient_id


def _enrol_a_patient() -> tuple[int, str]:
    """The first demo portal account whose patient has a questionnaire waiting (else the first),
    enrolled with the tests' authenticator (the demo leaves the second step to the patient's first
    sign-in); and the page of that questionnaire (else the list of them)."""
    from ketamine_integration.mfa.sealing import seal
    from ketamine_integration.notes.questionnaires import due_questionnaires
    from ketamine_integration.patients.models import Patient
    from ketamine_integration.portal.models import PortalAccount

    accounts = db.session.scalars(select(PortalAccount).where(PortalAccount.password_hash.is_not(None))
                                  .order_by(PortalAccount.id)).all()
    now = utcnow()
    waiting = {a.id: due_questionnaires(db.session.get(Patient, a.patient_id), now) for a in accounts}
    account = next((a for a in accounts if waiting[a.id]), accounts[0])
    account.second_factor, account.totp_secret_sealed = "totp", seal(TOTP_SECRET)
    db.session.commit()
    first = next(iter(waiting[account.id]), None)
    page = (f"/portal/questionnaires/{first.course_id}/{first.measure.key}/{first.asked.moment.key}" if first
            else "/portal/questionnaires/")
    return account.id, page


def _a_signed_form(course_id: int) -> int:
    """A signed form of the course (the demo's, else one signed now on the clinic tablet)."""
    from ketamine_integration.signed_forms.models import SignedForm
    from tests.factories import sign_a_waiting_form

    signed = db.session.scalar(select(SignedForm.id).where(SignedForm.course_id == course_id).order_by(SignedForm.id)
                               .limit(1))
    if signed is None:
        signed = sign_a_waiting_form(db.session.get(TreatmentCourse, course_id)).id
        db.session.commit()
    return signed


def _a_packet_waiting() -> tuple[int, str]:
    """The first course of the demo, going on, whose packet has a form waiting for the patient's signature: its
    id, and that form's."""
    from ketamine_integration.portal.signing import left_to_sign
    from ketamine_integration.signed_forms.services import packet_status

    for course in db.session.scalars(select(TreatmentCourse).order_by(TreatmentCourse.id)):
        waiting = left_to_sign(packet_status(course)) if not course.current_phase.ended else []
        if waiting:
            return course.id, waiting[0].form_id
    raise AssertionError("no course of the demo has a form waiting to be signed")


def _a_form_to_sign(account_id: int) -> str:
    """The portal patient's first form waiting for their signature on their current course, else their forms."""
    from ketamine_integration.courses.services import current_course
    from ketamine_integration.portal.models import PortalAccount
    from ketamine_integration.portal.signing import left_to_sign
    from ketamine_integration.signed_forms.services import packet_status

    course = current_course(db.session.get(PortalAccount, account_id).patient_id)
    waiting = left_to_sign(packet_status(course)) if course is not None else []
    return f"/portal/forms/{course.id}/{waiting[0].form_id}" if waiting else "/portal/forms/"


def _a_private_entry(account_id: int) -> int:
    """A private entry in the portal patient's journal, written as the portal's page writes it (the demo's
    journals may belong to other patients)."""
    from ketamine_integration.journal.services import write_entry
    from ketamine_integration.portal.models import PortalAccount

    patient = db.session.get(PortalAccount, account_id).patient
    entry = write_entry(patient, prompt="free", text="Slept well. Walked by the water and noticed the birds.",
                        now=utcnow())
    db.session.commit()
    return entry.id


def sign_in_role(page, demo: DemoClinic, role: str) -> None:
    """Chromium signed in as the role's demo user (the patient: to the portal; the tablet: staff start an
    in-clinic signing on its confirmation step, and the browser is the patient's); nobody for anonymous."""
    from playwright.sync_api import expect

    from tests.browser.conftest import sign_in, sign_in_patient

    if role == PATIENT:
        sign_in_patient(page, demo.portal_account)
    elif role == TABLET:
        sign_in(page, USERS["staff"], DEMO_PASSWORD, at=f"/courses/{demo.ids[TABLET].tablet_course}/forms/tablet")
        page.get_by_role("button", name="Sign me out and hand over this device").click()
        expect(page.get_by_role("heading", level=1, name="Forms to sign")).to_be_visible()
    elif role != "anonymous":
        sign_in(page, USERS[role], DEMO_PASSWORD)


def auth_for(demo: DemoClinic, role: str) -> Auth:
    """A Flask test client signed in as the role (as sign_in_role, without the browser)."""
    auth = Auth(demo.app, demo.app.test_client())
    if role == PATIENT:
        auth.portal_sign_in(demo.portal_account)
    elif role == TABLET:
        auth.sign_in(USERS["staff"])
        handed = auth.post(f"/courses/{demo.ids[TABLET].tablet_course}/forms/tablet", {})
        assert handed.status_code == 302 and handed.headers["Location"] == "/tablet/", handed.status_code
    elif role != "anonymous":
        auth.sign_in(USERS[role])
    return auth


def _give_everyone_a_feed() -> None:
    for user in db.session.scalars(select(User)):
        create_feed(user, "Phone")
    db.session.commit()


def _move_a_session() -> None:
    """The clinic's next follow-up or preparation session moved by staff an hour or so (the first
    move its clinician's hours allow; those kinds have no window to keep to, and the demo books them
    from the next day on, whatever the time of the run)."""
    staff = db.session.scalar(select(User).where(User.username == USERS["staff"]))
    now = utcnow()
    booked = db.session.scalars(select(Appointment.id).where(
        Appointment.kind.in_(("follow_up", "preparation")), Appointment.status == "booked",
        Appointment.starts_at > now).order_by(Appointment.starts_at)).all()
    for appointment_id in booked:
        for hours in (1, -1, 2, -2, 24):
            appointment = db.session.get(Appointment, appointment_id)
            try:
                reschedule_appointment(appointment, starts_at=appointment.starts_at + timedelta(hours=hours), by=staff,
                                       now=now, reason="The patient asked to come at another time")
            except DomainError:
                db.session.rollback()
                continue
            db.session.commit()
            return
    raise AssertionError("no follow-up or preparation session of the demo could be moved")


def _coordination_course() -> TreatmentCourse:
    therapist, prescriber = (db.session.scalar(select(User.id).where(User.username == USERS[r]))
                             for r in ("therapist", "prescriber"))
    return db.session.scalars(select(TreatmentCourse).where(
        TreatmentCourse.therapist_id == therapist, TreatmentCourse.prescriber_id == prescriber,
        TreatmentCourse.phase == "experience").order_by(TreatmentCourse.id)).first()


def _add_draft_note(app) -> None:
    """A draft integration note on the coordination course, started as its therapist would."""
    auth = Auth(app, app.test_client())
    auth.sign_in(USERS["therapist"])
    with app.app_context():
        course = _coordination_course().id
    response = auth.post(f"/courses/{course}/notes", {"note-kind": "integration",
                                                       "note-session_date": date.today().isoformat()})
    assert response.status_code == 302, response.get_data(as_text=True)[-2000:]


def _ids_for(username: str) -> Ids:
    user = db.session.scalar(select(User).where(User.username == username))
    sees_all = user.can("patients.read_all")
    rows = db.session.execute(select(TreatmentCourse, ProtocolVersion.protocol_id, ProtocolVersion.version)
                              .join(ProtocolVersion).order_by(TreatmentCourse.id)).all()
    courses = {}
    for protocol in PROTOCOLS:
        mine = [c for c, p, _v in rows if p == protocol
                and (sees_all or user.id in (c.therapist_id, c.prescriber_id)
                     or any(m.user_id == user.id for m in c.patient.care_team))]
        courses[protocol] = min(mine, key=lambda c: PHASE_PREFERENCE.index(c.phase)).id
    course = _coordination_course()
    sessions = db.session.scalars(select(DosingSession).where(DosingSession.course_id == course.id)
                                  .order_by(DosingSession.sequence)).all()
    kap_signed = db.session.scalars(select(DosingSession.id).where(
        DosingSession.course_id == courses["im-ketamine-kap"], DosingSession.status == "signed")
        .order_by(DosingSession.sequence.desc())).first()
    moved = db.session.scalar(select(Appointment.id).where(Appointment.changes.any(AppointmentChange.change
                                                                                   == "rescheduled")))
    notes = db.session.scalars(select(SessionNote).where(SessionNote.course_id == course.id,
                                                         SessionNote.kind == "integration")
                               .order_by(SessionNote.id)).all()
    return Ids(
        user=user.id, therapist=course.therapist_id, courses=courses, course=course.id, patient=course.patient_id,
        dosing_signed=[s.id for s in sessions if s.status == "signed"][-1],
        dosing_planned=next(s.id for s in sessions if s.status == "planned"), kap_dosing=kap_signed,
        note_signed=[n.id for n in notes if n.status == "signed"][-1],
        note_draft=next(n.id for n in notes if n.status == "draft"), prescriber=course.prescriber_id,
        appointment=moved, planned=_revised_plan_course(user.id),
        protocol_version=next(v for _c, p, v in rows if p == "esketamine-trd-rems"))


def _revised_plan_course(user_id: int) -> int:
    """The first of the user's courses (they are its therapist) with a second signed plan revision; 0: none."""
    return db.session.scalar(select(TreatmentPlan.course_id).join(TreatmentCourse).where(
        TreatmentCourse.therapist_id == user_id, TreatmentPlan.status == "signed", TreatmentPlan.revision == 2)
        .order_by(TreatmentPlan.course_id).limit(1)) or 0


def slug(role: str, key: KeyPage) -> str:
    """A file name part for a role's key page: 'therapist-course-page-im-ketamine-kap-kap-intramuscular'."""
    return f"{role}-" + re.sub(r"[^a-z0-9]+", "-", key.label.lower()).strip("-")
