"""The schema exists only through Alembic migrations, and they match the models exactly."""
import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask_migrate import downgrade, upgrade
from sqlalchemy import inspect, select

from ketamine_integration.accounts.models import User
from ketamine_integration.extensions import db

# On SQLite and PostgreSQL: migrations: DDL per engine.
pytestmark = pytest.mark.both_engines


def test_models_and_migrations_agree(app):
    with app.app_context(), db.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        differences = compare_metadata(context, db.metadata)
    assert differences == []


@pytest.mark.fresh_app  # an engine of its own: its statement cache starts empty
def test_migrations_keep_their_statements_out_of_the_engines_statement_cache(app):
    """A migration's statements run once (the version row's UPDATE names its revisions as literals):
    cached, they pushed the app's own compiled statements out of the engine's cache in a process that
    runs both (migrations/env.py)."""
    with app.app_context():
        cache = db.engine._compiled_cache  # SQLAlchemy's compiled statements, per engine
        before = len(cache)
        downgrade(revision="-1")
        upgrade()
        assert len(cache) == before
        db.session.execute(select(User.id)).all()  # the app's own statements are kept
        assert len(cache) == before + 1
        db.session.remove()


def test_migrations_downgrade_to_nothing_and_back(app):
    with app.app_context():
        downgrade(revision="base")
        assert set(inspect(db.engine).get_table_names()) <= {"alembic_version"}
        upgrade()
        assert {"users", "patients", "audit_events"} <= set(inspect(db.engine).get_table_names())
