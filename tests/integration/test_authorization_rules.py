"""Every endpoint declares who may use it; a forgotten rule fails here, not in a clinic."""
import pytest

from ketamine_integration import create_app
from ketamine_integration.web import access
from tests.databases import app_settings


@pytest.fixture(scope="module")
def bare_app():
    # Rules are declared at import time; no database is needed to read them.
    return create_app(app_settings("sqlite://"))


def test_every_endpoint_in_the_url_map_has_an_access_rule(bare_app):
    endpoints = {rule.endpoint for rule in bare_app.url_map.iter_rules()}
    missing = sorted(e for e in endpoints if access.rule_for(bare_app, e) is None)
    assert endpoints, "the url_map is empty"
    assert missing == []


@pytest.mark.parametrize("endpoint, expected", [
    ("accounts.login", "public"),              # must be reachable before signing in
    ("home.healthz", "public"),                # load balancers probe it without a session
    ("static", "public"),                      # stylesheet on the sign-in page
    ("accounts.logout", "any signed-in user, or one half-way through signing in"),
    ("mfa.code", "any signed-in user, or one half-way through signing in"),   # the second sign-in step
    ("mfa.enrol", "any signed-in user, or one half-way through signing in"),
    ("mfa.overview", "any signed-in user"),
    ("mfa.reset", "Clinic admin"),            # clearing someone's authenticator
    ("mfa.policy", "Clinic admin"),
    ("home.home", "any signed-in user"),
    ("accounts.user_list", "Clinic admin"),    # users and roles are the admin's alone
    ("audit.event_list", "Clinic admin"),
    ("patients.patient_create", "Clinic admin, Clinic staff"),
    ("patients.patient_edit", "Clinic admin, Clinic staff"),
    ("patients.patient_archive", "Clinic admin, Clinic staff"),
    ("patients.patient_detail", "Clinic admin, Prescriber, Clinic staff, Integration therapist"),
])
def test_sensitive_endpoints_have_the_intended_rule(bare_app, endpoint, expected):
    assert access.rule_for(bare_app, endpoint).describe() == expected


def test_an_endpoint_without_a_rule_is_refused(make, client, auth, app):
    # Fail closed: a view added without a decorator answers 403, even to an admin.
    app.add_url_rule("/undeclared", "undeclared", lambda: "secret")
    make.user("admin", username="root1")
    auth.login("root1")
    response = client.get("/undeclared")
    assert response.status_code == 403
    assert "secret" not in response.get_data(as_text=True)
    [row] = make.audit_rows(action="access.denied")
    assert row.detail == "no access rule for endpoint undeclared"
