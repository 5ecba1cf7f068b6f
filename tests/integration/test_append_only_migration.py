"""Migration 0015 on a database that already has records: it fills the digests of earlier
measures and releases exactly as the app computes them, and deletes text kept for recovery
that was already recovered (issue 17, points 3 and 5); its downgrade removes what it added.
Migration 0016's guards on the history tables come off with its downgrade and back on with
the upgrade. Migration 0017 fills formulation and checklist digests as the app computes them."""
from datetime import date, datetime, timedelta, timezone

import pytest

from flask_migrate import downgrade, upgrade
from sqlalchemy import inspect, select, text
from sqlalchemy.exc import DBAPIError

from ketamine_integration.accounts.models import User
from ketamine_integration.db.append_only import verify_digests
from ketamine_integration.coordination.models import ReleaseOfInformation
from ketamine_integration.coordination.services import create_release
from ketamine_integration.courses.models import TreatmentCourse
from ketamine_integration.courses.services import record_preparation
from ketamine_integration.extensions import db
from ketamine_integration.notes.models import MeasureResponse
from ketamine_integration.notes.services import record_measure
from tests.conftest import downgraded_world

# On SQLite and PostgreSQL: migrations: DDL and trigger bodies per engine.
pytestmark = pytest.mark.both_engines

BEFORE = "0014_draft_notes_index"
KEPT = """'{"body": ["Old process text"]}'"""


def _records(make) -> dict:
    therapist, prescriber = make.user("therapist"), make.user("prescriber")
    course_id = make.course(make.patient(therapists=[therapist]), therapist, prescriber, phase="integration")

    def write():
        course, by = db.session.get(TreatmentCourse, course_id), db.session.get(User, therapist)
        record_measure(course, measure="phq9", answers=[1] * 9, difficulty=None, administered_on=date.today(),
                       by=by, today=date.today())
        create_release(course.patient, recipient_user_id=prescriber, recipient_name=None, categories=["dosing"],
                       purpose="Coordination", effective_on=date.today(), expires_on=None, by=by)
    make.run(write)
    return {"user": therapist}


def _stored_digests() -> dict:
    return {model.__tablename__: db.session.scalars(select(model.content_digest)).all()
            for model in (MeasureResponse, ReleaseOfInformation)}


def _records_before_0015(app, make) -> dict:
    """_records' rows, the digests the app gave them, and the database downgraded to BEFORE with them in
    it: what the next two tests start from (tests.conftest.downgraded_world, once per worker and day on
    SQLite)."""
    def build() -> dict:
        user = _records(make)["user"]
        with app.app_context():
            return {"user": user, "made_by_the_app": _stored_digests()}
    return downgraded_world(app, "append_only_before_0015", BEFORE, build, by_day=True)


def test_the_migration_fills_digests_and_clears_recovered_text(app, make):
    world = _records_before_0015(app, make)
    user, made_by_the_app = world["user"], world["made_by_the_app"]
    with app.app_context():
        assert "content_digest" not in {c["name"] for c in inspect(db.engine).get_columns("measure_responses")}
        with db.engine.begin() as conn:
            for recovered in ("CURRENT_TIMESTAMP", "NULL"):
                conn.execute(text(f"INSERT INTO unsaved_work (user_id, path, form, submitted_at, recovered_at) "
                                  f"VALUES (:u, '/notes/1/process', {KEPT}, CURRENT_TIMESTAMP, {recovered})"),
                             {"u": user})
        upgrade()
        assert _stored_digests() == made_by_the_app  # the migration hashes exactly as the app does
        results = verify_digests()
        assert len(results) == 2 and all(ok for *_, ok in results)
        kept = db.session.execute(text("SELECT CAST(form AS TEXT), recovered_at FROM unsaved_work "
                                       "ORDER BY id")).all()
        assert [(form.replace(" ", ""), recovered is None) for form, recovered in kept] == \
            [("{}", False), ('{"body":["Oldprocesstext"]}', True)]


