"""Sign-in back-off: from a key's recent failed attempts, until when its sign-in is refused.

Pure functions with time passed in (the service reads the failures and the clock). A key is
an account or a client address; each has its own limit, the window and back-off are shared.

The rule: once `limit` failures fall inside the window, the key is refused for `backoff`
after its latest failure; each further failure (possible only once a refusal has ended)
doubles that. A refusal also ends when enough failures age out of the window that fewer
than `limit` remain, so no refusal outlasts the window. With the defaults (5 per 15 minutes,
60 s doubling) an attacker gets about 8 guesses per account per quarter hour, well under
ASVS's 100 failures per hour, while a user who mistypes five times waits one minute.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Iterable

from .text import counted

#: doubling stops here (2**20 x the back-off is far beyond any window; avoids huge numbers)
MAX_DOUBLINGS = 20


@dataclass(frozen=True)
class Policy:
    #: failures within the window at which the key is refused
    limit: int
    window: timedelta
    #: first refusal period; doubles with each further failure
    backoff: timedelta


def refused_until(failures: Iterable[datetime], policy: Policy, now: datetime) -> datetime | None:
    """When the key may try again, or None if it may try now.

    `failures`: when the key's failed attempts happened (any order; older ones are ignored).
    One stamped a little after `now` still counts: another server's clock may run ahead, or
    an attempt that waited for its turn may read a failure stamped after its own start.
    """
    recent = sorted(t for t in failures if now - policy.window < t)
    excess = len(recent) - policy.limit
    if excess < 0:
        return None
    backoff_ends = recent[-1] + policy.backoff * 2 ** min(excess, MAX_DOUBLINGS)
    # recent[excess] is the failure whose ageing out leaves limit - 1 in the window.
    window_ends = recent[excess] + policy.window
    until = min(backoff_ends, window_ends)
    return until if until > now else None


def wait_text(seconds: float) -> str:
    """'45 seconds', '1 minute', '12 minutes': how long the refusal message says to wait."""
    seconds = max(1, math.ceil(seconds))
    if seconds < 60:
        return counted(seconds, "second")
    minutes = math.ceil(seconds / 60)
    return counted(minutes, "minute")
