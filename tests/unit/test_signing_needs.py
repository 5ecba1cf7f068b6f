"""What a dosing record needs before it is signed (domain.signing): every need at once, each on the
form field where it is put right (follow-up review of issue 19, point 3)."""
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from ketamine_integration.domain.protocol_library import ProtocolLibrary
from ketamine_integration.domain.signing import Need, RecordFacts, signature_needs, summary
from ketamine_integration.domain.vitals import DISCHARGE_CRITERIA, Response

LIBRARY = ProtocolLibrary.load(Path(__file__).resolve().parents[2] / "protocols")
IV = LIBRARY.find("iv-ketamine-induction", 3).protocol
ESKETAMINE = LIBRARY.find("esketamine-trd-rems", 3).protocol
START = datetime(2026, 3, 2, 14, tzinfo=timezone.utc)
READING = dict(systolic=128, diastolic=82, heart_rate=72, spo2=98, respiratory_rate=None)
VALUES = dict(started_at=START, ended_at=START + timedelta(minutes=40), route="iv", medication="ketamine",
              dose_mg=35, weight_kg=70, administered_by_id=2, monitored_by_id=3, sedation="mild",
              dissociation="moderate", discharged_at=START + timedelta(minutes=130))
ANSWERED = {key: True for key in DISCHARGE_CRITERIA}
#: an esketamine dose: intranasal, by the mg, no weight
SPRAY = dict(route="intranasal", medication="esketamine", dose_mg=56, weight_kg=None)


#: the prescriber (user 2) may decide to dose past a limit; user 3 is the nurse who monitored
PRESCRIBERS = frozenset({2})


def record(values=None, readings=None, responses=None, checks=ANSWERED) -> RecordFacts:
    """A complete IV record, changed by what a row gives."""
    every = {tp: dict(READING) for tp in ("baseline", "post_40", "discharge")}
    return RecordFacts(dict(VALUES, **(values or {})), dict(every, **(readings or {})), responses or {},
                       may_override=PRESCRIBERS, discharge_checks=checks)


def flagged_baseline(response=None, **values) -> RecordFacts:
    return record(values=values, readings={"baseline": dict(READING, systolic=182, diastolic=112)},
                  responses={"baseline": response} if response else {})


def still_above(decided_by: int) -> Response:
    """Re-checked at 181/111 five minutes before the dose: still past the do-not-start limit."""
    return Response("baseline", "Rested and repeated; dosed on balance", decided_by, START - timedelta(minutes=5),
                    dict(systolic=181, diastolic=111))


@pytest.mark.parametrize("facts, protocol, fields", [
    # complete: nothing is needed
    (record(), IV, []),
    # a start time and who monitored missing
    (record(values=dict(started_at=None, monitored_by_id=None)), IV, ["started_at", "monitored_by"]),
    # IV is weight-based: the weight used is needed
    (record(values=dict(weight_kg=None)), IV, ["weight_kg"]),
    # the blood pressure about 40 minutes after dosing missing: on its systolic field
    (record(readings={"post_40": dict(READING, systolic=None)}), IV, ["post_40.systolic"]),
    # a flagged reading without a response: on what was done
    (flagged_baseline(), IV, ["response_baseline.action"]),
    # a response without who decided and without the later reading's time
    (flagged_baseline(Response("baseline", "Rested and repeated", None, None, dict(systolic=150, diastolic=95))),
     IV, ["response_baseline.decided_by", "response_baseline.later_at"]),
    # a later reading timed but without the flagged diastolic: on that number
    (flagged_baseline(Response("baseline", "Rested and repeated", 2, START - timedelta(minutes=5),
                               dict(systolic=150))), IV, ["response_baseline.later_diastolic"]),
    # an unanswered discharge criterion: on its own answer
    (record(checks=dict(ANSWERED, accompanied=None)), IV, ["discharge_criteria.accompanied"]),
    # 50 minutes of monitoring under a protocol asking for more: on the discharge time
    (record(values=dict(SPRAY, discharged_at=START + timedelta(minutes=50))), ESKETAMINE,
     ["ready_to_leave_at", "lot_number", "vitals_acceptable_before_dosing", "vitals_acceptable_before_discharge",
      "concomitant_sedating_medications", "discharged_at"]),
    # REMS "acceptable before dosing" answered yes over a do-not-start reading
    (flagged_baseline(Response("baseline", "Rested and repeated", 2, START - timedelta(minutes=5),
                               dict(systolic=181, diastolic=111)), **SPRAY, vitals_acceptable_before_dosing=True,
                      vitals_acceptable_before_discharge=True, ready_to_leave_at=START, lot_number="L1",
                      concomitant_sedating_medications="none"), ESKETAMINE, ["vitals_acceptable_before_dosing"]),
    # dosed past the do-not-start limit on the nurse's decision: a prescriber must decide it
    (flagged_baseline(still_above(3)), IV, ["response_baseline.decided_by"]),
    # ...on the prescriber's: documented, nothing more needed
    (flagged_baseline(still_above(2)), IV, []),
    # ...re-checked under the limit (150/95): whoever decided the response, the dose started within it
    (flagged_baseline(Response("baseline", "Rested and repeated", 3, START - timedelta(minutes=5),
                               dict(systolic=150, diastolic=95))), IV, []),
    # the review's case: every layer at once, in the form's order
    (record(values=dict(sedation=None), readings={"baseline": dict(READING, systolic=182, diastolic=112),
                                                  "post_40": dict(READING, heart_rate=None)},
            checks=dict(ANSWERED, walks_steadily=None, accompanied=None)), IV,
     ["sedation", "post_40.heart_rate", "response_baseline.action", "discharge_criteria.walks_steadily",
      "discharge_criteria.accompanied"]),
])
def test_every_need_is_named_on_its_field(facts, protocol, fields):
    assert [need.field for need in signature_needs(facts, protocol)] == fields


@pytest.mark.parametrize("needs, said", [
    # nothing grouped: each need in turn
    ([Need("started_at", "start time"), Need("sedation", "sedation")], "start time; sedation"),
    # the discharge answers are said together, where the first of them comes
    ([Need("discharge_criteria.a", "alert and oriented", group="criteria answered"), Need("sedation", "sedation"),
      Need("discharge_criteria.b", "walks steadily", group="criteria answered")],
     "criteria answered: alert and oriented, walks steadily; sedation"),
])
def test_the_summary_says_the_needs_in_one_sentence(needs, said):
    assert summary(needs) == said


def test_a_field_says_what_it_needs_to_be_signed():
    assert Need("x", "walks steadily", group="criteria answered").message == \
        "Needed to sign: criteria answered: walks steadily."
