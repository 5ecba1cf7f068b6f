"""A signed note never changes, whatever bypasses the ORM (README: database triggers on both
engines refuse any change to its themes, check-ins, links and the action steps it agreed)."""
import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from ketamine_integration.extensions import db
from ketamine_integration.notes.services import verify_signed_notes
from tests.integration.notes_edge_cases.helpers import SIGNING, _integration_data, _start, _version, _write_and_sign

# On SQLite and PostgreSQL: database triggers refuse raw SQL.
pytestmark = pytest.mark.both_engines


def _signed_and_draft(make, auth, team):
    auth.sign_in("ther")
    signed = _write_and_sign(make, auth, team)
    draft = _start(auth, team["course"])
    data = _integration_data(_version(make, draft), **{"themes-0-free_theme": "Draft theme",
                                                       "new_steps-0-what": "Draft step"})
    assert auth.post(f"/notes/{draft}", data).status_code == 302
    return signed, draft


@pytest.mark.parametrize("table", ["action_steps", "note_themes"])
def test_a_draft_row_cannot_be_moved_into_a_signed_note(team, make, auth, app, table):
    signed, draft = _signed_and_draft(make, auth, team)
    with app.app_context():
        with pytest.raises(DBAPIError):
            db.session.execute(text(f"UPDATE {table} SET note_id = :signed WHERE note_id = :draft"),
                               {"signed": signed, "draft": draft})
            db.session.commit()
        db.session.rollback()
    assert make.query(verify_signed_notes) == [(signed, True)]


def test_a_signed_note_cannot_be_renumbered(team, make, auth, app):
    ther, pres = make.user("therapist", username="pt"), make.user("prescriber", username="pp")
    course = make.course(make.patient(family_name="Prepared"), ther, pres, phase="preparation")
    auth.sign_in("pt")
    note = _start(auth, course, kind="preparation")
    assert auth.post(f"/notes/{note}", {"session_date": __import__("datetime").date.today().isoformat(),
                                        "version": str(_version(make, note)), "intentions": "Sleep",
                                        "readiness": "ready", **SIGNING}).status_code == 302
    with app.app_context():
        with pytest.raises(DBAPIError):
            db.session.execute(text("UPDATE session_notes SET id = 424242 WHERE id = :id"), {"id": note})
            db.session.commit()
        db.session.rollback()
