"""Vital-sign rules (domain.vitals): flags per timepoint, required readings, clinical responses,
discharge criteria and monitoring computed from the recorded times."""
from datetime import datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import yaml

from ketamine_integration.domain.protocol_library import ProtocolLibrary
from ketamine_integration.domain.protocols import ProtocolError, validate_definition
from ketamine_integration.domain.signing import response_problems
from ketamine_integration.domain.vitals import (DEFAULT_RULES, DISCHARGE_CRITERIA, VITALS_IN_RANGE, Response,
                                                breaks_do_not_start, discharge_vitals_in_range, flags, flags_at,
                                                later_flags, later_time_problem, missing_readings,
                                                monitoring_minutes, qualifying_later, rechecked,
                                                substantive, unmet_discharge_criteria)

PROTOCOLS = Path(__file__).resolve().parents[2] / "protocols"
LIBRARY = ProtocolLibrary.load(PROTOCOLS)
ESKETAMINE = LIBRARY.find("esketamine-trd-rems", 3).protocol.vital_signs
IV = LIBRARY.find("iv-ketamine-induction", 3).protocol.vital_signs
NY = ZoneInfo("America/New_York")


def bp(systolic, diastolic, **others):
    return dict(systolic=systolic, diastolic=diastolic, **others)


@pytest.mark.parametrize("rules, timepoint, reading, expected", [
    # an unremarkable reading flags nothing, at any timepoint
    (IV, "baseline", bp(128, 82, heart_rate=72, spo2=98, respiratory_rate=14), []),
    (IV, "post_40", bp(150, 95, heart_rate=90, spo2=97), []),
    (IV, "discharge", bp(126, 80, heart_rate=70, spo2=98), []),
    # the review: 182/112 before dosing is past the do-not-start limit, flagged as that (once per reading)
    (IV, "baseline", bp(182, 112), [("systolic", True), ("diastolic", True)]),
    # exactly at the limit counts ("BP >= 180/110")
    (IV, "baseline", bp(180, 100), [("systolic", True), ("diastolic", False)]),
    # just under the do-not-start limit is still outside the pre-dose range
    (IV, "baseline", bp(179, 109), [("systolic", False), ("diastolic", False)]),
    # SpO2 92 is below the range (94) but not below the do-not-start limit (92)...
    (IV, "baseline", dict(spo2=92), [("spo2", False)]),
    # ...91 is
    (IV, "baseline", dict(spo2=91), [("spo2", True)]),
    # the 40-minute reading: 196/118 and SpO2 89 %
    (IV, "post_40", bp(196, 118, spo2=89), [("systolic", False), ("diastolic", False), ("spo2", False)]),
    # during dosing a rise to 170/105 is expected and not flagged...
    (IV, "post_40", bp(170, 105), []),
    # ...but the same reading at discharge is outside the discharge range
    (IV, "discharge", bp(170, 105), [("systolic", False), ("diastolic", False)]),
    # the discharge reading: 170/105 and SpO2 93 %
    (IV, "discharge", bp(170, 105, spo2=93), [("systolic", False), ("diastolic", False), ("spo2", False)]),
    # low readings flag too: hypotension, bradycardia, slow breathing
    (IV, "discharge", bp(85, 45, heart_rate=48, respiratory_rate=8),
     [("systolic", False), ("diastolic", False), ("heart_rate", False), ("respiratory_rate", False)]),
    # a fast breathing rate flags from 25
    (IV, "post_40", dict(respiratory_rate=25), [("respiratory_rate", False)]),
    # esketamine's label: above 140/90 before dosing deserves a response...
    (ESKETAMINE, "baseline", bp(141, 91), [("systolic", False), ("diastolic", False)]),
    # ...140/90 itself does not
    (ESKETAMINE, "baseline", bp(140, 90), []),
    # a version-1 snapshot (no vital_signs section) gets the conservative defaults
    (DEFAULT_RULES, "baseline", bp(182, 112), [("systolic", True), ("diastolic", True)]),
    (DEFAULT_RULES, "discharge", bp(126, 80, spo2=93), [("spo2", False)]),
    # a reading not taken is never flagged
    (IV, "baseline", dict(systolic=None, spo2=None), []),
])
def test_flags_per_timepoint(rules, timepoint, reading, expected):
    found = flags_at(timepoint, reading, rules)
    assert [(f.reading, f.do_not_start) for f in found] == expected
    assert all(f.timepoint == timepoint for f in found)


