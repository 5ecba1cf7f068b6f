"""Text kept after a session timeout is deleted once it is recovered or superseded (issue 17,
point 5): the author's next successful save on that page, with the kept text or any other,
clears it from unsaved_work for good; the row keeps who, where and when, and the save's own
audit row stays. One row per page that keeps unsaved work."""
import sqlite3
from contextlib import closing
from datetime import timedelta

import pytest
from sqlalchemy import select, text

from ketamine_integration.audit.models import AuditEvent
from ketamine_integration.extensions import db
from ketamine_integration.notes.models import UnsavedWork
from tests.integration.notes_edge_cases.helpers import _integration_data, _start, _version, _write_and_sign

KEPT = "Kept words typed while the session lapsed"
OTHER = "Different words saved later from another tab"


def _note_page(make, auth, team):
    note = _start(auth, team["course"])
    return f"/notes/{note}", lambda words: _integration_data(_version(make, note), insights=words), "note.update"


def _process_page(make, auth, team):
    note = _write_and_sign(make, auth, team)
    return f"/notes/{note}/process", lambda words: {"body": words, "version": ""}, "process_note.update"


def _formulation_page(make, auth, team):
    def data(words):
        revision = make.query(lambda: db.session.scalar(text(
            "SELECT coalesce(max(revision), 0) FROM case_formulations WHERE course_id = :c"), {"c": team["course"]}))
        return {"presenting_concerns": words, "revision": str(revision)}
    return f"/courses/{team['course']}/formulation", data, "formulation.update"


#: (page, how it is set up: its path, its form data for some words, the audit action of a save)
PAGES = [
    pytest.param(_note_page, id="session note draft"),
    pytest.param(_process_page, id="process notes"),
    pytest.param(_formulation_page, id="case formulation"),
]


def _rows_holding(make, words: str) -> int:
    """unsaved_work rows whose stored text still holds these words (read raw, as a backup would)."""
    return make.query(lambda: db.session.scalar(text(
        "SELECT count(*) FROM unsaved_work WHERE CAST(form AS TEXT) LIKE :w"), {"w": f"%{words}%"}))


def _keep_after_timeout(make, auth, path, data, words):
    make.age_login_sessions(last_seen_at=timedelta(minutes=30), created_at=timedelta(minutes=30))
    late = auth.post(path, data(words))
    assert late.status_code == 302 and "/login" in late.headers["Location"]
    assert _rows_holding(make, words) == 1  # kept, as before
    assert auth.login("ther").status_code == 302


@pytest.mark.parametrize("page", PAGES)
@pytest.mark.parametrize("saved", [KEPT, OTHER], ids=["recovered", "superseded"])
def test_kept_text_is_deleted_once_the_author_saves_on_that_page(team, make, auth, client, page, saved):
    auth.sign_in("ther")
    path, data, action = page(make, auth, team)
    _keep_after_timeout(make, auth, path, data, KEPT)
    assert KEPT in client.get(path).get_data(as_text=True)  # offered back after sign-in
    saves_before = len(make.audit_rows(action=action))
    assert auth.post(path, data(saved)).status_code == 302
    assert _rows_holding(make, KEPT) == 0, "the kept text is still stored"
    [row] = make.query(lambda: db.session.scalars(select(UnsavedWork)).all())
    assert row.form == {} and row.recovered_at is not None and row.path == path
    assert len(make.audit_rows(action=action)) == saves_before + 1  # the save's audit row stays
    if saved == OTHER:
        assert KEPT not in client.get(path).get_data(as_text=True)  # no longer offered anywhere


def test_an_addendum_clears_text_kept_for_a_note_signed_meanwhile(team, make, auth, client):
    auth.sign_in("ther")
    note = _write_and_sign(make, auth, team)
    _keep_after_timeout(make, auth, f"/notes/{note}", lambda w: _integration_data(_version(make, note), insights=w),
                        KEPT)
    assert auth.post(f"/notes/{note}/addenda", {"body": KEPT}).status_code == 302
    assert _rows_holding(make, KEPT) == 0


def test_kept_text_is_not_cleared_by_a_failed_save(team, make, auth):
    auth.sign_in("ther")
    path, data, _ = _formulation_page(make, auth, team)
    _keep_after_timeout(make, auth, path, data, KEPT)
    refused = auth.post(path, {"presenting_concerns": "", "revision": "0"})  # "write at least one section"
    assert refused.status_code == 422
    assert _rows_holding(make, KEPT) == 1  # still offered: nothing was saved


def test_audit_rows_of_saves_name_no_kept_text(team, make, auth):
    auth.sign_in("ther")
    path, data, action = _process_page(make, auth, team)
    _keep_after_timeout(make, auth, path, data, KEPT)
    assert auth.post(path, data(KEPT)).status_code == 302
    details = make.query(lambda: db.session.scalars(select(AuditEvent.detail)).all())
    assert not any(KEPT in (d or "") for d in details)


def test_superseded_text_leaves_no_trace_in_the_sqlite_file(team, make, auth, app, databases):
    """Clearing a row is not enough on SQLite: freed pages keep their old bytes unless
    secure_delete is on (the app sets it on every connection rather than trusting the build).
    After a checkpoint, the database file holds no copy of the superseded words."""
    if databases.name != "sqlite":
        pytest.skip("PostgreSQL keeps dead tuples until VACUUM: SECURITY.md says so (a file scan is SQLite's)")
    auth.sign_in("ther")
    path, data, _ = _process_page(make, auth, team)
    _keep_after_timeout(make, auth, path, data, KEPT)
    assert auth.post(path, data(OTHER)).status_code == 302
    assert make.query(lambda: db.session.execute(text("PRAGMA secure_delete")).scalar()) == 1
    make.query(lambda: db.engine.dispose())  # no open reader holds the log back
    database_file = app.config["SQLALCHEMY_DATABASE_URI"].removeprefix("sqlite:///")
    with closing(sqlite3.connect(database_file)) as connection:
        connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    with open(database_file, "rb") as stored:
        assert KEPT.encode() not in stored.read()
