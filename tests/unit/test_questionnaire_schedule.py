"""Questionnaires at the protocol's moments (domain/questionnaires.py): when each moment opens, is due
and closes, across daylight-saving changes; its status at a time; which responses cover it; and the
moments every shipped protocol asks for."""
from datetime import date, datetime, timezone
from pathlib import Path
from types import SimpleNamespace
from zoneinfo import ZoneInfo

import pytest
import yaml

from ketamine_integration.domain import questionnaires as q
from ketamine_integration.domain.protocols import validate_definition

NY = ZoneInfo("America/New_York")
UTC = timezone.utc
PROTOCOLS = Path(__file__).resolve().parents[2] / "protocols"


def utc(*args):
    return datetime(*args, tzinfo=UTC)


def ny(*args):
    return datetime(*args, tzinfo=NY).astimezone(UTC)


def plan(*at, follow_up_days=()):
    return (SimpleNamespace(measure="phq9", at=at, follow_up_days=follow_up_days),)


def times(**facts):
    return q.CourseTimes(enrolled_on=facts.pop("enrolled_on", date(2026, 3, 2)), **facts)


DOSE_MAR9 = q.Dose(11, 1, ny(2026, 3, 9, 10, 0))      # the day after the spring-forward night (Mar 8)
DOSE_NOV2 = q.Dose(12, 2, ny(2026, 11, 2, 10, 0))     # the day after the fall-back night (Nov 1)


@pytest.mark.parametrize("schedule, facts, expected", [
    # baseline before any dose is planned: open from the day of enrolment, with no end yet
    (plan("baseline"), times(), [("baseline", utc(2026, 3, 2, 5), None, None)]),
    # baseline once doses are planned: until the first dose starts, whatever order they come in
    (plan("baseline"), times(doses=(DOSE_NOV2, DOSE_MAR9)),
     [("baseline", utc(2026, 3, 2, 5), utc(2026, 3, 9, 14), utc(2026, 3, 9, 14))]),
    # before a dose the morning after the spring-forward night: from midnight EST of Mar 8 (05:00 UTC)
    # until the dose starts at 10:00 EDT (14:00 UTC)
    (plan("before_each_dosing"), times(doses=(DOSE_MAR9,)),
     [("before_each_dosing:11", utc(2026, 3, 8, 5), utc(2026, 3, 9, 14), utc(2026, 3, 9, 14))]),
    # before a dose the morning after the fall-back night: from midnight EDT of Nov 1 (04:00 UTC)
    # until 10:00 EST (15:00 UTC): the 25-hour day does not move either end
    (plan("before_each_dosing"), times(doses=(DOSE_NOV2,)),
     [("before_each_dosing:12", utc(2026, 11, 1, 4), utc(2026, 11, 2, 15), utc(2026, 11, 2, 15))]),
    # one moment per dose, in time order (a booster included: every dose not cancelled is listed)
    (plan("before_each_dosing"), times(doses=(DOSE_NOV2, DOSE_MAR9)),
     [("before_each_dosing:11", utc(2026, 3, 8, 5), utc(2026, 3, 9, 14), utc(2026, 3, 9, 14)),
      ("before_each_dosing:12", utc(2026, 11, 1, 4), utc(2026, 11, 2, 15), utc(2026, 11, 2, 15))]),
    # an integration session at 15:00 EDT: from the day before, due at its start, taken until its day ends
    (plan("each_integration"), times(sessions=(q.Session(31, ny(2026, 3, 10, 15)),)),
     [("each_integration:31", utc(2026, 3, 9, 4), utc(2026, 3, 10, 19), utc(2026, 3, 11, 4))]),
    # an integration session the day after the spring-forward night: opens at midnight EST of Mar 8
    (plan("each_integration"), times(sessions=(q.Session(32, ny(2026, 3, 9, 9)),)),
     [("each_integration:32", utc(2026, 3, 8, 5), utc(2026, 3, 9, 13), utc(2026, 3, 10, 4))]),
    # nothing after the series until it has ended
    (plan("end_of_series", "follow_up", follow_up_days=(30,)), times(), []),
    # end of series, last dose ended Mar 20 at noon: opens the next day, due a week later, taken 4 weeks
    (plan("end_of_series"), times(series_ended_at=ny(2026, 3, 20, 12)),
     [("end_of_series", utc(2026, 3, 21, 4), utc(2026, 3, 28, 4), utc(2026, 4, 18, 4))]),
    # a last dose that ended at 23:30 EST is on that clinic day (Jan 5), though UTC says Jan 6
    (plan("end_of_series"), times(series_ended_at=ny(2026, 1, 5, 23, 30)),
     [("end_of_series", utc(2026, 1, 6, 5), utc(2026, 1, 13, 5), utc(2026, 2, 3, 5))]),
    # follow-up 30 days after a series that ended in October (EDT), due in November (EST): opens 3 days
    # before the day (Nov 16, midnight EST), due at the end of the week around it, taken 2 weeks more
    (plan("follow_up", follow_up_days=(90, 30)), times(series_ended_at=ny(2026, 10, 20, 15)),
     [("follow_up:30", utc(2026, 11, 16, 5), utc(2026, 11, 23, 5), utc(2026, 12, 7, 5)),
      ("follow_up:90", utc(2027, 1, 15, 5), utc(2027, 1, 22, 5), utc(2027, 2, 5, 5))]),
    # a discontinued course: a moment opening after it goes; one open then closes then
    (plan("before_each_dosing"), times(doses=(DOSE_MAR9, DOSE_NOV2), stopped_at=utc(2026, 3, 9, 1)),
     [("before_each_dosing:11", utc(2026, 3, 8, 5), utc(2026, 3, 9, 1), utc(2026, 3, 9, 1))]),
    # a baseline still open (no dose planned) when the course is discontinued closes then
    (plan("baseline"), times(stopped_at=utc(2026, 3, 5, 12)),
     [("baseline", utc(2026, 3, 2, 5), utc(2026, 3, 5, 12), utc(2026, 3, 5, 12))]),
])
def test_when_each_moment_opens_is_due_and_closes(schedule, facts, expected):
    assert [(m.key, m.opens, m.due, m.closes) for m in q.moments(schedule, facts, NY)] == expected


