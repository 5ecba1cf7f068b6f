"""The admin's user management: create, change roles, disable, reset passwords."""
import re

import pytest
from sqlalchemy import select

from ketamine_integration.accounts.models import LoginSession, User
from ketamine_integration.extensions import db
from tests.conftest import PASSWORD, page_text

NEW_USER = {"username": "NewTherapist", "full_name": "Iris Newcombe", "credentials": "LCSW",
            "email": "iris@clinic.example.org", "roles": ["therapist"], "active": "y",
            "password": "a fine long passphrase", "confirm": "a fine long passphrase"}


@pytest.fixture
def admin(make, auth):
    admin_id = make.user("admin", username="boss")
    auth.sign_in("boss")
    return admin_id


def _user(make, username):
    return make.query(lambda: db.session.scalar(select(User).where(User.username == username)))


def test_admin_creates_a_user_who_can_sign_in(admin, make, auth, client, app):
    response = auth.post("/users/new", NEW_USER)
    assert response.status_code == 302
    user = _user(make, "newtherapist")
    assert user.roles == {"therapist"} and user.display_name == "Iris Newcombe, LCSW"
    assert user.password_hash.startswith("$argon2id$")
    other = app.test_client()
    from tests.conftest import Auth
    new_user = Auth(app, other)
    # A new account sets up its authenticator at its first sign-in (every role requires one by default).
    assert new_user.login("newtherapist", "a fine long passphrase").headers["Location"] == "/account/two-step/enrol"
    assert "Your recovery codes" in page_text(new_user.enrol())
    assert other.get("/").status_code == 200
    [row] = make.audit_rows(action="user.create")
    assert row.object_id == str(user.id)


@pytest.mark.parametrize("field, value, message", [
    ("username", "has space", "Use letters, digits, dots, dashes or underscores."),
    ("username", "boss", "That username is already taken."),      # case-insensitive clash
    ("password", "too short", "Use at least 12 characters"),
    ("confirm", "something else entirely", "The passwords differ."),
    ("roles", [], "Choose at least one role."),
    ("email", "nope", "Invalid email address."),
    ("phone", "call the desk", "Write a phone number"),                 # words, not a number
    ("phone", "555", "Write a phone number"),                           # too short to dial
    ("phone", "555-0100 ext. 1234567", "Write a phone number"),         # an extension of 7 digits
    ("phone", "5" * 41, "Field cannot be longer than 40 characters."),
    ("phone", "5550100\nx12", "Write a phone number"),                 # a line break before the extension
    ("phone", "5550100\x1cx12", "Write a phone number"),               # a control character there
    ("phone", "5550100\u2028x12", "Write a phone number"),             # a Unicode line separator there
    ("phone", "..........", "Write a phone number"),                    # no digit to dial
    ("phone", "(((((((", "Write a phone number"),
    ("phone", "555-01 x 1234", "Write a phone number"),                 # five digits, then an extension
    # the name is the PDFs' author in their XMP metadata, which XML cannot hold a control character in
    ("full_name", "Iris\x01Newcombe", "no control characters or line breaks"),
    ("full_name", "Iris\nNewcombe", "no control characters or line breaks"),
    ("full_name", "\u202eebmocweN sirI", "no control characters or line breaks"),  # reads reversed
    ("full_name", "Iris\uffffNewcombe", "no control characters or line breaks"),     # a noncharacter XML cannot hold
    ("full_name", "Iris\ufdd0Newcombe", "no control characters or line breaks"),
    ("credentials", "LCSW\x1b[31m", "no control characters or line breaks"),
    ("licence_number", "A\u2028B", "no control characters or line breaks"),
])
def test_invalid_user_form_shows_field_error_and_creates_nothing(admin, make, auth, field, value, message):
    data = dict(NEW_USER, **{field: value})
    if field == "password":
        data["confirm"] = value
    response = auth.post("/users/new", data)
    assert response.status_code == 422
    assert message in page_text(response)
    assert _user(make, "newtherapist") is None