def test_a_flag_says_which_reading_and_which_rule_in_plain_words():
    [systolic, _] = flags_at("baseline", bp(182, 112), IV)
    assert systolic.words == ("Before dosing: systolic pressure 182 mmHg is at or above 180 mmHg "
                              "(the protocol's limit for starting a dose).")
    [spo2] = flags_at("discharge", dict(spo2=93), IV)
    assert spo2.words == "Before discharge: SpO2 93 % is below 94 % (outside the protocol's range)."


def test_flags_of_a_whole_record_come_in_timepoint_order():
    readings = {"discharge": bp(170, 80), "baseline": bp(182, 90)}
    assert [(f.timepoint, f.reading) for f in flags(readings, IV)] == [("baseline", "systolic"),
                                                                      ("discharge", "systolic")]


@pytest.mark.parametrize("rules, readings, expected", [
    # every required reading present
    (ESKETAMINE, {tp: bp(120, 80, heart_rate=70, spo2=98) for tp in ("baseline", "post_40", "discharge")}, []),
    # esketamine: blood pressure about 40 minutes after dosing is required (REMS)
    (ESKETAMINE, {"baseline": bp(120, 80, heart_rate=70, spo2=98),
                  "discharge": bp(120, 80, heart_rate=70, spo2=98)},
     ["blood pressure about 40 minutes after dosing", "heart rate about 40 minutes after dosing",
      "SpO2 about 40 minutes after dosing"]),
    # half a blood pressure is no blood pressure
    (IV, {"baseline": dict(systolic=120, heart_rate=70, spo2=98),
          "post_40": bp(120, 80, heart_rate=70, spo2=98), "discharge": bp(120, 80, heart_rate=70, spo2=98)},
     ["blood pressure before dosing"]),
    # version 1 required SpO2 before dosing only: its defaults keep that
    (DEFAULT_RULES, {"baseline": bp(120, 80, heart_rate=70, spo2=98), "post_40": bp(120, 80, heart_rate=70),
                     "discharge": bp(120, 80, heart_rate=70)}, []),
    (DEFAULT_RULES, {"baseline": bp(120, 80, heart_rate=70), "post_40": bp(120, 80, heart_rate=70),
                     "discharge": bp(120, 80, heart_rate=70)}, ["SpO2 before dosing"]),
])
def test_required_readings(rules, readings, expected):
    assert missing_readings(readings, rules) == expected


LATER = datetime(2026, 3, 3, 15, 0, tzinfo=timezone.utc)


@pytest.mark.parametrize("response, expected", [
    # no response at all
    (None, ["a documented clinical response to the flagged reading before dosing (what was done)"]),
    # only blanks under what was done
    (Response("baseline", "  ", 7, LATER, bp(130, 80)),
     ["a documented clinical response to the flagged reading before dosing (what was done)"]),
    # nobody named as deciding
    (Response("baseline", "Rested, repeated", None, LATER, bp(130, 80)),
     ["who decided the response to the flagged reading before dosing"]),
    # the later reading must re-measure what was flagged (here the diastolic is missing)...
    (Response("baseline", "Rested, repeated", 7, LATER, dict(systolic=130)),
     ["a later reading (diastolic pressure, with its time) after the flagged reading before dosing"]),
    # ...and say when it was taken
    (Response("baseline", "Rested, repeated", 7, None, bp(130, 80)),
     ["a later reading (the flagged readings, with its time) after the flagged reading before dosing"]),
    # complete: nothing more is needed, even if the later reading is still high (the clinician decided)
    (Response("baseline", "Prescriber reviewed; dose postponed", 7, LATER, bp(176, 104)), []),
])
def test_a_flagged_reading_needs_a_documented_response(response, expected):
    found = flags_at("baseline", bp(182, 112), IV)
    assert response_problems(found, {"baseline": response} if response else {}) == expected


def test_no_flag_needs_no_response():
    assert response_problems([], {}) == []


@pytest.mark.parametrize("discharge, later, in_range", [
    # within range at discharge
    (bp(126, 80, spo2=98), None, True),
    # outside, nothing re-measured
    (bp(170, 105, spo2=98), None, False),
    # outside, then back within range on the later reading
    (bp(170, 105, spo2=98), bp(150, 92), True),
    # the later reading re-measured the blood pressure only; the low SpO2 stands
    (bp(170, 105, spo2=93), bp(150, 92), False),
])
def test_discharge_vitals_are_read_not_ticked(discharge, later, in_range):
    assert discharge_vitals_in_range(discharge, later, IV) is in_range


