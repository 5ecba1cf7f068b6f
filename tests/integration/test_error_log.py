"""The error log of a 500 carries no clinical text and no feed secret: a database error during a
process-note save is logged with its type, its traceback and the path, but not the statement's
parameters nor a row PostgreSQL quotes back; a failing feed poll is logged with the secret masked.
The trigger messages the database can raise are fixed strings. On both engines."""
from __future__ import annotations

import io
import logging
import re
from contextlib import contextmanager

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from ketamine_integration import create_app
from ketamine_integration.calendars import services as calendar_services
from ketamine_integration.extensions import db
from ketamine_integration.notes import services as note_services
from tests.databases import app_settings
from tests.integration.test_access_log import feed_secret
from tests.integration.test_notes import _start, make_team


CANARY = "CANARYREASON wrong patient chart"


@contextmanager
def captured_log():
    """What a server's log handler writes (formatter included), from every logger."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        yield stream
    finally:
        root.removeHandler(handler)


#: the answer and log line of an unexpected database error, and of an append-only guard's refusal
#: (409: the record changed under the request; its traceback is logged as a warning)
UNHANDLED, GUARDED = (500, "unhandled error on"), (409, "append-only guard refused")
#: statements that fail in the database with the typed text as a parameter; whether PostgreSQL's
#: own message quotes the text back (in its DETAIL or primary message); how the app answers
FAILING_WRITES = [
    pytest.param("UPDATE audit_events SET detail = :body", False, GUARDED, id="trigger refuses the update"),
    pytest.param("UPDATE users SET username = :body", True, UNHANDLED, id="unique key: DETAIL Key (username)=(...)"),
    pytest.param("INSERT INTO users (username, full_name) VALUES (:body, :body)", True, UNHANDLED,
                 id="not null: DETAIL Failing row contains (...)"),
    pytest.param("SELECT CAST(:body AS INTEGER)", True, UNHANDLED, id="data exception: invalid input syntax"),
]


@pytest.mark.both_engines  # each engine's database error
@pytest.mark.parametrize("statement, quoted_by_postgresql, answer", FAILING_WRITES)
def test_a_database_error_in_a_note_save_logs_no_note_text(make, auth, databases, monkeypatch, figures, request,
                                                           statement, quoted_by_postgresql, answer):
    if databases.name == "sqlite" and "CAST" in statement:
        pytest.skip("SQLite casts any text to a number without an error")
    team = make_team(make)
    auth.sign_in("ther")
    note = _start(auth, team["course"])
    raised: list[DBAPIError] = []

    def failing_save(note, *, body, by, expected_version):
        try:
            db.session.execute(text(statement), {"body": body})
        except DBAPIError as error:
            raised.append(error)
            raise

    monkeypatch.setattr(note_services, "save_process_note", failing_save)
    with captured_log() as stream:
        status = auth.post(f"/notes/{note}/process", {"body": f"{CANARY} {note}"}).status_code
    log, error = stream.getvalue(), raised[0]
    # the text really travelled into the database error: the statement's parameters, and on
    # PostgreSQL the driver's message too for these cases
    assert CANARY in repr(error.params)
    assert (CANARY in str(error.orig)) == (quoted_by_postgresql and databases.name == "postgresql")
    kind = request.node.callspec.id.split("-", 1)[1].split(":")[0]
    status_expected, log_line = answer
    figures.record("Server logs", f"{status_expected} in a process-note save ({kind})",
                   f"logged {log.count(log_line)} time(s) with its type; note text found {log.count(CANARY)} times",
                   engine=databases.name)
    assert status == status_expected
    assert CANARY not in log
    # hide_parameters: what SQLAlchemy itself adds to the driver's message, as any other logger
    # printing the exception would write it, carries none of the parameters
    assert CANARY not in str(error).replace(str(error.orig), "") and "parameters hidden" in str(error)
    assert f"{log_line} POST /notes/{note}/process" in log
    assert "Traceback (most recent call last)" in log and f"sqlalchemy.exc.{type(error).__name__}" in log


def test_a_failing_feed_poll_logs_the_feed_with_its_secret_masked(app, make, client, databases, monkeypatch):
    secret = feed_secret(make)

    def failing_events(*args, **kwargs):
        raise RuntimeError("feed rendering failed")

    monkeypatch.setattr(calendar_services, "feed_events", failing_events)
    with captured_log() as stream:
        status = client.get(f"/feeds/{secret}.ics").status_code
    log = stream.getvalue()
    assert status == 500
    assert secret not in log and secret[:8] not in log
    assert "unhandled error on GET /feeds/****.ics" in log and "RuntimeError: feed rendering failed" in log


def test_a_record_of_another_logger_reaches_the_servers_handlers_cleaned(app, make, databases):
    """A child logger's record skips app.logger's own filter; the handlers installed before the
    app was built (as gunicorn's logconfig does) clean it."""
    secret = feed_secret(make)
    with app.app_context():
        url = db.engine.url.render_as_string(hide_password=False)
    with captured_log() as stream:
        create_app(app_settings(url))
        try:
            raise ValueError(f"while serving /feeds/{secret}.ics?q=Umber")
        except ValueError:
            logging.getLogger("ketamine_integration.documents.pdf").error(
                "failed on /FEEDS%%2F%s.ics", secret, exc_info=True)
    log = stream.getvalue()
    assert secret not in log and "Umber" not in log
    assert "failed on /FEEDS/****.ics" in log and "ValueError: while serving /feeds/****.ics" in log


#: a RAISE whose message is one literal: nothing of the row can be formatted into it
_LITERAL_RAISE = {"postgresql": re.compile(r"RAISE\s+EXCEPTION\s+'[^'%]*'\s*;", re.I),
                  "sqlite": re.compile(r"RAISE\s*\(\s*ABORT\s*,\s*'[^'%]*'\s*\)", re.I)}
_TRIGGER_SOURCES = {
    "postgresql": "SELECT p.prosrc FROM pg_trigger t JOIN pg_proc p ON p.oid = t.tgfoid WHERE NOT t.tgisinternal",
    "sqlite": "SELECT sql FROM sqlite_master WHERE type = 'trigger'",
}


@pytest.mark.both_engines  # each engine's trigger messages
def test_every_trigger_message_is_a_fixed_string(app, databases, figures):
    with app.app_context():
        sources = db.session.execute(text(_TRIGGER_SOURCES[databases.name])).scalars().all()
    raises = sum(len(re.findall(r"\bRAISE\b", source, re.I)) for source in sources)
    literal = sum(len(_LITERAL_RAISE[databases.name].findall(source)) for source in sources)
    figures.record("Server logs", "trigger messages", f"{len(sources)} triggers, {raises} RAISE statements, "
                   f"{literal} of them a fixed string", engine=databases.name)
    assert len(sources) >= 20 and raises >= len(sources) // 2       # the triggers were found and read
    assert literal == raises
