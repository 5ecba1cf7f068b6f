"""TOTP and recovery-code rules: the drift window, single use, what people type (RFC 6238 vectors)."""
from datetime import datetime, timedelta, timezone

import pytest

from ketamine_integration.mfa import totp

#: RFC 6238 appendix B's SHA-1 key ("12345678901234567890") in base32
RFC_SECRET = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"
#: 2009-02-13 23:31:30 UTC, step 41152263 (RFC 6238 vector: 89005924, 6 digits: 005924)
MOMENT = datetime(2009, 2, 13, 23, 31, 30, tzinfo=timezone.utc)
STEP = 41152263


def test_the_rfc_6238_vector():
    assert totp.step_at(MOMENT) == STEP
    assert totp.code_for_step(RFC_SECRET, STEP) == "005924"


@pytest.mark.parametrize("offset, last_step, expected", [
    (0, None, STEP),            # the current step, never used
    (-1, None, STEP - 1),       # phone a step behind: still accepted
    (1, None, STEP + 1),        # phone a step ahead: still accepted
    (-2, None, None),           # two steps old: refused
    (2, None, None),            # two steps ahead: refused
    (0, STEP, None),            # the same step again: a replay
    (-1, STEP, None),           # an earlier step than the last used: refused though in the window
    (1, STEP, STEP + 1),        # the next step after the last used: fine
    (0, STEP - 1, STEP),        # the last used was the step before: fine
])
def test_matching_step_accepts_one_step_of_drift_and_never_a_used_step(offset, last_step, expected):
    typed = totp.code_for_step(RFC_SECRET, STEP + offset)
    assert totp.matching_step(RFC_SECRET, typed, MOMENT, last_step=last_step) == expected


@pytest.mark.parametrize("typed, expected", [
    ("005924", STEP),           # as shown
    ("005 924", STEP),          # with the space some apps show
    (" 005-924 ", STEP),        # dashes and surrounding spaces
    ("5924", None),             # leading zeros dropped: not a code
    ("00592４", None),           # a full-width digit is not an ASCII digit
    ("0059245", None),          # seven digits
    ("", None),                 # nothing
])
def test_what_people_type(typed, expected):
    assert totp.matching_step(RFC_SECRET, typed, MOMENT, last_step=None) == expected


def test_a_replayed_code_is_told_apart_from_a_wrong_one():
    used = totp.code_for_step(RFC_SECRET, STEP)
    assert totp.was_replayed(RFC_SECRET, used, MOMENT + timedelta(seconds=5), last_step=STEP)
    assert not totp.was_replayed(RFC_SECRET, "123456", MOMENT, last_step=STEP)
    assert not totp.was_replayed(RFC_SECRET, used, MOMENT, last_step=None)


def test_recovery_codes_are_distinct_grouped_and_hash_as_typed():
    codes = totp.new_recovery_codes()
    assert len(set(codes)) == totp.RECOVERY_CODE_COUNT
    assert all(len(c) == 19 and c.count("-") == 3 for c in codes)
    code = codes[0]
    assert totp.recovery_code_hash(code.lower().replace("-", " ")) == totp.recovery_code_hash(code)
    assert totp.recovery_code_hash(code) != totp.recovery_code_hash(codes[1])


@pytest.mark.parametrize("typed", [
    "ABCD-EFGH-JKMN-PQR",       # one character short
    "ABCD-EFGH-JKMN-PQR0",      # 0 is not in the alphabet (read as O)
    "123456",                   # an authenticator code
    "",                         # nothing
])
def test_what_cannot_be_a_recovery_code(typed):
    assert totp.recovery_code_hash(typed) is None


def test_the_provisioning_uri_names_the_issuer_and_account():
    uri = totp.provisioning_uri(RFC_SECRET, "therapist1")
    assert uri.startswith("otpauth://totp/Ketamine%20Integration:therapist1?")
    assert f"secret={RFC_SECRET}" in uri and "issuer=Ketamine%20Integration" in uri
