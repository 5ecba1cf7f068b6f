"""When prescriber reports fall due under a protocol's coordination rules, since when, and which rule
made them due, in plain words (coordination.due)."""
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from ketamine_integration.coordination.due import DueReport, DueTrigger, due_triggers, unreported
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
    assert [t[:3] for t in due_triggers(protocol, sessions[:3], T0, T0 + timedelta(days=5))] == [
        (sessions[2].ended_at, "after dosing session 3", "dosing")]
    assert due_triggers(protocol, sessions, T0, T0 + timedelta(days=11))[-1][:3] == (
        sessions[5].ended_at, "at the end of the series (dosing session 6)", "dosing")


def test_a_periodic_rule_falls_due_every_n_days():
    protocol = _iv().model_copy(update={"coordination": _iv().coordination.model_copy(
        update={"report_after_dosing": (), "report_at_end_of_series": False, "report_every_days": 14})})
    triggers = due_triggers(protocol, [], T0, T0 + timedelta(days=30))
    assert [(t, needs) for t, _why, needs in triggers] == [(T0 + timedelta(days=14), None),
                                                           (T0 + timedelta(days=28), None)]


def _periodic(days):
    return _iv().model_copy(update={"coordination": _iv().coordination.model_copy(update={"report_every_days": days})})


@pytest.mark.parametrize("protocol, done, days_later, why", [
    # after the third infusion
    (_iv(), 3, 5, "after dosing session 3"),
    # the series' last infusion: both the third's and the last's rules, each said once
    (_iv(), 6, 11, "after dosing session 3 and at the end of the series (dosing session 6)"),
    # every 7 days from the course's start, here with no infusion yet: said once, however many times it fell due
    (_periodic(7), 0, 15, "every 7 days from the start of the course"),
])
def test_a_due_report_says_which_rules_made_it_due_in_plain_words(protocol, done, days_later, why):
    """Review of issue 20: the worklist's line named protocol file fields ("coordination.report_after_dosing")."""
    sessions = [Session(n, T0 + timedelta(days=2 * (n - 1))) for n in range(1, done + 1)]
    report = DueReport(course=None, triggers=tuple(due_triggers(protocol, sessions, T0, T0 + timedelta(days=days_later))),
                       missing=None)
    assert report.why == why and "coordination." not in report.why


AT = [T0 + timedelta(days=d) for d in (4, 10, 14)]
TRIGGERS = [DueTrigger(AT[0], "after dosing session 3", "dosing"),
            DueTrigger(AT[1], "at the end of the series", "dosing"),
            DueTrigger(AT[2], "every 14 days", None)]


@pytest.mark.parametrize("latest_report, since, why", [
    # no report yet: due since the first rule fell due, and every later one is said too
    (None, AT[0], "after dosing session 3, at the end of the series and every 14 days"),
    # a report after the third infusion: due since the end of the series
    (AT[0] + timedelta(hours=1), AT[1], "at the end of the series and every 14 days"),
    # a report written at the very moment a rule fell due covers it
    (AT[1], AT[2], "every 14 days"),
])
def test_a_report_is_due_since_the_first_rule_after_the_latest_report(latest_report, since, why):
    report = DueReport(course=None, triggers=unreported(TRIGGERS, latest_report), missing=None)
    assert (report.since, report.why) == (since, why)


def test_a_report_written_after_every_rule_is_not_due():
    assert unreported(TRIGGERS, AT[2] + timedelta(minutes=1)) == ()

