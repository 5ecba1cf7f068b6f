"""What a save does to a saved clinical response or adverse event, as tables (domain.revisions)."""
import pytest

from ketamine_integration.domain.revisions import (ADDED_TO, CHANGED, WITHDRAWN, EventMatch, change_of,
                                                   match_events, needs_reason)

SAVED = {"action": "Rested 15 minutes; repeated", "decided_by_id": 3, "later_systolic": None}


@pytest.mark.parametrize("submitted, expected", [
    (dict(SAVED), None),                                                   # as saved: nothing to keep
    (dict(SAVED, later_systolic=150), ADDED_TO),                           # a later reading added where none was
    (dict(SAVED, action="Rested 25 minutes; repeated"), CHANGED),           # the words replaced
    (dict(SAVED, decided_by_id=None), CHANGED),                            # who decided removed
    (dict(SAVED, decided_by_id=4, later_systolic=150), CHANGED),           # an addition and a replacement
    ({**SAVED, "later_spo2": 97}, ADDED_TO),                               # a value the saved row did not name
    (dict(SAVED, later_systolic=""), None),                                # an empty text is no value either
    (dict(SAVED, action=""), CHANGED),                                     # the words removed
])
def test_change_of_a_saved_fact(submitted, expected):
    assert change_of(SAVED, submitted) == expected


@pytest.mark.parametrize("change, asks", [
    (None, False),       # unchanged
    (ADDED_TO, False),   # nothing saved is lost
    (CHANGED, True),     # a saved value replaced or removed
    (WITHDRAWN, True),   # the fact removed from the record
])
def test_a_reason_is_asked_when_something_saved_is_lost(change, asks):
    assert needs_reason(change) is asks


NAUSEA = {"event_type": "nausea", "severity": "mild", "action_taken": "ondansetron 4 mg"}
HEADACHE = {"event_type": "headache", "severity": "moderate", "action_taken": None}
SAVED_EVENTS = {10: NAUSEA, 11: HEADACHE}


@pytest.mark.parametrize("submitted, expected", [
    # the form's rows, each naming its saved event: answered, nothing withdrawn
    ([dict(NAUSEA, id=10), dict(HEADACHE, id=11)], EventMatch(((10, dict(NAUSEA, id=10)),
                                                               (11, dict(HEADACHE, id=11))))),
    # a caller without ids resubmitting the list as saved: each matched by its content
    ([NAUSEA, HEADACHE], EventMatch(((10, NAUSEA), (11, HEADACHE)))),
    # ...in another order
    ([HEADACHE, NAUSEA], EventMatch(((11, HEADACHE), (10, NAUSEA)))),
    # a row cleared on the form: its event is withdrawn
    ([dict(HEADACHE, id=11)], EventMatch(((11, dict(HEADACHE, id=11)),), withdrawn=(10,))),
    # a severity changed on the form: the same event, answered (change_of says how)
    ([dict(NAUSEA, id=10, severity="moderate"), dict(HEADACHE, id=11)],
     EventMatch(((10, dict(NAUSEA, id=10, severity="moderate")), (11, dict(HEADACHE, id=11))))),
    # the same change without ids cannot be told from a new event: the old one is withdrawn
    ([dict(NAUSEA, severity="moderate"), HEADACHE],
     EventMatch(((11, HEADACHE),), added=(dict(NAUSEA, severity="moderate"),), withdrawn=(10,))),
    # a new event in an empty row
    ([NAUSEA, HEADACHE, {"event_type": "anxiety", "severity": "mild"}],
     EventMatch(((10, NAUSEA), (11, HEADACHE)), added=({"event_type": "anxiety", "severity": "mild"},))),
    # an id this record does not hold (another record's event, or one withdrawn meanwhile)
    ([dict(NAUSEA, id=99)], EventMatch(withdrawn=(10, 11), unknown=(99,))),
    # two rows naming one event: the second is not allowed to answer it again
    ([dict(NAUSEA, id=10), dict(NAUSEA, id=10)], EventMatch(((10, dict(NAUSEA, id=10)),), withdrawn=(11,),
                                                            unknown=(10,))),
    # nothing submitted: every saved event withdrawn
    ([], EventMatch(withdrawn=(10, 11))),
    # an empty action and none are the same content
    ([dict(HEADACHE, action_taken=""), NAUSEA], EventMatch(((11, dict(HEADACHE, action_taken="")), (10, NAUSEA)))),
])
def test_which_saved_event_a_submitted_one_answers(submitted, expected):
    assert match_events(SAVED_EVENTS, submitted) == expected
