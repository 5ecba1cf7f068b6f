"""The demo clinic shows issue 19's safety history and measured baselines: every course that
reached dosing has a baseline PHQ-9 measured before its first dose (no tick stands in for one),
C-SSRS screeners are recorded, and alerts acknowledged with what was done stay in the history."""
import pytest
from sqlalchemy import select

from ketamine_integration.courses.models import PreparationRecord, TreatmentCourse
from ketamine_integration.courses.services import course_facts, evidence
from ketamine_integration.domain.phases import Phase
from ketamine_integration.extensions import db
from ketamine_integration.notes.models import MeasureResponse, SafetyAlert


@pytest.mark.demo_clinic  # built by `flask demo` once per engine (tests/databases.py), copied here
def test_demo_baselines_are_measured_and_its_alerts_keep_their_history(app, make):
    def inspect():
        courses = db.session.scalars(select(TreatmentCourse).order_by(TreatmentCourse.id)).all()
        dosed = [c for c in courses if c.current_phase is not Phase.PREPARATION]
        preparing = [c for c in courses if c.current_phase is Phase.PREPARATION]
        ticks = db.session.scalars(select(PreparationRecord.item).where(PreparationRecord.item.like("baseline_%"))).all()
        alerts = db.session.scalars(select(SafetyAlert).order_by(SafetyAlert.id)).all()
        return (all("baseline_phq9" in course_facts(c).preparation_items_done for c in dosed),
                sorted("baseline_phq9" in evidence(c).items for c in preparing), ticks,
                db.session.scalars(select(MeasureResponse.band).where(MeasureResponse.measure == "cssrs")).all(),
                [(a.source, a.acknowledged_at is not None, bool(a.acknowledgement)) for a in alerts])
    all_measured, preparing, ticks, screeners, alerts = make.query(inspect)
    assert all_measured and ticks == []                    # baselines are measurements, never ticks
    assert preparing == [False, False, True, True]         # two preparation courses visibly lack one
    assert "Low risk" in screeners and "No risk identified" in screeners
    assert ("measure", True, True) in alerts and ("risk_screen", True, True) in alerts   # acknowledged, kept
    assert ("measure", False, False) in alerts             # and the PHQ-9 item-9 alert still open