@pytest.mark.parametrize("checks, vitals_ok, unmet", [
    # every criterion met
    ({key: True for key in DISCHARGE_CRITERIA}, True, []),
    # one answered no
    (dict({key: True for key in DISCHARGE_CRITERIA}, accompanied=False), True,
     ["Leaves with a responsible adult and will not drive today"]),
    # not answered is not met
    ({}, True, list(DISCHARGE_CRITERIA.values())),
    # ticks cannot stand in for the readings
    ({key: True for key in DISCHARGE_CRITERIA}, False, [VITALS_IN_RANGE]),
])
def test_discharge_criteria_are_explicit_items(checks, vitals_ok, unmet):
    assert unmet_discharge_criteria(checks, vitals_ok) == unmet


def _local(*args, fold=0):
    return datetime(*args, tzinfo=NY, fold=fold)


@pytest.mark.parametrize("start, discharge, minutes", [
    # an ordinary day: 9:00 to 11:10
    (_local(2026, 6, 1, 9, 0), _local(2026, 6, 1, 11, 10), 130),
    # the typed 90 minutes whose start-to-discharge was 50
    (_local(2026, 6, 1, 9, 0), _local(2026, 6, 1, 9, 50), 50),
    # autumn change, Nov 1 2026: 00:50 EDT to 01:10 EST (the second 1 am) is 80 minutes, not 20
    (_local(2026, 11, 1, 0, 50), _local(2026, 11, 1, 1, 10, fold=1), 80),
    # autumn: 1:30 EDT to 1:30 EST, the same wall-clock time, is an hour
    (_local(2026, 11, 1, 1, 30), _local(2026, 11, 1, 1, 30, fold=1), 60),
    # spring change, Mar 8 2026: 1:30 EST to 3:30 EDT is one hour, not two
    (_local(2026, 3, 8, 1, 30), _local(2026, 3, 8, 3, 30), 60),
    # stored values are UTC: the same instants give the same minutes
    (_local(2026, 3, 8, 1, 30).astimezone(timezone.utc), _local(2026, 3, 8, 3, 30).astimezone(timezone.utc), 60),
    # seconds do not round up a minute the patient was not watched
    (datetime(2026, 6, 1, 13, 0, tzinfo=timezone.utc), datetime(2026, 6, 1, 14, 59, 59, tzinfo=timezone.utc), 119),
    # a time not recorded yet: nothing to compute
    (_local(2026, 6, 1, 9, 0), None, None),
    # the review's draft: discharge an hour before the start is never -60 minutes of monitoring
    (_local(2026, 6, 1, 9, 0), _local(2026, 6, 1, 8, 0), None),
    # discharge at the very minute dosing started: no monitoring, not negative
    (_local(2026, 6, 1, 9, 0), _local(2026, 6, 1, 9, 0), 0),
])
def test_monitoring_is_computed_from_the_recorded_times(start, discharge, minutes):
    assert monitoring_minutes(start, discharge) == minutes


def test_monitoring_refuses_naive_times():
    with pytest.raises(ValueError):
        monitoring_minutes(datetime(2026, 6, 1, 9), datetime(2026, 6, 1, 11))


def _iv_definition() -> dict:
    return yaml.safe_load((PROTOCOLS / "iv-ketamine-induction.yaml").read_text())


