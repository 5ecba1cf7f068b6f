"""The project's gunicorn.conf.py: the app built once in the master (preload_app), and each forked
worker leaving the master's pooled database connections alone (post_fork)."""
from __future__ import annotations

import runpy
from pathlib import Path
from types import SimpleNamespace

from sqlalchemy import text

from ketamine_integration.extensions import db

CONFIG = runpy.run_path(str(Path(__file__).resolve().parents[2] / "gunicorn.conf.py"))


def test_the_app_is_built_in_the_master_with_the_redacting_logger():
    assert CONFIG["preload_app"] is True
    assert CONFIG["logger_class"] == "ketamine_integration.web.access_log.RedactingGunicornLogger"


def test_a_forked_worker_opens_its_own_connections_and_leaves_the_masters_open(app):
    with app.app_context():
        db.session.execute(text("SELECT 1"))
        inherited = db.session.connection().connection.dbapi_connection
        db.session.remove()  # back into the pool, as a master's connection would sit there
        assert db.engine.pool.checkedin() == 1

    server = SimpleNamespace(app=SimpleNamespace(wsgi=lambda: app))
    CONFIG["post_fork"](server, worker=None)

    with app.app_context():
        assert db.engine.pool.checkedin() == 0, "the worker's pool still holds the master's connection"
        assert db.session.connection().connection.dbapi_connection is not inherited
        db.session.remove()
    # not closed: in a real fork it is the master's, which goes on using it
    assert inherited.execute("SELECT 1").fetchone() == (1,)
    inherited.close()
