"""What a dosing record's signature needs, in the words of a session supervised at home
(experience/wording.py): the clinic's discharge becomes the end of telehealth supervision."""
import pytest

from ketamine_integration.domain.signing import Need
from ketamine_integration.experience.wording import at_home_words, needs_in_setting


@pytest.mark.parametrize("clinic, home", [
    # the criterion names its at-home form whole, never half-replaced
    ("leaves with a responsible adult and will not drive today",
     "a responsible adult stays with the patient, who will not drive today"),
    # the group heading of the criteria
    ("discharge criteria answered yes or no", "criteria for ending supervision answered yes or no"),
    # times: the longer phrase first ("a discharge time" before "discharge time")
    ("a discharge time after the start of dosing", "a time telehealth supervision ended after the start of dosing"),
    ("at least 120 minutes of monitoring from the start of dosing to discharge (the protocol's minimum)",
     "at least 120 minutes of monitoring from the start of dosing to the end of telehealth supervision "
     "(the protocol's minimum)"),
    # a sentence's first word keeps its capital
    ("Before discharge: systolic pressure 170 mmHg", "Before the end of supervision: systolic pressure 170 mmHg"),
    # nothing of the clinic's words: unchanged
    ("the dose", "the dose"),
])
def test_at_home_words(clinic, home):
    assert at_home_words(clinic) == home


def test_needs_change_words_only_at_home():
    needs = [Need("discharged_at", "a discharge time after the start of dosing"),
             Need("discharge_criteria.accompanied", "leaves with a responsible adult and will not drive today",
                  group="discharge criteria answered yes or no")]
    assert needs_in_setting(needs, "in_clinic") == needs
    home = needs_in_setting(needs, "supervised_at_home")
    assert [n.field for n in home] == [n.field for n in needs]          # the fields stay the form's
    assert home[1].message == ("Needed to sign: criteria for ending supervision answered yes or no: a responsible "
                               "adult stays with the patient, who will not drive today.")