BEFORE = q.Moment("phq9", q.BEFORE_DOSING, "before_each_dosing:11", "Before dosing session 1",
                  utc(2026, 3, 8, 5), utc(2026, 3, 9, 14), utc(2026, 3, 9, 14))
LATE_OK = q.Moment("phq9", q.END_OF_SERIES, "end_of_series", "At the end of your dosing series",
                   utc(2026, 3, 21, 4), utc(2026, 3, 28, 4), utc(2026, 4, 18, 4))
NO_END = q.Moment("phq9", q.BASELINE, "baseline", "Before your treatment starts", utc(2026, 3, 2, 5), None, None)


@pytest.mark.parametrize("moment, now, status", [
    (BEFORE, utc(2026, 3, 8, 4, 59), q.UPCOMING),    # a minute before the day before the dose begins
    (BEFORE, utc(2026, 3, 8, 5), q.OPEN),            # from midnight of the day before
    (BEFORE, utc(2026, 3, 9, 13, 59), q.OPEN),       # up to the dose's start
    (BEFORE, utc(2026, 3, 9, 14), q.MISSED),         # once the dose starts it can no longer be "before"
    (LATE_OK, utc(2026, 3, 27), q.OPEN),             # within the week after the series
    (LATE_OK, utc(2026, 3, 28, 4), q.OVERDUE),       # past its due time, still taken
    (LATE_OK, utc(2026, 4, 18, 4), q.MISSED),        # four weeks on: no longer counts for the moment
    (NO_END, utc(2027, 1, 1), q.OPEN),               # a baseline with no dose planned stays open
])
def test_the_status_of_a_moment_at_a_time(moment, now, status):
    assert moment.status_at(now) == status


def clinician(administered_on, entered_at, measure="phq9"):
    start, until = q.taken_span(administered_on, entered_at, NY)
    return q.Taken(1, measure, start, until)


def patient(at, measure="phq9"):
    return q.Taken(2, measure, at, at, True)


@pytest.mark.parametrize("taken, covers", [
    (patient(utc(2026, 3, 8, 18)), True),                        # the patient, the evening before the dose
    (patient(utc(2026, 3, 9, 14)), False),                       # the patient, at the dose's start: too late
    (patient(utc(2026, 3, 8, 4, 59)), False),                    # the patient, before the moment opened
    (patient(utc(2026, 3, 8, 18), measure="gad7"), False),       # another measure answers nothing here
    (clinician(date(2026, 3, 8), utc(2026, 3, 9, 15)), True),    # dated the day before, typed in after the dose
    (clinician(date(2026, 3, 9), utc(2026, 3, 9, 13)), True),    # dated the dose's day, entered before it began
    (clinician(date(2026, 3, 9), utc(2026, 3, 9, 16)), False),   # dated the dose's day, entered after: unknown
    (clinician(date(2026, 3, 7), utc(2026, 3, 7, 16)), False),   # two days before: before the moment opened
])
def test_which_response_covers_a_moment(taken, covers):
    assert BEFORE.covered_by(taken) is covers