@pytest.mark.parametrize("change, path, problem", [
    # a typo in a reading's name must not silently drop a limit
    (lambda v: v["baseline"]["flag"].update(sistolic={"at_or_above": 160}), "vital_signs.baseline.flag.sistolic",
     "unknown key"),
    # a limit with neither bound limits nothing
    (lambda v: v["post_40"]["flag"].update(systolic={}), "vital_signs.post_40.flag.systolic",
     "give below, at_or_above or both"),
    # bounds the wrong way round: no reading would be in range
    (lambda v: v["discharge"]["flag"].update(systolic={"below": 160, "at_or_above": 90}),
     "vital_signs.discharge.flag.systolic", "below (160) must be lower than at_or_above (90)"),
    # a number no monitored adult shows is a typing error
    (lambda v: v["baseline"]["flag"].update(spo2={"below": 940}), "vital_signs.baseline.flag",
     "spo2: 940 % is outside what a monitored adult can show"),
    # a number written as text
    (lambda v: v["baseline"]["flag"].update(spo2={"below": "94"}), "vital_signs.baseline.flag.spo2.below",
     "valid integer"),
    # a do-not-start limit milder than the flag would stop a dose without flagging it
    (lambda v: v["baseline"]["do_not_start"].update(systolic={"at_or_above": 150}), "vital_signs.baseline",
     "do_not_start.systolic.at_or_above (150) is below flag.systolic.at_or_above (160)"),
    (lambda v: v["baseline"]["do_not_start"].update(spo2={"below": 96}), "vital_signs.baseline",
     "do_not_start.spo2.below (96) is above flag.spo2.below (94)"),
    # do-not-start is a pre-dose rule
    (lambda v: v["post_40"].update(do_not_start={"systolic": {"at_or_above": 200}}), "vital_signs",
     "do_not_start applies before dosing only"),
    # an unknown measurement required
    (lambda v: v["baseline"].update(required=["blood_pressure", "temperature"]), "vital_signs.baseline.required[1]",
     "must be 'blood_pressure'"),
    (lambda v: v["baseline"].update(required=["spo2", "spo2"]), "vital_signs.baseline", "more than once"),
    # numbers without their sources
    (lambda v: v.update(sources=[]), "vital_signs", "sources: cite where the limits come from"),
    (lambda v: v["sources"][0].pop("source"), "vital_signs.sources[0].source", "required key is missing"),
    # a timepoint the record does not know
    (lambda v: v.update(during={"required": []}), "vital_signs.during", "unknown key"),
])
def test_each_kind_of_broken_threshold_names_file_and_field(change, path, problem):
    data = _iv_definition()
    change(data["vital_signs"])
    with pytest.raises(ProtocolError) as caught:
        validate_definition(data, "broken.yaml")
    lines = caught.value.lines()
    assert any(line.startswith(f"broken.yaml: {path}: ") and problem in line for line in lines), lines


def test_a_version_1_definition_without_the_section_still_parses():
    data = _iv_definition()
    del data["vital_signs"]
    protocol = validate_definition(dict(data, version=1), "v1.yaml")
    assert protocol.vital_signs == DEFAULT_RULES


def test_every_shipped_protocol_cites_its_sources_and_requires_the_rems_readings():
    for entry in LIBRARY.valid_entries():
        assert entry.protocol.vital_signs.sources, entry.protocol.id
    assert set(ESKETAMINE.post_40.required) >= {"blood_pressure", "spo2"}


@pytest.mark.parametrize("action, says_something", [
    # the review's placeholders
    (".", False),
    ("x", False),
    # nine characters, or ten spread over whitespace that collapses to nine
    ("Repeated.", False),
    ("R e p e a t e d .", False),
    ("   \n\t  ", False),
    (None, False),
    # ten characters, spaces not counted
    ("Rechecked.", True),
    ("Rested 15 min, repeated", True),
])
def test_what_was_done_is_in_words(action, says_something):
    assert substantive(action) is says_something


START = datetime(2026, 6, 1, 13, 0, tzinfo=timezone.utc)
DISCHARGE = datetime(2026, 6, 1, 15, 10, tzinfo=timezone.utc)


def _at(minutes: int) -> datetime:
    return START + timedelta(minutes=minutes)


@pytest.mark.parametrize("timepoint, minutes, problem", [
    # a re-check before dosing, five minutes before the start
    ("baseline", -5, None),
    # at the very minute dosing started: still before it
    ("baseline", 0, None),
    # exactly three hours before: still this morning's reading
    ("baseline", -180, None),
    # after the start: not a pre-dose reading
    ("baseline", 10, "taken before dosing starts"),
    # the evening before (the review: the check allowed 12 hours)
    ("baseline", -181, "more than 3 hours before dosing started"),
    # the review: a 40-minute re-check timed before dosing started
    ("post_40", -30, "comes after the start of dosing"),
    # nor at the start itself
    ("post_40", 0, "comes after the start of dosing"),
    # fifty minutes in: answers the 40-minute flag
    ("post_40", 50, None),
    # a discharge re-check before the patient leaves
    ("discharge", 125, None),
    # at discharge itself
    ("discharge", 130, None),
    # after the patient left
    ("discharge", 131, "after discharge"),
    # the 40-minute re-check after discharge too
    ("post_40", 140, "after discharge"),
])
def test_a_later_reading_comes_after_what_it_answers(timepoint, minutes, problem):
    found = later_time_problem(timepoint, _at(minutes), START, DISCHARGE)
    assert (found is None) if problem is None else (problem in found)


def test_a_later_reading_without_known_times_is_not_judged_yet():
    # a draft without a start time: the signature needs one, and judges the re-check then
    assert later_time_problem("post_40", _at(-30), None, None) is None
    # no discharge yet: only the start bounds a 40-minute re-check
    assert later_time_problem("post_40", _at(500), START, None) is None


