"""Issue 22: the sender name patients see is discreet; failed sends wait longer each time."""
import pytest

from ketamine_integration.domain.messages import FALLBACK_SENDER_NAME, discreet_name, retry_delay


@pytest.mark.parametrize("clinic_name, sender", [
    ("Harbor Light Ketamine Clinic (demo)", "Harbor Light Clinic"),   # the demo's: treatment and bracket dropped
    ("Bayside Ketamine & Psychiatry", "Bayside"),                      # a dangling "&" goes with the words
    ("Northfield Mental Health Associates", "Northfield Associates"),  # two clinical words
    ("Spravato Treatment Center [pilot]", "Center"),                   # square brackets too
    ("Ketamine Infusion Therapy", FALLBACK_SENDER_NAME),               # nothing left: a neutral name
    ("Oak Street Practice", "Oak Street Practice"),                    # already discreet: unchanged
])
def test_the_sender_name_leaves_out_clinical_words(clinic_name, sender):
    assert discreet_name(clinic_name) == sender


@pytest.mark.parametrize("failed, first, delay", [
    (1, 60, 60),     # after the first failure: the first delay
    (2, 60, 120),    # then doubling
    (4, 60, 480),    # the fifth attempt waits 8 minutes
    (3, 1, 4),       # a short first delay doubles the same way
])
def test_each_retry_waits_twice_as_long(failed, first, delay):
    assert retry_delay(failed, first) == delay


def test_no_retry_before_a_failure():
    with pytest.raises(ValueError):
        retry_delay(0, 60)
