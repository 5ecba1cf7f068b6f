"""The suite's own databases (tests/databases.py): between two tests the reused app keeps its pooled
connections where the database is emptied in place (PostgreSQL) and closes them where the file is
replaced (SQLite); either way the next test sees an empty database through them."""
import pytest
from psycopg.pq import TransactionStatus
from sqlalchemy import func, select

from ketamine_integration.accounts.models import User
from ketamine_integration.extensions import db
from tests.conftest import close_app

pytestmark = pytest.mark.both_engines


def pooled_connection(app):
    """The DBAPI connection the app's pool hands out next, and whether it is idle (in no transaction)."""
    with app.app_context():
        fairy = db.engine.raw_connection()
        try:
            raw = fairy.dbapi_connection
            idle = (raw.info.transaction_status == TransactionStatus.IDLE
                    if db.engine.dialect.name == "postgresql" else not raw.in_transaction)
        finally:
            fairy.close()
    return raw, idle


def test_between_tests_connections_are_kept_only_where_the_database_is_emptied_in_place(app, make, databases):
    make.user("staff", username="kept.between.tests")
    first, _ = pooled_connection(app)

    close_app(app, keep_connections=databases.resets_in_place)  # what the app fixture does after a test
    databases.reset_shared()  # and before the next

    second, idle = pooled_connection(app)
    assert (second is first) is databases.resets_in_place
    assert idle  # a kept connection is in no transaction: it held no lock against the reset
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(User)) == 0
        db.session.remove()