@pytest.mark.parametrize("typed, kept", [
    ("(555) 010-0123", "(555) 010-0123"),       # a direct line
    (" 555-0100 ext. 12 ", "555-0100 ext. 12"),  # the clinic's number with an extension, spaces trimmed
    ("+1 555 010 0123 x7", "+1 555 010 0123 x7"),
    ("", None),                                  # none: documents give the clinic's phone
])
def test_a_work_phone_is_kept_as_typed(admin, make, auth, typed, kept):
    assert auth.post("/users/new", dict(NEW_USER, phone=typed)).status_code == 302
    assert _user(make, "newtherapist").phone == kept


def test_password_containing_the_username_is_refused(admin, auth):
    data = dict(NEW_USER, password="newtherapist-and-more", confirm="newtherapist-and-more")
    assert "must not contain the username" in page_text(auth.post("/users/new", data))


def test_admin_changes_roles(admin, make, auth):
    target = make.user("staff", username="desk")
    response = auth.post(f"/users/{target}/edit", {"username": "desk", "full_name": "Desk Person",
                                                   "roles": ["staff", "therapist"], "active": "y"})
    assert response.status_code == 302
    assert _user(make, "desk").roles == {"staff", "therapist"}


def test_admin_cannot_remove_their_own_admin_role(admin, make, auth):
    response = auth.post(f"/users/{admin}/edit", {"username": "boss", "full_name": "Boss",
                                                  "roles": ["staff"], "active": "y"})
    assert response.status_code == 422
    assert "cannot remove your own admin role" in page_text(response)
    assert _user(make, "boss").roles == {"admin"}


def test_password_reset_ends_the_users_sessions(admin, make, auth, app):
    target = make.user("staff", username="desk")
    from tests.conftest import Auth
    desk_client = app.test_client()
    Auth(app, desk_client).login("desk")
    assert desk_client.get("/").status_code == 200
    response = auth.post(f"/users/{target}/password",
                         {"password": "a brand new passphrase", "confirm": "a brand new passphrase"})
    assert response.status_code == 302
    assert desk_client.get("/").status_code == 302
    ended = make.query(lambda: db.session.scalars(
        select(LoginSession.end_reason).where(LoginSession.user_id == target)).all())
    assert ended == ["password_reset"]
    refused = Auth(app, app.test_client()).login("desk", PASSWORD)  # the old password
    assert refused.status_code == 422 and "not correct" in page_text(refused)


def test_unknown_user_is_404(admin, client):
    assert client.get("/users/424242/edit").status_code == 404


# -- privilege changes (issue 17, point 6) ---------------------------------------------------------

def _edit(auth, user_id, username, roles, **fields):
    return auth.post(f"/users/{user_id}/edit", {"username": username, "full_name": fields.pop("full_name", "Some One"),
                                                "roles": roles, "active": "y", **fields})


def test_a_role_change_is_audited_with_the_roles_before_and_after(admin, make, auth):
    target = make.user("staff", username="desk")
    assert _edit(auth, target, "desk", ["staff", "therapist"]).status_code == 302
    assert _edit(auth, target, "desk", ["therapist"], full_name="Renamed").status_code == 302
    assert _edit(auth, target, "desk", ["therapist"], full_name="Renamed again").status_code == 302
    rows = make.audit_rows(action="user.update")
    assert [(r.user_id, r.object_id, r.detail) for r in rows] == [
        (admin, str(target), "roles staff -> staff,therapist"),
        (admin, str(target), "roles staff,therapist -> therapist"),
        (admin, str(target), None),                          # no role changed: nothing to say
    ]


def test_a_new_users_roles_are_in_its_audit_row_and_on_the_users_page(admin, make, auth, client):
    """Creating an account grants its roles as surely as editing one: both are listed (an admin
    cannot slip a clinical account past the Users page by creating it instead of editing)."""
    assert auth.post("/users/new", NEW_USER).status_code == 302
    [row] = make.audit_rows(action="user.create")
    assert row.detail == "roles none -> therapist"
    listed = page_text(client.get("/users/")).split("Recent role changes", 1)[1]
    assert "new account" in listed and "Integration therapist" in listed


