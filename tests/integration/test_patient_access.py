"""Role and care-team access to patient pages: who sees which patient, and who may change it."""

import pytest

from tests.conftest import page_text, todays_world


@pytest.fixture
def clinic(make):
    """One patient with a care team, and one user of each kind of access.
    Built once per day, worker and engine (reused_world) and loaded from its snapshot after."""
    return todays_world(make.app, "patient_access", lambda: _clinic_world(make))


def _clinic_world(make) -> dict:
    ids = {
        "admin": make.user("admin", username="admin1"),
        "staff": make.user("staff", username="staff1"),
        "therapist_on_team": make.user("therapist", username="ther_on"),
        "therapist_off_team": make.user("therapist", username="ther_off"),
        "prescriber_on_team": make.user("prescriber", username="pres_on"),
        "prescriber_off_team": make.user("prescriber", username="pres_off"),
        "nurse_on_team": make.user("nurse", username="nurse_on"),
        "nurse_off_team": make.user("nurse", username="nurse_off"),
    }
    ids["patient"] = make.patient(family_name="Caretested", therapists=[ids["therapist_on_team"]],
                                  prescribers=[ids["prescriber_on_team"]], nurses=[ids["nurse_on_team"]])
    ids["other_patient"] = make.patient(family_name="Elsewhere", therapists=[ids["therapist_off_team"]])
    return ids


USERNAMES = {"admin": "admin1", "staff": "staff1", "therapist_on_team": "ther_on",
             "therapist_off_team": "ther_off", "prescriber_on_team": "pres_on",
             "prescriber_off_team": "pres_off", "nurse_on_team": "nurse_on", "nurse_off_team": "nurse_off"}


@pytest.mark.parametrize("who, page, expected", [
    ("admin", "view", 200),                 # admin sees every patient's demographics
    ("staff", "view", 200),                 # front desk schedules every patient
    ("therapist_on_team", "view", 200),
    ("prescriber_on_team", "view", 200),
    ("therapist_off_team", "view", 403),    # not on the care team
    ("prescriber_off_team", "view", 403),
    ("admin", "edit", 200),
    ("staff", "edit", 200),
    ("therapist_on_team", "edit", 403),     # demographics are the registrars' job
    ("prescriber_on_team", "edit", 403),
    ("therapist_off_team", "edit", 403),
    ("nurse_on_team", "view", 200),         # a nurse sees their care-team patients
    ("nurse_off_team", "view", 403),        # ... and no others
    ("nurse_on_team", "edit", 403),         # demographics are not theirs either
])
def test_patient_page_access(clinic, auth, client, who, page, expected):
    auth.sign_in(USERNAMES[who])
    url = f"/patients/{clinic['patient']}" + ("/edit" if page == "edit" else "")
    response = client.get(url)
    assert response.status_code == expected
    if expected == 403:
        assert "Caretested" not in page_text(response)


@pytest.mark.parametrize("who", ["therapist_off_team", "prescriber_on_team", "therapist_on_team", "nurse_on_team"])
def test_clinicians_cannot_archive_or_restore(clinic, auth, client, who):
    auth.sign_in(USERNAMES[who])
    for action in ("archive", "restore"):
        assert auth.post(f"/patients/{clinic['patient']}/{action}", {}).status_code == 403


def test_clinician_list_shows_only_their_care_team(clinic, auth, client):
    auth.sign_in("ther_on")
    text = page_text(client.get("/patients/"))
    assert "Caretested" in text and "Elsewhere" not in text


def test_staff_list_shows_every_patient(clinic, auth, client):
    auth.sign_in("staff1")
    text = page_text(client.get("/patients/"))
    assert "Caretested" in text and "Elsewhere" in text


def test_signed_out_visitor_is_sent_to_sign_in(clinic, client):
    response = client.get(f"/patients/{clinic['patient']}")
    assert response.status_code == 302 and response.headers["Location"].startswith("/login")


def test_unknown_patient_is_404_not_500(clinic, auth, client):
    auth.sign_in("staff1")
    assert client.get("/patients/999999").status_code == 404


def test_denied_access_is_audited_with_the_patient(clinic, auth, client, make):
    auth.sign_in("ther_off")
    client.get(f"/patients/{clinic['patient']}")
    [row] = make.audit_rows(action="access.denied")
    assert (row.patient_id, row.outcome, row.user_id) == (clinic["patient"], "denied",
                                                          clinic["therapist_off_team"])


def test_home_page_caseload_lists_only_own_patients(clinic, auth, client):
    auth.sign_in("pres_on")
    text = page_text(client.get("/"))
    assert "Caretested" in text and "Elsewhere" not in text
