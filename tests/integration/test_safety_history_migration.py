"""Migration 0022 rebuilds safety_alerts (SQLite) for alerts from every source: an earlier PHQ-9
alert comes through with its finding written in the app's words and its append-only guards
made again (freezing the new columns too), both ways; the downgrade refuses, changing nothing,
while an alert from a risk screen is kept."""
from datetime import date

import pytest
from flask_migrate import downgrade, upgrade
from sqlalchemy import text

from ketamine_integration.accounts.models import User
from ketamine_integration.courses.models import TreatmentCourse
from ketamine_integration.domain.measures import PHQ9
from ketamine_integration.extensions import db
from ketamine_integration.notes.models import SessionNote
from ketamine_integration.notes.services import record_measure
from ketamine_integration.notes.safety import raise_for_risk_screen
from tests.integration.test_measure_registry_migration import _refused

pytestmark = pytest.mark.both_engines  # a table rebuild (SQLite) or ALTERs (PostgreSQL), and their guards

BEFORE, THIS = "0021_dosing_stages", "0022_safety_history"


def _course(make) -> tuple[int, int]:
    therapist, prescriber = make.user("therapist"), make.user("prescriber")
    return make.course(make.patient(therapists=[therapist]), therapist, prescriber, phase="integration"), therapist


def _phq9_alert(make) -> None:
    course_id, therapist = _course(make)

    def write():
        course, by = db.session.get(TreatmentCourse, course_id), db.session.get(User, therapist)
        record_measure(course, measure=PHQ9.key, answers=[1] * 8 + [2], difficulty=None,
                       administered_on=date.today(), by=by, today=date.today())
    make.run(write)


def _alert_row():
    with db.engine.connect() as conn:
        return conn.execute(text("SELECT * FROM safety_alerts")).mappings().one()


def test_an_earlier_alert_comes_through_both_ways_with_its_guards(app, make):
    _phq9_alert(make)
    with app.app_context():
        db.session.remove()
        try:
            downgrade(revision=BEFORE)
            before = _alert_row()
            assert "finding" not in before and before["item_score"] == 2
            assert _refused("UPDATE safety_alerts SET item_score = 3") and _refused("DELETE FROM safety_alerts")
            upgrade()
            after = _alert_row()
            assert (after["source"], after["finding"], after["session_note_id"]) == (
                "measure", "PHQ-9 item 9 (thoughts of self-harm) answered 2", None)
            assert {k: after[k] for k in before} == dict(before)
            for sql in ("UPDATE safety_alerts SET finding = 'nothing'", "UPDATE safety_alerts SET source = 'risk_screen'",
                        "UPDATE safety_alerts SET item_score = 3", "DELETE FROM safety_alerts"):
                assert _refused(sql), sql
        finally:
            db.session.remove()
            upgrade()


def test_the_downgrade_refuses_while_a_risk_screen_alert_is_kept(app, make, capfd):
    course_id, therapist = _course(make)

    def risk_screen():
        note = SessionNote(course_id=course_id, patient_id=db.session.get(TreatmentCourse, course_id).patient_id,
                           kind="integration", session_date=date.today(), author_id=therapist,
                           content={"self_harm_thoughts": "yes"})
        db.session.add(note)
        db.session.flush()
        raise_for_risk_screen(note)
    make.run(risk_screen)
    with app.app_context():
        db.session.remove()
        try:
            downgrade(revision=THIS)  # later migrations first: what is refused is this one's downgrade
            with pytest.raises(SystemExit):  # Flask-Migrate logs the migration's error and exits
                downgrade(revision=BEFORE)
            assert "alerts from risk screens; they are append-only" in capfd.readouterr().err
            assert db.session.scalar(text("SELECT version_num FROM alembic_version")) == THIS
            assert db.session.scalar(text("SELECT source FROM safety_alerts")) == "risk_screen"
        finally:
            db.session.remove()
            upgrade()
