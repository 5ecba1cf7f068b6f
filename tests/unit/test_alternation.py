"""The alternation warning's rule (domain/alternation.py): on a protocol where dosing and integration
alternate, a dose is recorded with a warning when the dose before it has a window with nothing held or
booked."""
import pytest

from ketamine_integration.domain.alternation import window_left_empty
from ketamine_integration.domain.coverage import Coverage


@pytest.mark.parametrize("doses, sequence, expected", [
    # the previous dose's window has nothing held or booked: warn, naming that dose
    ([(1, Coverage.UNCOVERED)], 2, 1),
    # a booking ahead, a held session, or one awaiting its outcome: no warning
    ([(1, Coverage.PROVISIONAL)], 2, None),
    ([(1, Coverage.COVERED)], 2, None),
    ([(1, Coverage.UNCONFIRMED)], 2, None),
    # only the dose right before counts: an older gap is not this dose's to warn about
    ([(1, Coverage.UNCOVERED), (2, Coverage.COVERED)], 3, None),
    # the dose before has no window yet (recorded, not signed): nothing to look at
    ([(1, Coverage.UNCOVERED), (2, None)], 3, None),
    # the first dose has no dose before it
    ([], 1, None),
    # later doses (planned after this one) do not matter, whatever the order given
    ([(3, Coverage.UNCOVERED), (1, Coverage.COVERED)], 2, None),
])
def test_alternation_warns_about_the_previous_window_only(doses, sequence, expected):
    assert window_left_empty(doses, sequence) == expected
