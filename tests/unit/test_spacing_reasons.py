"""Spacing override reasons as tables: which doses a spacing problem involves, and when a reason
already given still stands (attack review of issue 19: a reason given at planning covered a dose
later recorded on another day, and a nurse could rely on it)."""
from datetime import date, timedelta
from pathlib import Path

import pytest

from ketamine_integration.domain.dosing import spacing_findings, spacing_verdict
from ketamine_integration.domain.protocol_library import ProtocolLibrary

LIBRARY = ProtocolLibrary.load(Path(__file__).resolve().parents[2] / "protocols")
#: each shipped protocol as a new course would start on it (IM KAP is at version 4)
NEWEST = {entry.protocol.id: entry.protocol for entry in LIBRARY.newest()}
IV, IM, ESK = (NEWEST[p].experience for p in (
    "iv-ketamine-induction", "im-ketamine-kap", "esketamine-trd-rems"))
D0 = date(2026, 12, 2)


def days(*offsets):
    return [D0 + timedelta(days=o) for o in offsets]


@pytest.mark.parametrize("rule, series, maintenance, involved", [
    # each row: the problems found, as (fragment, positions of the doses involved: series first, then maintenance)
    (IM, days(0, 7, 14), days(28), []),                                        # a compliant booster: nothing
    (IM, days(0, 7, 14), days(26), [("is 12 days", {2, 3})]),                 # a booster 12 days after the last dose
    (IM, days(0, 7, 14), days(40, 52), [("is 12 days", {3, 4})]),             # boosters 12 days apart: both
    (IM, days(0, 7, 14), days(40, 40, 40), [("Two dosing sessions", {3, 4}),  # three boosters on one day:
                                             ("Two dosing sessions", {4, 5})]),  # each pair named
    (IM, days(14, 0, 7), days(14), [("Two dosing sessions on 2026-12-16", {0, 3})]),  # any order in, positions kept
    (IV, days(0, 2, 4, 7, 9, 11, 13), [], [("7 dosing sessions", {0, 1, 2, 3, 4, 5, 6})]),  # count: every series dose
    (IV, days(0, 2, 9), [], [("is 7 days", {1, 2})]),                           # a gap: the two doses around it
    (ESK, days(0, 3, 7, 10, 14, 17, 21, 24, 31), [], []),                       # weeks 5-8 start a week later: fine
    (ESK, days(0, 4, 8, 12, 16, 20, 24, 29), [],                               # induction spans 29 days: every
     [("is 5 days", {6, 7}), ("spans 29 days", set(range(8)))]),               # dose of the stage
    (IV, days(0, 2, 4, 7, 9, 11, 25), [],                                       # series span: its first and last day
     [("7 dosing sessions", set(range(7))), ("The series spans 25 days", {0, 6})]),
])
def test_each_spacing_problem_names_the_doses_it_involves(rule, series, maintenance, involved):
    found = spacing_findings(series, rule, maintenance)
    pairs = [(p.text, set(p.doses)) for p in found]
    assert len(pairs) == len(involved), pairs
    for (text, doses), (fragment, expected) in zip(pairs, involved):
        assert fragment in text and doses == expected, pairs


REASON = "Travelling on the 16th; 12 days apart is acceptable."
NEW = "Patient unwell on the planned day; prescriber moved it."
GAP = "2026-12-02 to 2026-12-14 is 12 days; the protocol's maintenance asks for at least 14."
SAME_DAY = "Two dosing sessions on 2026-12-02: never more than one a day."


@pytest.mark.parametrize("problems, before, same_day, kept, reason, may_override, keeps, refused", [
    # --- nothing involves the dose: no reason kept, whatever was typed or kept
    ([], None, False, None, REASON, True, None, None),                  # a compliant booster planned with a reason
    ([], [GAP], False, REASON, None, False, None, None),                # recorded on a compliant day: reason dropped
    # --- a new dose (planned): a problem needs a prescriber's reason
    ([GAP], None, False, None, REASON, True, REASON, None),             # prescriber plans it with a reason
    ([GAP], None, False, None, "", True, None, "Give a clinician's reason"),  # prescriber without a reason
    ([GAP], None, False, None, "too short", True, None, "at least 10 characters"),
    ([GAP], None, False, None, "", False, None, "a prescriber must give the reason"),     # staff
    ([GAP], None, False, None, REASON, False, None, "Only a prescriber may keep it"),      # staff with a reason
    # --- a dose recorded or moved: the kept reason stands for its day and its problems only
    ([GAP], [GAP], True, REASON, None, False, REASON, None),            # nurse records it on the planned day
    ([GAP], [GAP], True, REASON, "", True, REASON, None),               # prescriber re-saves it: still stands
    ([GAP], [GAP], True, REASON, NEW, True, NEW, None),                 # prescriber replaces it
    ([SAME_DAY, SAME_DAY], [GAP], False, REASON, None, False, None,     # the attack: a nurse records the booster
     "a prescriber must give the reason"),                              # on another day with two doses already
    ([SAME_DAY], [GAP], False, REASON, None, True, None,                # a prescriber, too, needs a new reason
     "The reason given before was for another day"),
    ([SAME_DAY], [GAP], False, REASON, NEW, True, NEW, None),           # and gives it
    ([GAP, SAME_DAY], [GAP], True, REASON, None, True, None,            # same day, a new problem meanwhile
     "another day or another problem"),
    ([GAP], [GAP], False, REASON, None, True, None, "Give a clinician's reason"),  # same problem text, other day
    # --- a dose with no reason of its own whose problem is another dose's to explain
    ([GAP], [GAP], True, None, None, False, None, None),                # recorded on its day: nothing new
    ([GAP], None, False, None, None, False, None, "a prescriber must give the reason"),  # vs. planned anew
])
def test_a_kept_reason_stands_only_for_its_day_and_its_problems(problems, before, same_day, kept, reason,
                                                                 may_override, keeps, refused):
    verdict = spacing_verdict(problems, before=before, same_day=same_day, kept=kept, reason=reason,
                              may_override=may_override)
    assert verdict.reason == keeps
    assert (verdict.refused is None) == (refused is None), verdict
    assert refused is None or refused in verdict.refused, verdict