@pytest.mark.parametrize("role, label", [
    ("therapist", "Integration therapist"),   # reads clinical notes once on a care team
    ("prescriber", "Prescriber"),             # likewise
    ("staff", "Clinic staff"),                # reads every patient's details and schedule
    ("nurse", "Nurse"),                       # reads dosing records once on a care team
])
def test_an_admin_cannot_give_themselves_a_role_that_reads_patient_records(admin, make, auth, client, role, label,
                                                                           databases, figures):
    response = _edit(auth, admin, "boss", ["admin", role], full_name="Boss Renamed")
    assert response.status_code == 422
    assert f"You cannot give yourself the {label} role" in page_text(response)
    assert "another admin must grant it" in page_text(response)
    me = _user(make, "boss")
    assert me.roles == {"admin"} and me.full_name != "Boss Renamed"      # nothing changed
    assert [(r.outcome, r.detail) for r in make.audit_rows(action="user.update")] == [("failure", "refused: roles")]
    figures.record("Privilege changes", f"admin grants themselves {role}",
                   f"answer {response.status_code}, roles afterwards {sorted(me.roles)}", engine=databases.name)


def test_another_admin_may_grant_it_and_the_users_page_shows_the_change(admin, make, auth, client, app):
    make.user("admin", username="second", full_name="Sam Second")
    from tests.conftest import Auth
    second = Auth(app, app.test_client())
    second.login("second")
    assert _edit(second, admin, "boss", ["admin", "therapist"], full_name="Bo Boss").status_code == 302
    assert _user(make, "boss").roles == {"admin", "therapist"}
    # keeping a role one already holds is no grant: the boss may still edit their own details
    assert _edit(auth, admin, "boss", ["admin", "therapist"], full_name="Bo Boss").status_code == 302
    page = page_text(client.get("/users/"))
    assert "Recent role changes" in page
    changes = page[page.index("Recent role changes"):]
    assert "Bo Boss Clinic admin Clinic admin, Integration therapist Sam Second" in changes


def test_the_users_page_says_when_no_role_has_changed(admin, client):
    assert "No user's roles have been changed yet." in page_text(client.get("/users/"))


def test_an_admins_own_edit_page_says_before_saving_which_roles_they_cannot_grant_themselves(admin, make, client):
    """The rule above, said by the roles (and tied to them for screen readers) before a refused save."""
    other = make.user("admin", username="second")
    html = client.get(f"/users/{admin}/edit").get_data(as_text=True)
    hint = re.search(r'<fieldset aria-describedby="roles-hint">.*?<p class="hint" id="roles-hint">(.*?)</p>', html, re.S)
    assert hint is not None
    assert ("you cannot give yourself the Clinic staff, Integration therapist, Prescriber or Nurse role" in hint.group(1)
            and "another admin must grant them" in hint.group(1))
    # another admin's page needs no such hint: granting them any role is this admin's to do
    assert 'id="roles-hint"' not in client.get(f"/users/{other}/edit").get_data(as_text=True)


def test_action_links_sit_in_a_div_inside_an_ordinary_table_cell(admin, make, client):
    """Issue 21, point 5: `.actions {display: flex}` also hit `td.actions`, taking the cell out of the
    table's layout (the users table's last column stood apart from its row). No template gives a cell
    that class; the users table wraps its links in a div."""
    from pathlib import Path
    templates = Path(__file__).resolve().parents[2] / "templates"
    cells = [f"{p.relative_to(templates)}: {m}" for p in sorted(templates.rglob("*.html"))
             for m in re.findall(r"<t[dh]\b[^>]*\bclass=\"[^\"]*\bactions\b[^\"]*\"", p.read_text())]
    assert cells == []
    make.user("therapist", username="ther")
    html = client.get("/users/").get_data(as_text=True)
    assert html.count('<td><div class="actions">') == 2     # one per user: the admin and the therapist
