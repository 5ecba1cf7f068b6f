"""Dosing rules as tables: stage-aware spacing for each shipped protocol, dose plausibility, vitals."""
from datetime import date, timedelta
from pathlib import Path

import pytest

from ketamine_integration.domain.dosing import (VITAL_RANGES, ceiling_problem, dose_verdict, mg_per_kg,
                                                spacing_problems, stage_of)
from ketamine_integration.domain.protocol_library import ProtocolLibrary

LIBRARY = ProtocolLibrary.load(Path(__file__).resolve().parents[2] / "protocols")
#: each shipped protocol as a new course would start on it (IM KAP is at version 4)
NEWEST = {entry.protocol.id: entry.protocol for entry in LIBRARY.newest()}
IV, IM, SL, ESK = (NEWEST[p].experience for p in (
    "iv-ketamine-induction", "im-ketamine-kap", "sublingual-ketamine-kap", "esketamine-trd-rems"))
D0 = date(2026, 3, 2)  # a Monday


def days(*offsets):
    return [D0 + timedelta(days=o) for o in offsets]


def gaps(*steps, start=0):
    """Dates from a list of gaps: gaps(3, 4) is day 0, day 3, day 7."""
    offsets = [start]
    for step in steps:
        offsets.append(offsets[-1] + step)
    return days(*offsets)


TWICE_WEEKLY = (3, 4, 3, 4, 3, 4, 3)         # Monday/Thursday for four weeks: 8 doses
WEEKLY = (7, 7, 7, 7)                         # weeks 5-8: 4 doses


@pytest.mark.parametrize("rule, series, maintenance, expected", [
    # --- esketamine: 8 twice weekly (3-4 days, within 28), 4 weekly (6-8 days), series within 56 days
    (ESK, gaps(*TWICE_WEEKLY, *WEEKLY), [], []),                            # the label's schedule
    (ESK, gaps(*[3] * 11), [], ["2026-03-23 to 2026-03-26 is 3 days; the protocol's weeks 5-8 (weekly) asks "
                               "for at least 6"] + ["asks for at least 6"] * 3),  # demo course 21: every 3 days
    (ESK, gaps(*TWICE_WEEKLY, *WEEKLY[:2]), [], []),                        # part-way through weeks 5-8
    (ESK, gaps(2, 5), [], ["is 2 days; the protocol's induction (weeks 1-4, twice weekly) asks for at least 3",
                          "is 5 days; the protocol's induction (weeks 1-4, twice weekly) allows at most 4"]),
    (ESK, gaps(*TWICE_WEEKLY, *WEEKLY), days(56 + 7, 56 + 21), []),         # maintenance weekly, then every 2 weeks
    (ESK, gaps(*TWICE_WEEKLY, *WEEKLY), days(56 + 7, 56 + 10), ["is 3 days; the protocol's maintenance"]),
    (ESK, gaps(*TWICE_WEEKLY, *WEEKLY), days(56 + 7, 56 + 30), ["is 23 days; the protocol's maintenance "
                                                                "(weekly or every two weeks) allows at most 15"]),
    (ESK, gaps(*TWICE_WEEKLY, *WEEKLY), days(56 + 7, 56 + 7), ["Two dosing sessions on 2026-05-04"]),
    (ESK, gaps(*TWICE_WEEKLY, *WEEKLY, 7), [], ["13 dosing sessions; the protocol's series has at most 12",
                                               "The series spans 59 days"]),
    # --- IV: 6 infusions 2-4 days apart (2-3 a week), within 21 days; boosters at least 7 days apart
    (IV, days(0, 2, 4, 7, 9, 11), [], []),                                  # Monday/Wednesday/Friday
    (IV, days(0, 3, 7, 10, 14, 17), [], []),                                # twice a week
    (IV, days(0, 1, 2, 3, 4, 5), [], ["is 1 day; the protocol's induction series"] * 5),  # six daily infusions
    (IV, days(0, 2, 7), [], ["is 5 days; the protocol's induction series (2-3 infusions a week) allows at most 4"]),
    (IV, days(0, 2, 4, 7, 9, 11), days(40, 43), ["is 3 days; the protocol's maintenance boosters asks for at least 7"]),
    (IV, days(0, 2, 4, 7, 9, 11), days(40, 120), []),                       # boosters when symptoms return
    (IV, days(0, 0), [], ["Two dosing sessions on 2026-03-02"]),
    # --- IM KAP: 3-6 sessions 4-14 days apart within 56; maintenance at least 14 days apart
    (IM, days(0, 7, 14), [], []),                                           # the minimum series
    (IM, days(0, 7, 14, 21, 28, 35), [], []),                               # the longest series
    (IM, days(0, 7, 14, 21, 28, 35, 42), [], ["7 dosing sessions; the protocol's series has at most 6"]),
    (IM, days(0, 2), [], ["is 2 days; the protocol's KAP series (3-6 sessions) asks for at least 4"]),
    (IM, days(0, 7, 14), days(50, 51), ["is 1 day; the protocol's maintenance asks for at least 14"]),
    (IM, days(0, 7, 14), days(14), ["Two dosing sessions on 2026-03-16"]),  # a maintenance dose on a series day
    # --- sublingual KAP: 6 sessions 3-14 days apart within 56
    (SL, days(0, 7, 14, 21, 28, 35), [], []),
    (SL, days(0, 7, 14, 21, 28, 57), [], ["is 29 days", "The series spans 57 days"]),
])
def test_spacing_follows_the_stages(rule, series, maintenance, expected):
    problems = spacing_problems(series, rule, maintenance)
    assert len(problems) == len(expected), problems
    for problem, fragment in zip(problems, expected):
        assert fragment in problem


