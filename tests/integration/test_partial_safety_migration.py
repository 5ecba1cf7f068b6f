"""Migration 0043 lets safety_alerts hold an alert from a portal answer on an incomplete questionnaire
(its source, the measure it names, the one-way link to the response completed afterwards): an earlier
alert comes through both ways unchanged with its guards, and the downgrade refuses, changing nothing,
while a portal answer's alert is kept."""
from datetime import date

import pytest
from flask_migrate import downgrade, upgrade
from sqlalchemy import text

from ketamine_integration.accounts.models import User
from ketamine_integration.courses.models import TreatmentCourse
from ketamine_integration.db.types import utcnow
from ketamine_integration.extensions import db
from ketamine_integration.notes.safety import raise_for_partial_answers
from ketamine_integration.notes.services import record_measure
from tests.integration.test_measure_registry_migration import _refused

pytestmark = pytest.mark.both_engines  # the CHECKs edited in place (SQLite) or replaced (PostgreSQL), and the guard

BEFORE, THIS = "0042_journal_first_shared", "0043_partial_safety_answers"


def _course(make) -> tuple[int, int]:
    therapist, prescriber = make.user("therapist"), make.user("prescriber")
    return make.course(make.patient(therapists=[therapist]), therapist, prescriber, phase="integration"), therapist


def test_an_earlier_alert_comes_through_both_ways_with_its_guards(app, make):
    course_id, therapist = _course(make)
    make.run(lambda: record_measure(db.session.get(TreatmentCourse, course_id), measure="phq9",
                                    answers=[1] * 8 + [2], difficulty=None, administered_on=date.today(),
                                    by=db.session.get(User, therapist), today=date.today()))
    with app.app_context():
        db.session.remove()
        try:
            with db.engine.connect() as conn:
                now = dict(conn.execute(text("SELECT * FROM safety_alerts")).mappings().one())
            downgrade(revision=BEFORE)
            with db.engine.connect() as conn:
                before = dict(conn.execute(text("SELECT * FROM safety_alerts")).mappings().one())
            assert "measure" not in before and before == {k: v for k, v in now.items() if k != "measure"}
            for sql in ("UPDATE safety_alerts SET measure_response_id = NULL", "DELETE FROM safety_alerts"):
                assert _refused(sql), sql
            upgrade()
            with db.engine.connect() as conn:
                assert dict(conn.execute(text("SELECT * FROM safety_alerts")).mappings().one()) == now
            for sql in ("UPDATE safety_alerts SET measure = 'phq9'", "UPDATE safety_alerts SET finding = 'nothing'",
                        "UPDATE safety_alerts SET measure_response_id = NULL", "DELETE FROM safety_alerts"):
                assert _refused(sql), sql
        finally:
            db.session.remove()
            upgrade()


def test_the_downgrade_refuses_while_a_portal_answers_alert_is_kept(app, make, capfd):
    course_id, _ = _course(make)
    make.run(lambda: raise_for_partial_answers(db.session.get(TreatmentCourse, course_id), "phq9",
                                               [None] * 8 + [1], utcnow()))
    with app.app_context():
        db.session.remove()
        try:
            downgrade(revision=THIS)  # the later migrations first (each engine commits them its own way)
            with pytest.raises(SystemExit):  # Flask-Migrate logs the migration's error and exits
                downgrade(revision=BEFORE)
            assert "alerts from portal answers; they are append-only" in capfd.readouterr().err
            assert db.session.scalar(text("SELECT version_num FROM alembic_version")) == THIS
            assert db.session.scalar(text("SELECT source FROM safety_alerts")) == "portal_answer"
        finally:
            db.session.remove()
            upgrade()