def test_a_covered_moment_is_answered_and_names_its_response_whatever_the_time():
    facts = times(doses=(DOSE_MAR9,), responses=(patient(utc(2026, 3, 8, 18)),))
    [baseline, before] = q.asked_at(plan("baseline", "before_each_dosing"), facts, utc(2026, 12, 1), NY)
    # one questionnaire the evening before the first dose covers both the baseline and the dose
    assert (baseline.status, before.status) == (q.ANSWERED, q.ANSWERED)
    assert before.answered_by.by_patient and before.words == "Completed"
    assert q.find([baseline, before], "phq9", "before_each_dosing:11") is before
    assert q.find([baseline, before], "gad7", "before_each_dosing:11") is None


# -- every shipped protocol ------------------------------------------------------------------

SERIES_END = ny(2026, 4, 10, 12)
SHIPPED_TIMES = times(doses=(q.Dose(1, 1, ny(2026, 3, 9, 10)), q.Dose(2, 2, ny(2026, 3, 16, 10)),
                             q.Dose(3, 3, ny(2026, 3, 23, 10))),
                      sessions=(q.Session(7, ny(2026, 3, 11, 14)), q.Session(8, ny(2026, 3, 18, 14))),
                      series_ended_at=SERIES_END)
BEFORE_3 = ["before_each_dosing:1", "before_each_dosing:2", "before_each_dosing:3"]
INTEGRATION_2 = ["each_integration:7", "each_integration:8"]
#: each shipped file -> the moments its `measures:` asks, by measure, for SHIPPED_TIMES
SHIPPED = {
    # PHQ-9 before each esketamine dose, at the end and 28 and 84 days after; GAD-7 at both ends
    "esketamine-trd-rems.yaml": {"phq9": ["baseline", *BEFORE_3, "end_of_series", "follow_up:28", "follow_up:84"],
                                 "gad7": ["baseline", "end_of_series"]},
    # IM KAP: PHQ-9 at each integration session (not before doses); GAD-7 also at 90 days
    "im-ketamine-kap.yaml": {"phq9": ["baseline", *INTEGRATION_2, "end_of_series", "follow_up:30", "follow_up:90"],
                             "gad7": ["baseline", "end_of_series", "follow_up:90"]},
    # IV induction: PHQ-9 before each infusion, at the end, 30 and 90 days after
    "iv-ketamine-induction.yaml": {"phq9": ["baseline", *BEFORE_3, "end_of_series", "follow_up:30", "follow_up:90"],
                                   "gad7": ["baseline", "end_of_series"]},
    # sublingual KAP: PHQ-9 at each integration session; no follow-up
    "sublingual-ketamine-kap.yaml": {"phq9": ["baseline", *INTEGRATION_2, "end_of_series"],
                                     "gad7": ["baseline", "end_of_series"]},
}


def test_every_shipped_protocol_is_in_the_table():
    assert sorted(p.name for p in PROTOCOLS.glob("*.yaml")) == sorted(SHIPPED)


@pytest.mark.parametrize("name", sorted(SHIPPED))
def test_each_shipped_protocol_asks_its_measures_at_its_moments(name):
    protocol = validate_definition(yaml.safe_load((PROTOCOLS / name).read_text()), name)
    found = {}
    for moment in q.moments(protocol.measures, SHIPPED_TIMES, NY):
        found.setdefault(moment.measure, []).append(moment.key)
    assert {k: sorted(v) for k, v in found.items()} == {k: sorted(v) for k, v in SHIPPED[name].items()}
    # at a time after the series and before any follow-up opened: the baseline and the doses' moments
    # were missed (nothing answered), the end of the series is open
    asked = {(a.moment.measure, a.moment.key): a.status
             for a in q.asked_at(protocol.measures, SHIPPED_TIMES, ny(2026, 4, 12, 9), NY)}
    assert asked[("phq9", "baseline")] == q.MISSED and asked[("phq9", "end_of_series")] == q.OPEN
    assert all(status == q.UPCOMING for (_, key), status in asked.items() if key.startswith("follow_up"))
