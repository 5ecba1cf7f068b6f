"""Rules of the messages the clinic sends: the back-off between attempts. What a message and a
sender name may say (the clinical terms, the discreet sender name) is in domain/reminders.py, the
one list both use."""
from __future__ import annotations

from .reminders import FALLBACK_SENDER_NAME, discreet_name

__all__ = ["FALLBACK_SENDER_NAME", "discreet_name", "retry_delay"]


def retry_delay(failed_attempts: int, first_delay_seconds: int) -> int:
    """Seconds to wait after the `failed_attempts`-th failure: the first delay, doubling after
    each further failure (60, 120, 240, 480 s), so a server that is down is not hammered."""
    if failed_attempts < 1:
        raise ValueError("a retry follows at least one failed attempt")
    return first_delay_seconds * 2 ** (failed_attempts - 1)
