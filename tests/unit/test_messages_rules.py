"""Issue 22: the sender name patients see is discreet; failed sends wait longer each time."""
import pytest

from ketamine_integration.domain.messages import (
    FALLBACK_SENDER_NAME, SMS_MAX_CHARACTERS, InvalidPhoneNumber, TextTooLong, check_text, discreet_name, e164,
    masked_recipient, retry_delay,
)


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


@pytest.mark.parametrize("written, country_code, number", [
    ("+1 (555) 010-0123", "1", "+15550100123"),   # separators dropped
    ("(555) 010-0123", "1", "+15550100123"),      # no country code: the clinic's
    ("1-555-010-0123", "1", "+15550100123"),      # the US long-distance 1 is the country code already
    ("0044 7700 900123", "1", "+447700900123"),   # 00 is the international prefix
    ("07700 900123", "44", "+447700900123"),      # a national trunk 0 dropped before the country code
    ("555.0100", "1", "+15550100"),               # short, but E.164's shape (7 to 15 digits)
])
def test_a_phone_number_is_written_in_e164(written, country_code, number):
    assert e164(written, country_code) == number


@pytest.mark.parametrize("written, reason", [
    ("", "no phone number"),                                        # nothing to text
    ("ext. 12", "other than digits"),                               # words are not a number
    ("+12", "2 digits"),                                            # too short for any country
    ("+1 555 010 0123 4567 89", "17 digits"),                       # longer than E.164 allows
    ("+١٥٥٥٠١٠٠١٢٣", "other than digits"),                          # digits of another script are not dialled
])
def test_what_is_not_a_phone_number_says_why_without_repeating_it(written, reason):
    with pytest.raises(InvalidPhoneNumber, match=reason) as err:
        e164(written, "1")
    assert not written or written not in str(err.value)


@pytest.mark.parametrize("recipient, shown", [
    ("jane.doe@example.org", "j\u2022\u2022\u2022@example.org"),    # the first letter and the domain
    ("+15550100123", "\u2022\u2022\u20220123"),                     # the last four digits
    ("+1555010", "\u2022\u2022\u202210"),                           # a short number: two
    ("", "\u2014"),                                                 # none recorded
])
def test_a_recipient_is_shown_partly(recipient, shown):
    assert masked_recipient(recipient) == shown


@pytest.mark.parametrize("body, ok", [
    ("See you Tuesday at 10:00.", True),
    ("x" * SMS_MAX_CHARACTERS, True),             # at the limit
    ("x" * (SMS_MAX_CHARACTERS + 1), False),      # one over
    (" \n", False),                               # nothing to say
])
def test_a_text_fits_the_limit(body, ok):
    if ok:
        assert check_text(body) == body
    else:
        with pytest.raises(TextTooLong):
            check_text(body)
