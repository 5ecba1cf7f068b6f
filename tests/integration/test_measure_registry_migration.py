"""Migration 0018 drops the CHECK that listed the measure keys (the registry checks them now):
on a database that already holds a response and its safety alert, the rows, their digests and
the append-only guards of migration 0015 come through the table rebuild unchanged, both ways.
Its downgrade refuses, changing nothing, while a response of another measure is stored."""
from datetime import date

import pytest
from flask_migrate import downgrade, upgrade
from sqlalchemy import inspect, select, text
from sqlalchemy.exc import DBAPIError

from ketamine_integration.accounts.models import User
from ketamine_integration.courses.models import TreatmentCourse
from ketamine_integration.db.append_only import verify_digests
from ketamine_integration.domain.measures import PHQ9
from ketamine_integration.extensions import db
from ketamine_integration.notes.models import MeasureResponse, SafetyAlert
from ketamine_integration.notes.services import record_measure

# On SQLite and PostgreSQL: migrations: a table rebuild and its guards per engine.
pytestmark = pytest.mark.both_engines

BEFORE = "0017_append_only_mends"
THIS = "0018_open_measure_registry"
CHECK = "ck_measure_responses_known_measure"


def _response_with_alert(make) -> None:
    therapist, prescriber = make.user("therapist"), make.user("prescriber")
    course_id = make.course(make.patient(therapists=[therapist]), therapist, prescriber, phase="integration")

    def write():
        course, by = db.session.get(TreatmentCourse, course_id), db.session.get(User, therapist)
        record_measure(course, measure=PHQ9.key, answers=[1] * 9, difficulty=None, administered_on=date.today(),
                       by=by, today=date.today())
    make.run(write)


def _rows() -> list:
    with db.engine.connect() as conn:  # its own transaction, ended here (the migrations need the write lock)
        return conn.execute(select(MeasureResponse.id, MeasureResponse.measure, MeasureResponse.total,
                                   MeasureResponse.content_digest, SafetyAlert.item_score)
                            .join(SafetyAlert, SafetyAlert.measure_response_id == MeasureResponse.id)).all()


def _checks() -> set[str]:
    return {c["name"] for c in inspect(db.engine).get_check_constraints("measure_responses")}


def _refused(sql: str) -> bool:
    """Does an append-only trigger refuse this statement?"""
    try:
        with db.engine.begin() as conn:
            conn.execute(text(sql))
    except DBAPIError as err:
        assert "append-only" in str(err)
        return True
    return False


def test_the_check_goes_and_comes_back_with_rows_and_guards_intact(app, make):
    _response_with_alert(make)
    with app.app_context():
        before = _rows()
        db.session.remove()  # its transaction would hold SQLite's write lock through the migration
        assert len(before) == 1 and CHECK not in _checks()
        downgrade(revision=BEFORE)
        assert CHECK in _checks() and _rows() == before
        assert _refused("UPDATE measure_responses SET total = total + 1")
        upgrade()
        assert CHECK not in _checks() and _rows() == before
        assert _refused("UPDATE measure_responses SET total = total + 1")
        assert _refused("DELETE FROM measure_responses")
        assert [ok for *_, ok in verify_digests()] == [True]


def test_the_downgrade_refuses_while_another_measures_responses_are_kept(app, make, capfd):
    _response_with_alert(make)
    with app.app_context():
        db.session.execute(text("INSERT INTO measure_responses (patient_id, course_id, measure, administered_on, "
                                "answers, total, band, entered_by_id, created_at) SELECT patient_id, course_id, "
                                "'madeup5', administered_on, answers, total, band, entered_by_id, created_at "
                                "FROM measure_responses"))
        db.session.commit()
        db.session.remove()
        downgrade(revision=THIS)  # the later migrations first: the refusal is this one's alone
        with pytest.raises(SystemExit):  # Flask-Migrate logs the migration's error and exits
            downgrade(revision=BEFORE)
        assert "measures the earlier schema does not know (madeup5)" in capfd.readouterr().err
        assert CHECK not in _checks()
        assert db.session.scalar(text("SELECT version_num FROM alembic_version")) == THIS
        db.session.remove()
        upgrade()  # back to the newest schema: the worker's next tests reset and use every table