def test_the_downgrade_removes_the_guards_and_digests(app, make):
    _records_before_0015(app, make)
    with app.app_context():
        assert "content_digest" not in {c["name"] for c in inspect(db.engine).get_columns("measure_responses")}
        with db.engine.begin() as conn:  # no guard left: an edit goes through
            assert conn.execute(text("UPDATE measure_responses SET total = total + 1")).rowcount == 1
        upgrade()
        with db.engine.begin() as conn:
            assert conn.execute(text("SELECT count(*) FROM measure_responses WHERE content_digest IS NULL")
                                ).scalar_one() == 0


HISTORY = ("appointment_changes", "phase_transitions", "preparation_records")


def _history(make) -> None:
    """A row in each history table, written by the services: enrolments' transitions, a
    preparation entry, and the bookings of a planned dosing session."""
    therapist, prescriber = make.user("therapist"), make.user("prescriber")
    patient = make.patient(therapists=[therapist], prescribers=[prescriber])
    in_preparation = make.course(patient, therapist, prescriber)
    dosing = make.course(patient, therapist, prescriber, phase="experience")
    make.dosing_plan(dosing, first_start=datetime.now(timezone.utc) + timedelta(days=2), days_between=2, count=1)

    def record():
        record_preparation(db.session.get(TreatmentCourse, in_preparation), item="medical_clearance",
                           completed_on=date.today(), note=None, by=db.session.get(User, prescriber),
                           today=date.today())
    make.run(record)


def _deleted(table: str) -> int:
    """Rows a raw DELETE removes from `table`, rolled back; the guard's refusal raises."""
    with db.engine.connect() as conn, conn.begin() as transaction:
        deleted = conn.execute(text(f"DELETE FROM {table}")).rowcount
        transaction.rollback()
        return deleted


def test_the_history_guards_come_off_with_the_downgrade_and_back_with_the_upgrade(app, make):
    _history(make)
    with app.app_context():
        downgrade(revision="0015_append_only_records")
        assert all(_deleted(table) > 0 for table in HISTORY)  # no guard left (and each table has rows)
        upgrade()  # would fail on a trigger or function the downgrade left behind
        for table in HISTORY:
            with pytest.raises(DBAPIError, match=f"{table} rows are append-only"):
                _deleted(table)


def test_migration_0017_fills_formulation_and_checklist_digests_as_the_app_does(app, make):
    """Revisions and entries made before 0017 get the digest the app would have given them, and
    the remade guards freeze it; its downgrade takes the column and the guard's mention away."""
    from ketamine_integration.courses.models import PreparationRecord
    from ketamine_integration.notes.models import CaseFormulation
    from ketamine_integration.notes.services import save_formulation
    _history(make)
    therapist = make.query(lambda: db.session.scalar(select(User.id).where(User.username.is_not(None))))

    def write():
        course = db.session.scalar(select(TreatmentCourse).order_by(TreatmentCourse.id))
        save_formulation(course, content={"presenting_concerns": "Low mood"}, by=db.session.get(User, therapist),
                         expected_revision=0)
    make.run(write)
    models = (CaseFormulation, PreparationRecord)
    with app.app_context():
        made_by_the_app = {m.__tablename__: db.session.scalars(select(m.content_digest)).all() for m in models}
        assert all(made_by_the_app.values()) and None not in sum(made_by_the_app.values(), [])
        db.session.remove()
        downgrade(revision="0016_history_records")
        assert "content_digest" not in {c["name"] for c in inspect(db.engine).get_columns("case_formulations")}
        upgrade()
        assert {m.__tablename__: db.session.scalars(select(m.content_digest)).all() for m in models} == made_by_the_app
        db.session.remove()
        for table in made_by_the_app:
            with pytest.raises(DBAPIError, match=f"{table} rows are append-only"):
                with db.engine.begin() as conn:
                    conn.execute(text(f"UPDATE {table} SET content_digest = 'rewritten'"))