@pytest.mark.parametrize("response, expected", [
    # "." under what was done
    (Response("baseline", ".", 7, _at(-5), bp(150, 95)),
     ["what was done about the flagged reading before dosing, in words (at least 10 characters)"]),
    # a re-check of the pre-dose reading taken after dosing started
    (Response("baseline", "Rested, repeated", 7, _at(10), bp(150, 95)),
     ["a later reading taken when it can answer the flagged reading before dosing (A re-check of the reading "
      "before dosing is taken before dosing starts.)"]),
    # complete and in time
    (Response("baseline", "Rested, repeated", 7, _at(-5), bp(150, 95)), []),
])
def test_a_response_is_judged_against_the_recorded_times(response, expected):
    found = flags_at("baseline", bp(182, 112), IV)
    assert response_problems(found, {"baseline": response}, START, DISCHARGE) == expected


@pytest.mark.parametrize("timepoint, later, expected", [
    # a re-check before dosing back under the range: nothing to show
    ("baseline", bp(130, 80), []),
    # still past the do-not-start limit: the dose was given above it
    ("baseline", bp(184, 112),
     ["Later reading before dosing: systolic pressure 184 mmHg is at or above 180 mmHg (dosed above the "
      "do-not-start limit).",
      "Later reading before dosing: diastolic pressure 112 mmHg is at or above 110 mmHg (dosed above the "
      "do-not-start limit)."]),
    # under the do-not-start limit but still flagged
    ("baseline", dict(systolic=170), ["Later reading before dosing: systolic pressure 170 mmHg is at or above "
                                      "160 mmHg (still outside the protocol's range)."]),
    # a low reading names the low side of the range only
    ("baseline", dict(systolic=84), ["Later reading before dosing: systolic pressure 84 mmHg is below 90 mmHg "
                                     "(still outside the protocol's range)."]),
    # a discharge re-check still low on SpO2
    ("discharge", dict(spo2=93), ["Later reading before discharge: SpO2 93 % is below 94 % (still outside the "
                                  "protocol's range)."]),
])
def test_a_later_reading_is_checked_against_the_same_timepoints_limits(timepoint, later, expected):
    assert later_flags(timepoint, later, IV) == expected


@pytest.mark.parametrize("baseline, later, broken", [
    # past the limit, no re-check
    (bp(182, 112), None, True),
    # past the limit, re-checked below it
    (bp(182, 112), bp(150, 95), False),
    # re-checked, still past it
    (bp(182, 112), bp(181, 100), True),
    # the re-check measured the pressure only; SpO2 91 before dosing stands
    (bp(150, 90, spo2=91), bp(140, 85), True),
    # flagged, but under the do-not-start limit
    (bp(170, 100), None, False),
])
def test_acceptable_before_dosing_follows_the_reading_or_its_recheck(baseline, later, broken):
    assert breaks_do_not_start(baseline, later, IV) is broken


@pytest.mark.parametrize("minutes, counts", [
    # taken before discharge: stands for the discharge reading
    (125, True),
    # after the patient left: does not
    (140, False),
    # before dosing started: does not
    (-10, False),
])
def test_only_a_qualifying_later_reading_stands_for_the_discharge_reading(minutes, counts):
    response = Response("discharge", "Observed longer, repeated", 7, _at(minutes), bp(150, 92))
    later = qualifying_later("discharge", response, START, DISCHARGE)
    assert (later is not None) is counts
    assert discharge_vitals_in_range(bp(170, 105), later, IV) is counts


def test_a_recheck_replaces_only_what_it_re_measured():
    assert rechecked(bp(182, 112, spo2=91), dict(systolic=150)) == dict(
        systolic=150, diastolic=112, heart_rate=None, spo2=91, respiratory_rate=None)


def test_the_form_carries_each_timepoints_limits_as_the_server_applies_them():
    """The record form flags as typed with these (static/vitals.js); a reading without limits is left out."""
    from ketamine_integration.domain.vitals import form_limits, flags_at

    before = form_limits("baseline", IV)
    assert before["systolic"]["stop"] == {"below": None, "at_or_above": 180}
    assert (before["spo2"]["name"], before["spo2"]["unit"]) == ("SpO2", "%")
    # every upper limit the form carries is one flags_at applies: a value at it is flagged, as that kind
    checked = 0
    for reading, rule in before.items():
        for kind in ("stop", "flag"):
            limit = rule[kind]
            if limit and limit["at_or_above"] is not None:
                [flag] = flags_at("baseline", {reading: limit["at_or_above"]}, IV)
                assert flag.do_not_start == (kind == "stop"), (reading, kind)
                checked += 1
    assert checked >= 3  # systolic and diastolic stops, and at least one range