def test_order_of_the_dates_does_not_matter():
    assert spacing_problems(list(reversed(gaps(*TWICE_WEEKLY, *WEEKLY))), ESK) == []


@pytest.mark.parametrize("rule, number, maintenance, stage, first", [
    (ESK, 1, False, "induction (weeks 1-4, twice weekly)", True),    # day 1: 56 mg
    (ESK, 8, False, "induction (weeks 1-4, twice weekly)", False),
    (ESK, 9, False, "weeks 5-8 (weekly)", True),
    (ESK, 13, False, None, False),                                    # past the series
    (ESK, 1, True, "maintenance (weekly or every two weeks)", True),
    (IM, 6, False, "KAP series (3-6 sessions)", False),
])
def test_stage_of_a_dose(rule, number, maintenance, stage, first):
    found, is_first = stage_of(number, rule, maintenance=maintenance)
    assert (found.name if found else None, is_first) == (stage, first)


def _route(rule) -> str:
    return next(route for experience, route in ((IV, "iv"), (IM, "im"), (SL, "sublingual"), (ESK, "intranasal"))
                if experience is rule)


@pytest.mark.parametrize("dose, weight, ceiling, weight_based, expected", [
    # the clinic's ceiling, in mg and in mg/kg for this patient's weight on a weight-based route
    (600, 70, 500, True, "600 mg is 8.571 mg/kg for 70 kg; the clinic's ceiling for ketamine is 500 mg "
                         "(7.143 mg/kg for 70 kg): check for a typing error."),
    # no weight yet: in mg only
    (600, None, 500, True, "600 mg is above the clinic's ceiling of 500 mg for ketamine: check for a typing error."),
    # sublingual: the weight is not used
    (600, 70, 500, False, "600 mg is above the clinic's ceiling of 500 mg for ketamine"),
    (500, 70, 500, True, None),                                  # at the ceiling: allowed
    (0, 70, 500, True, "The dose must be above 0 mg."),          # nothing given is no dose
    (2000, 70, None, True, None),                                # no ceiling configured for the medication
])
def test_the_clinic_ceiling_says_the_dose_in_both_units(dose, weight, ceiling, weight_based, expected):
    found = ceiling_problem(dose, weight, ceiling, "ketamine", weight_based=weight_based)
    assert (found is None) == (expected is None) and (expected is None or expected in found), found


def _usual(rule, number=2):
    stage, first = stage_of(number, rule)
    return stage.usual_for(first, rule.dose)


