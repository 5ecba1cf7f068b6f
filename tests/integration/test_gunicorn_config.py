"""The project's gunicorn.conf.py: the app built once in the master (preload_app), and each forked
worker doing what building its own app would have done (post_fork): its own database connections,
the log redaction on the handlers as they are now, the app's loggers on."""
from __future__ import annotations

import logging
import runpy
from pathlib import Path
from types import SimpleNamespace

import pytest
from sqlalchemy import text

from ketamine_integration.extensions import db
from ketamine_integration.web.access_log import RedactingFilter

CONFIG = runpy.run_path(str(Path(__file__).resolve().parents[2] / "gunicorn.conf.py"))


def forked_worker(app, *, preload: bool = True) -> None:
    """post_fork as gunicorn calls it in a new worker (server.app.wsgi() is the app already built)."""
    server = SimpleNamespace(app=SimpleNamespace(wsgi=lambda: app), cfg=SimpleNamespace(preload_app=preload))
    CONFIG["post_fork"](server, worker=None)


def test_the_app_is_built_in_the_master_with_the_redacting_logger():
    assert CONFIG["preload_app"] is True
    assert CONFIG["logger_class"] == "ketamine_integration.web.access_log.RedactingGunicornLogger"


def test_a_forked_worker_opens_its_own_connections_and_leaves_the_masters_open(app):
    with app.app_context():
        db.session.execute(text("SELECT 1"))
        inherited = db.session.connection().connection.dbapi_connection
        db.session.remove()  # back into the pool, as a master's connection would sit there
    try:
        with app.app_context():
            assert db.engine.pool.checkedin() == 1
        forked_worker(app)
        with app.app_context():
            assert db.engine.pool.checkedin() == 0, "the worker's pool still holds the master's connection"
            assert db.session.connection().connection.dbapi_connection is not inherited
            db.session.remove()
        # not closed: in a real fork it is the master's, which goes on using it
        assert inherited.execute("SELECT 1").fetchone() == (1,)
    finally:
        inherited.close()


#: loggers a reload of the logging configuration may turn off: werkzeug's, the app's and one of its modules'
APP_LOGGERS = ("werkzeug", "ketamine_integration", "ketamine_integration.messaging.queue")


@pytest.fixture
def root_handlers():
    """The root logger's handlers and the app's loggers' state, put back after the test."""
    root = logging.getLogger()
    kept = list(root.handlers), {name: logging.getLogger(name).disabled for name in APP_LOGGERS}
    yield root
    root.handlers[:] = kept[0]
    for name, disabled in kept[1].items():
        logging.getLogger(name).disabled = disabled


def test_after_a_reload_of_the_logging_config_a_new_worker_redacts_and_logs(app, root_handlers):
    # what a HUP does in the master with a logconfig_dict: new root handlers, loggers existing by then off
    replaced = logging.StreamHandler()
    root_handlers.handlers[:] = [replaced]
    for name in APP_LOGGERS:
        logging.getLogger(name).disabled = True

    forked_worker(app)

    assert any(isinstance(f, RedactingFilter) for f in replaced.filters), "a worker's root handler logs feed secrets"
    assert [logging.getLogger(name).disabled for name in APP_LOGGERS] == [False] * len(APP_LOGGERS)


def test_without_preloading_each_worker_builds_its_own_app_and_the_hook_leaves_it(app, root_handlers):
    replaced = logging.StreamHandler()
    root_handlers.handlers[:] = [replaced]
    forked_worker(app, preload=False)
    assert replaced.filters == []
