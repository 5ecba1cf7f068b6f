"""The admin's user management: create, change roles, disable, reset passwords."""
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
    auth.login("boss")
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
])
def test_invalid_user_form_shows_field_error_and_creates_nothing(admin, make, auth, field, value, message):
    data = dict(NEW_USER, **{field: value})
    if field == "password":
        data["confirm"] = value
    response = auth.post("/users/new", data)
    assert response.status_code == 422
    assert message in page_text(response)
    assert _user(make, "newtherapist") is None


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