@pytest.mark.parametrize("rule, dose, weight, number, refused, unusual", [
    (IV, 35, 70, 2, None, None),                         # 0.5 mg/kg: usual
    (IV, 70, 70, 2, None, None),                         # 1.0 mg/kg: the top of the usual range
    (IV, 29.2, 58.5, 2, None, None),                     # 0.499 mg/kg is the 0.5 mg/kg meant
    (IV, 105, 70, 2, None, "1.5 mg/kg is outside this protocol's usual doses here (0.5–1 mg/kg)"),
    # 5 mg/kg IV: refused as a typo, said in mg and in mg/kg for this weight, the limit in both
    (IV, 350, 70, 2, "350 mg is 5 mg/kg for 70 kg; the protocol's hard limit is 2 mg/kg IV (140 mg for 70 kg): "
                     "check for a typing error.", None),
    # beyond the hard mg/kg range of any protocol
    (IV, 420, 70, 2, "420 mg is 6 mg/kg for 70 kg; a plausible dose is 0.01–5 mg/kg (0.7–350 mg for 70 kg)", None),
    # a tenth of what was meant (0.5 for 50 mg): far below the range, in both units
    (IV, 0.5, 70, 2, "0.5 mg is 0.007 mg/kg for 70 kg; a plausible dose is", None),
    # the review's 105 mg IM for a lighter patient: 2.1 mg/kg is usual for IM KAP's limit of 3...
    (IM, 105, 50, 2, None, "2.1 mg/kg is outside"),
    # ...and 231 mg for 70 kg is past it: 3.3 mg/kg, the limit 3 mg/kg IM is 210 mg for this weight
    (IM, 231, 70, 2, "231 mg is 3.3 mg/kg for 70 kg; the protocol's hard limit is 3 mg/kg IM (210 mg for 70 kg)",
     None),
    # the limit follows the weight used: 231 mg for 80 kg is 2.888 mg/kg, under IM's limit (unusual only)
    (IM, 231, 80, 2, None, "2.888 mg/kg is outside"),
    (IV, 35, None, 2, None, None),                       # no weight yet: mg/kg rules wait for it
    (IM, 105, 70, 2, None, None),                        # 1.5 mg/kg IM: usual
    (IM, 10, 70, 2, None, "0.143 mg/kg is outside"),     # far below the usual
    (ESK, 56, None, 1, None, None),                      # day 1: 56 mg
    (ESK, 84, None, 1, None, "84 mg is outside this protocol's usual doses here (56 mg)"),  # 84 on day 1
    (ESK, 84, None, 2, None, None),                      # then 56 or 84
    (ESK, 70, None, 2, None, "(56 or 84 mg)"),           # not a dose the devices give
    (ESK, 112, None, 2, "112 mg is above the protocol's hard limit of 84 mg intranasal", None),  # fixed doses: mg
    (SL, 200, 70, 2, None, None),                        # sublingual is in mg; the weight is not used
    (SL, 450, 70, 2, None, "450 mg is outside"),
    (SL, 600, 70, 2, "600 mg is above the protocol's hard limit of 500 mg sublingual", None),  # not weight-based
])
def test_dose_plausibility(rule, dose, weight, number, refused, unusual):
    verdict = dose_verdict(dose, weight, rule.dose, _usual(rule, number), weight_based=rule.dose.unit == "mg/kg",
                           route=_route(rule))
    if refused is None or unusual is None:
        assert (verdict.refused is None) == (refused is None) and (verdict.unusual is None) == (unusual is None), verdict
    for fragment, found in ((refused, verdict.refused), (unusual, verdict.unusual)):
        assert fragment is None or fragment in found, verdict


def test_two_mg_per_kg_iv_is_unusual_but_not_refused():
    verdict = dose_verdict(140, 70, IV.dose, _usual(IV), weight_based=True)
    assert verdict.refused is None and "2 mg/kg is outside" in verdict.unusual


@pytest.mark.parametrize("field, value, ok", [
    ("systolic", 20, False),      # the example
    ("systolic", 50, True),       # lowest plausible
    ("systolic", 260, True),
    ("systolic", 261, False),
    ("spo2", 140, False),         # the example
    ("spo2", 100, True),
    ("spo2", 49, False),
    ("heart_rate", 24, False),
    ("diastolic", 80, True),
])
def test_vital_ranges(field, value, ok):
    assert (VITAL_RANGES[field].problem(value, field) is None) == ok


def test_mg_per_kg():
    assert mg_per_kg(35, 70) == 0.5
    assert mg_per_kg(40, 81.5) == 0.491
