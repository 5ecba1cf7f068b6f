"""When prescriber reports fall due under a protocol's coordination rules."""
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

from ketamine_integration.coordination.services import due_triggers
from ketamine_integration.domain.protocol_library import read_protocol_file

PROTOCOLS = Path(__file__).resolve().parents[2] / "protocols"
T0 = datetime(2026, 3, 2, 14, tzinfo=timezone.utc)


@dataclass
class Session:
    sequence: int
    ended_at: datetime


def _iv():
    return read_protocol_file(PROTOCOLS / "iv-ketamine-induction.yaml")[0]


def test_iv_reports_fall_due_after_the_third_infusion_and_at_the_end_of_the_series():
    protocol = _iv()   # report_after_dosing: [3], report_at_end_of_series: true, 6 infusions
    sessions = [Session(n, T0 + timedelta(days=2 * (n - 1))) for n in range(1, 7)]
    assert due_triggers(protocol, sessions[:2], T0, T0 + timedelta(days=3)) == []
    assert due_triggers(protocol, sessions[:3], T0, T0 + timedelta(days=5)) == [
        (sessions[2].ended_at, "after dosing session 3", "dosing")]
    assert due_triggers(protocol, sessions, T0, T0 + timedelta(days=11))[-1] == (
        sessions[5].ended_at, "at the end of the series", "dosing")


def test_a_periodic_rule_falls_due_every_n_days():
    protocol = _iv().model_copy(update={"coordination": _iv().coordination.model_copy(
        update={"report_after_dosing": (), "report_at_end_of_series": False, "report_every_days": 14})})
    triggers = due_triggers(protocol, [], T0, T0 + timedelta(days=30))
    assert [(t, needs) for t, _why, needs in triggers] == [(T0 + timedelta(days=14), None),
                                                           (T0 + timedelta(days=28), None)]
