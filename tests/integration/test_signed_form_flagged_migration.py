"""Migration 0057: signed forms keep how many answers they flag, counted for the rows signed before it from
their documents, and stay append-only with the new column frozen too."""
import pytest
from flask_migrate import downgrade, upgrade
from sqlalchemy import inspect, text
from sqlalchemy.exc import DBAPIError

from ketamine_integration.courses.models import TreatmentCourse
from ketamine_integration.extensions import db
from ketamine_integration.signed_forms import services

pytestmark = pytest.mark.both_engines  # a backfill behind an append-only trigger, per engine

BEFORE = "0056_signed_forms"


def _counts(app) -> dict[int, int]:
    with app.app_context(), db.engine.connect() as conn:
        return dict(conn.execute(text("SELECT id, flagged_count FROM signed_forms")).all())


def test_earlier_signatures_are_counted_from_their_documents_and_stay_frozen(app, make):
    therapist, prescriber = make.user("therapist"), make.user("prescriber")
    patient = make.patient(given_name="Juniper", family_name="Ashgrove", therapists=[therapist],
                           prescribers=[prescriber])
    course = make.course(patient, therapist, prescriber)
    intake = make.query(lambda: services.packet_status(db.session.get(TreatmentCourse, course))
                        .item("intake-questionnaire").form)
    flagged = {q.id for q in intake.flagged_questions}
    ids = make.sign_packet(course, flagged=flagged)
    signed = _counts(app)
    assert sorted(signed.values()) == sorted([len(flagged)] + [0] * (len(ids) - 1))
    with app.app_context():
        db.session.remove()
        try:
            downgrade(revision=BEFORE)
            assert "flagged_count" not in {c["name"] for c in inspect(db.engine).get_columns("signed_forms")}
            upgrade()
            assert _counts(app) == signed  # each row counted again from its document
            with db.engine.connect() as conn, pytest.raises(DBAPIError):  # the guard is back, over the column too
                conn.execute(text("UPDATE signed_forms SET flagged_count = 0"))
        finally:
            db.session.remove()
            upgrade()
    assert _counts(app) == signed
