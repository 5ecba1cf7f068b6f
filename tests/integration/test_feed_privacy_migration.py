"""Migration 0051: a stored "initials" feed setting stays only where the audit trail shows an admin
chose it over "session type only"; otherwise the clinic falls to the new default."""
import pytest
from flask_migrate import downgrade, upgrade
from sqlalchemy import text

from ketamine_integration.clinic_settings.models import ClinicSetting
from ketamine_integration.extensions import db

pytestmark = pytest.mark.both_engines  # a data migration reading the audit trail, per engine

BEFORE = "0050_note_plan_progress"


def _stored(app) -> str | None:
    with app.app_context(), db.engine.connect() as conn:
        return conn.execute(text("SELECT value FROM clinic_settings WHERE key = 'feed_identity'")).scalar()


def _migrate_again(app) -> str | None:
    with app.app_context():
        db.session.remove()
        try:
            downgrade(revision=BEFORE)
            upgrade()
            return _stored(app)
        finally:
            db.session.remove()
            upgrade()


def _save(auth, identity):
    data = {"identity": identity, "calendar_name": "Appointments"}
    if identity == "initials":
        data["initials_understood"] = "y"
    assert auth.post("/calendars/settings", data).status_code == 302


@pytest.mark.parametrize("saves, kept", [
    (["none", "initials"], "initials"),          # moved from session type only: a choice, kept
    (["initials", "none", "initials"], "initials"),  # the last move was from none
    (["initials"], None),                        # Save on the form as it opened (it offered initials)
    (["initials", "initials"], None),            # the same, twice
    (["none"], "none"),                          # session type only stays
])
def test_initials_stay_only_where_the_trail_shows_a_choice(app, make, auth, saves, kept):
    make.user("admin", username="boss")
    auth.sign_in("boss")
    for identity in saves:
        _save(auth, identity)
    assert _stored(app) == saves[-1]
    assert _migrate_again(app) == kept


def test_a_row_the_trail_says_nothing_about_falls_to_the_default(app, make):
    admin = make.user("admin", username="boss")
    make.run(lambda: db.session.add(ClinicSetting(key="feed_identity", value="initials", updated_by_id=admin)))
    assert _stored(app) == "initials"
    assert _migrate_again(app) is None
