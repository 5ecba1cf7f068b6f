"""Restore targets for the backup suites: an empty database of the engine under test."""
from __future__ import annotations

import uuid

import psycopg
from sqlalchemy.engine import make_url

from ketamine_integration import create_app
from ketamine_integration.extensions import db

from .databases import app_settings


class Target:
    """An empty database of the engine under test to restore into, dropped afterwards."""

    def __init__(self, databases, tmp_path):
        self.engine = databases.name
        if self.engine == "sqlite":
            self.url = f"sqlite:///{tmp_path / 'restored.db'}"
            self.admin = None
        else:
            self.admin = make_url(databases.url).set(drivername="postgresql", database="postgres")
            self.name = f"ki_restore_{uuid.uuid4().hex[:10]}"
            with psycopg.connect(self._admin(), autocommit=True) as conn:
                conn.execute(f'CREATE DATABASE "{self.name}"')
            self.url = make_url(databases.url).set(database=self.name).render_as_string(hide_password=False)

    def _admin(self) -> str:
        return self.admin.render_as_string(hide_password=False)

    def query(self, fn):
        """fn() in an app on the target database (reads after a restore)."""
        app = create_app(app_settings(self.url))
        with app.app_context():
            try:
                return fn()
            finally:
                db.session.remove()
                db.engine.dispose()

    def drop(self):
        if self.admin is not None:
            with psycopg.connect(self._admin(), autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')


def restore_target(databases, tmp_path):
    """Body of a `target` fixture: an empty database, dropped after the test."""
    made = Target(databases, tmp_path)
    yield made
    made.drop()


def cli(app, *args):
    return app.test_cli_runner().invoke(args=[str(a) for a in args])
