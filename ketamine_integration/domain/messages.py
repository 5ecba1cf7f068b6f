"""Rules of the messages the clinic sends: the back-off between attempts, the shape of a phone
number a text goes to, how long a text may be, and how a recipient is shown on the patient page.
What a message and a sender name may say (the clinical terms, the discreet sender name) is in
domain/reminders.py, the one list both use."""
from __future__ import annotations

import re

from .reminders import FALLBACK_SENDER_NAME, discreet_name

__all__ = ["FALLBACK_SENDER_NAME", "InvalidPhoneNumber", "SMS_MAX_CHARACTERS", "TextTooLong", "check_text",
           "discreet_name", "e164", "masked_recipient", "retry_delay"]

#: the longest text queued: three 160-character segments; a reminder (date, time, place, how to
#: cancel) fits in one or two, and a longer one is a wording mistake, not a message to split further
SMS_MAX_CHARACTERS = 480
#: E.164: a country code and subscriber number of at most 15 digits; the shortest in use have 7
E164_DIGITS = (7, 15)
#: what people write between the digits of a phone number
_SEPARATORS = re.compile(r"[\s().\-/]")
MASK = "\u2022\u2022\u2022"


class InvalidPhoneNumber(ValueError):
    """A phone number no text can go to; the message says why, for the staff who read it."""


class TextTooLong(ValueError):
    """A text message over SMS_MAX_CHARACTERS, or an empty one: refused when it is queued."""


def retry_delay(failed_attempts: int, first_delay_seconds: int) -> int:
    """Seconds to wait after the `failed_attempts`-th failure: the first delay, doubling after
    each further failure (60, 120, 240, 480 s), so a server that is down is not hammered."""
    if failed_attempts < 1:
        raise ValueError("a retry follows at least one failed attempt")
    return first_delay_seconds * 2 ** (failed_attempts - 1)


def e164(number: str, country_code: str) -> str:
    """`number` as `+<digits>`: separators dropped, `00` read as `+`, and a number written without
    a country code given `country_code` (its national trunk `0`, and for `1` a leading `1`, dropped).
    Raises InvalidPhoneNumber when what is left is not 7 to 15 digits (its reason, shown to staff
    and kept with the delivery, does not repeat the number)."""
    written = (number or "").strip()
    compact = _SEPARATORS.sub("", written)
    if not compact:
        raise InvalidPhoneNumber("no phone number")
    if compact.startswith("+"):
        digits = compact[1:]
    elif compact.startswith("00"):
        digits = compact[2:]
    else:
        national = compact[1:] if compact.startswith("1" if country_code == "1" else "0") else compact
        digits = country_code + national
    if not digits.isascii() or not digits.isdigit():
        raise InvalidPhoneNumber("not a phone number: it has characters other than digits, spaces and + ( ) - .")
    low, high = E164_DIGITS
    if not low <= len(digits) <= high:
        raise InvalidPhoneNumber(f"not a phone number: {len(digits)} digits with its country code "
                                 f"({low} to {high} expected)")
    return f"+{digits}"


def check_text(body: str) -> str:
    """The text of an SMS, refused when empty or longer than SMS_MAX_CHARACTERS."""
    if not body or not body.strip():
        raise TextTooLong("a text message needs some text")
    if len(body) > SMS_MAX_CHARACTERS:
        raise TextTooLong(f"a text message is at most {SMS_MAX_CHARACTERS} characters; this one has {len(body)}")
    return body


def masked_recipient(recipient: str | None) -> str:
    """Enough of an address or number to tell which one it was, not enough to copy it:
    `j•••@example.org`, `•••0123`."""
    recipient = (recipient or "").strip()
    if not recipient:
        return "\u2014"
    local, at, domain = recipient.rpartition("@")
    if at:
        return f"{local[:1]}{MASK}@{domain}"
    digits = re.sub(r"\D", "", recipient)
    return f"{MASK}{digits[-4:] if len(digits) >= 8 else digits[-2:]}"
