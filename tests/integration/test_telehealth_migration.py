"""Migration 0034: the telehealth appointments made before it get a random video code each (the
in-person ones none), and it goes down and up again."""
import re
from datetime import datetime, timedelta, timezone

import pytest
from flask_migrate import downgrade, upgrade
from sqlalchemy import text

from ketamine_integration.bookings.models import Appointment
from ketamine_integration.extensions import db

pytestmark = pytest.mark.both_engines  # ALTER TABLE and the backfill per engine


def _rows(sql: str) -> list[tuple]:
    with db.engine.connect() as conn:
        return [tuple(row) for row in conn.execute(text(sql))]


def test_telehealth_sessions_made_before_get_a_code_each(app, make):
    therapist = make.user("therapist", username="ther")
    patient = make.patient(therapists=[therapist])
    room = make.room("Cedar Room")
    start = datetime(2027, 2, 1, 15, tzinfo=timezone.utc)

    def add(modality, hours):
        a = Appointment(patient_id=patient, clinician_id=therapist, kind="follow_up",
                        starts_at=start + timedelta(hours=hours), ends_at=start + timedelta(hours=hours, minutes=30),
                        modality=modality, room_id=room if modality == "in_person" else None, created_by_id=therapist)
        db.session.add(a)
        db.session.flush()
        return a.id
    ids = [make.run(lambda m=m, h=h: add(m, h)) for h, m in enumerate(("telehealth", "in_person", "telehealth"))]
    with app.app_context():
        db.session.remove()
        try:
            downgrade(revision="0032_home")
            upgrade()
            found = dict(_rows("SELECT id, video_token FROM appointments ORDER BY id"))
            assert found[ids[1]] is None                                  # in person: no code
            codes = [found[ids[0]], found[ids[2]]]
            assert all(re.fullmatch(r"[A-Za-z0-9_-]{22}", c) for c in codes) and codes[0] != codes[1]
            assert _rows("SELECT video_room_url FROM users") == [(None,)]
        finally:
            db.session.remove()
            upgrade()
