"""Every endpoint declares who may use it; a forgotten rule fails here, not in a clinic."""
import pytest

from ketamine_integration import create_app
from ketamine_integration.domain.permissions import PERMISSIONS
from ketamine_integration.web import access
from tests.databases import app_settings


@pytest.fixture(scope="module")
def bare_app():
    # Rules are declared at import time; no database is needed to read them.
    return create_app(app_settings("sqlite://"))


def undeclared_endpoints(app) -> list[str]:
    """Endpoints of the url_map whose rule is neither public, nor a sign-in step, nor a permission."""
    endpoints = {rule.endpoint for rule in app.url_map.iter_rules()}
    assert endpoints, "the url_map is empty"
    return sorted(e for e in endpoints if (rule := access.rule_for(app, e)) is None or not rule.declared)


def test_every_endpoint_in_the_url_map_has_an_access_rule(bare_app):
    assert undeclared_endpoints(bare_app) == []


def test_every_role_gated_endpoint_names_a_permission_of_the_table(bare_app):
    named = {access.rule_for(bare_app, r.endpoint).permission for r in bare_app.url_map.iter_rules()} - {None}
    assert named and named <= set(PERMISSIONS)


@pytest.mark.parametrize("rule", [
    access.AccessRule(),                        # a rule that says nothing: no permission, not public
    None,                                       # no rule at all
])
def test_the_check_flags_an_endpoint_without_a_permission(rule):
    # A throwaway endpoint on its own app: the url_map walk names it.
    app = create_app(app_settings("sqlite://"))
    app.add_url_rule("/throwaway", "throwaway", lambda: "secret")
    if rule is not None:
        access.allow_endpoint(app, "throwaway", rule)
    assert undeclared_endpoints(app) == ["throwaway"]


def test_a_permission_outside_the_table_is_refused_at_import():
    with pytest.raises(ValueError, match="notes.scribble"):
        access.permission("notes.scribble")


@pytest.mark.parametrize("endpoint, expected", [
    ("accounts.login", "public"),              # must be reachable before signing in
    ("home.healthz", "public"),                # load balancers probe it without a session
    ("static", "public"),                      # stylesheet on the sign-in page
    ("accounts.logout", "any signed-in user, or one half-way through signing in"),
    ("mfa.code", "any signed-in user, or one half-way through signing in"),   # the second sign-in step
    ("mfa.enrol", "any signed-in user, or one half-way through signing in"),
    ("mfa.overview", "account.own (Clinic admin, Clinic staff, Integration therapist, Prescriber, Nurse)"),
    ("mfa.reset", "users.manage (Clinic admin)"),            # clearing someone's authenticator
    ("mfa.policy", "users.manage (Clinic admin)"),
    ("home.home", "account.own (Clinic admin, Clinic staff, Integration therapist, Prescriber, Nurse)"),
    ("accounts.user_list", "users.manage (Clinic admin)"),    # users and roles are the admin's alone
    ("audit.event_list", "audit.read (Clinic admin)"),
    ("patients.patient_create", "patients.register (Clinic admin, Clinic staff)"),
    ("patients.patient_edit", "patients.register (Clinic admin, Clinic staff)"),
    ("patients.patient_archive", "patients.register (Clinic admin, Clinic staff)"),
    ("patients.patient_detail",
     "patients.read (Clinic admin, Clinic staff, Integration therapist, Prescriber, Nurse)"),
    # the care team reads a dosing record; the view lets prescribers and nurses save it (and a
    # therapist only where the protocol allows a therapist as monitor); signing is the prescriber's
    ("experience.dosing_record", "dosing.read (Integration therapist, Prescriber, Nurse)"),
    ("experience.dosing_sign", "dosing.sign (Prescriber)"),
    ("notes.note_edit", "notes.read (Integration therapist, Prescriber)"),
    ("scheduling.calendar_view", "schedule.read (Clinic admin, Clinic staff, Integration therapist, Prescriber, Nurse)"),
    ("scheduling.book_session", "schedule.book (Clinic admin, Clinic staff, Integration therapist, Prescriber)"),
    # the calendar's free slots open the booking; its blocks open an appointment (issue 21, point 2)
    ("scheduling.calendar_book", "schedule.book (Clinic admin, Clinic staff, Integration therapist, Prescriber)"),
    ("scheduling.appointment_detail",
     "schedule.read (Clinic admin, Clinic staff, Integration therapist, Prescriber, Nurse)"),
    # the patient portal: its own sign-in and its pages, which no staff login opens (issue 23)
    ("portal_sign_in.sign_in", "public"),
    ("portal_sign_in.accept", "public"),                      # the invitation link's token is the credential
    ("portal_sign_in.code", "a patient signed in to the portal, or half-way through its sign-in"),
    ("portal_sign_in.sign_out", "a patient signed in to the portal, or half-way through its sign-in"),
    ("portal.home", "a patient signed in to the portal"),
    ("portal.session_calendar", "a patient signed in to the portal"),
    ("portal.account", "a patient signed in to the portal"),
    ("portal_questionnaires.questionnaires", "a patient signed in to the portal"),
    ("portal_questionnaires.questionnaire", "a patient signed in to the portal"),
    ("portal_questionnaires.support", "a patient signed in to the portal"),
    ("portal_practices.practices", "a patient signed in to the portal"),
    ("portal_practices.practice", "a patient signed in to the portal"),
    ("portal_steps.steps", "a patient signed in to the portal"),
    ("portal_steps.step", "a patient signed in to the portal"),
    ("portal_journal.journal", "a patient signed in to the portal"),    # the patient's own journal, from the
    ("portal_journal.entry_edit", "a patient signed in to the portal"),  # session: no staff role reads a
    ("portal_journal.entry_share", "a patient signed in to the portal"),  # private entry
    ("portal_journal.entry_unshare", "a patient signed in to the portal"),
    # a patient's intake and consent forms (issue 26): their own, from the portal session; the clinic tablet
    # opens to the token of an in-clinic signing staff started, no login of either kind
    ("portal_forms.forms", "a patient signed in to the portal"),
    ("portal_forms.sign", "a patient signed in to the portal"),
    ("portal_forms.document_pdf", "a patient signed in to the portal"),
    ("portal_forms.withdraw", "a patient signed in to the portal"),
    ("tablet.forms", "a patient handed the clinic tablet for an in-clinic signing"),
    ("tablet.sign", "a patient handed the clinic tablet for an in-clinic signing"),
    ("tablet.done", "a patient handed the clinic tablet for an in-clinic signing"),
    # the packet page shows states to whoever sees the course; the answers (a signed form, its PDF) only to
    # the care team's therapists and prescribers
    ("signed_forms.packet", "patients.read (Clinic admin, Clinic staff, Integration therapist, Prescriber, Nurse)"),
    ("signed_forms.document", "forms.read_signed (Integration therapist, Prescriber)"),
    ("signed_forms.document_pdf", "forms.read_signed (Integration therapist, Prescriber)"),
    ("signed_forms.tablet_start", "forms.sign_in_clinic (Clinic staff, Integration therapist, Prescriber, Nurse)"),
    ("signed_forms.tablet_end", "forms.sign_in_clinic (Clinic staff, Integration therapist, Prescriber, Nurse)"),
    ("signed_forms.countersign", "forms.countersign (Clinic staff, Integration therapist, Prescriber)"),
    ("signed_forms.review", "forms.review_flags (Prescriber)"),
    ("signed_forms.withdraw", "forms.record_withdrawal (Clinic staff, Integration therapist, Prescriber)"),
    ("portal_invites.invite", "portal.invite (Clinic admin, Clinic staff, Integration therapist)"),
])
def test_sensitive_endpoints_have_the_intended_rule(bare_app, endpoint, expected):
    assert access.rule_for(bare_app, endpoint).describe() == expected


@pytest.mark.fresh_app  # registers a route: a used app refuses that
def test_an_endpoint_without_a_rule_is_refused(make, client, auth, app):
    # Fail closed: a view added without a decorator answers 403, even to an admin.
    app.add_url_rule("/undeclared", "undeclared", lambda: "secret")
    make.user("admin", username="root1")
    auth.sign_in("root1")
    response = client.get("/undeclared")
    assert response.status_code == 403
    assert "secret" not in response.get_data(as_text=True)
    [row] = make.audit_rows(action="access.denied")
    assert row.detail == "no access rule for endpoint undeclared"
