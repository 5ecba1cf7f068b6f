"""Staff notifications (issue 22, point 6): what an urgent safety alert's email and a daily summary
may say, and when a user's daily summary is due. Pure: the caller passes the clock and the zone.

Both go to staff mailboxes that are read on phones and lock screens, forwarded, kept by mail
providers: they say that work waits in the app and where, never what it is about. A patient is
named by record number only; no name, no measure, no answer, no clinical word (the list of
domain/reminders.py, checked again on the finished text).
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, time, timezone
from zoneinfo import ZoneInfo

from .reminders import ClinicalWordInMessage, clinical_words_in

__all__ = ["ClinicalWordInMessage", "StaffMessage", "alert_message", "digest_due", "digest_message",
           "digest_moment", "parse_clock"]


@dataclass(frozen=True)
class StaffMessage:
    subject: str
    body: str


def _check(*texts: str) -> None:
    """Refuse words of the clinical list in what a message says. Its links are left out: they are
    the clinic's own address (KI_APP_URL) and the app's paths, not content, and a host such as
    "mentalhealth.example" must never stop a safety alert's email."""
    words = clinical_words_in("\n".join(texts))
    if words:
        raise ClinicalWordInMessage(f"a staff notification would carry {', '.join(sorted(set(words)))}")


#: what an urgent safety alert's email says, whatever raised it
ALERT_SUBJECT = "Urgent: a safety alert is waiting for patient {record_number}"
ALERT_TEXT = "An urgent safety alert is waiting in the app for patient {record_number}."
ALERT_NOTE = "This email carries no detail on purpose: read and acknowledge the alert in the app."


def alert_message(*, record_number: str, link: str) -> StaffMessage:
    """The email an urgent safety alert sends: that one waits, for which record number, and where."""
    # the record number is the one thing that varies, and is the clinic's identifier as it is
    _check(ALERT_SUBJECT, ALERT_TEXT, ALERT_NOTE)
    subject, text = ALERT_SUBJECT.format(record_number=record_number), ALERT_TEXT.format(record_number=record_number)
    return StaffMessage(subject, f"{text}\n\nOpen it here (sign-in needed): {link}\n\n{ALERT_NOTE}\n")


@dataclass(frozen=True)
class DigestLine:
    """One count of a daily summary: how many, its words, where the work is done."""
    count: int
    words: str
    link: str


def digest_message(*, day: date, lines: list[DigestLine], settings_link: str) -> StaffMessage | None:
    """The daily summary: one line per count above zero, each with its link; None when every count
    is zero (nothing to report sends nothing)."""
    shown = [line for line in lines if line.count > 0]
    if not shown:
        return None
    subject = f"Your daily summary for {day:%a %d %b}"
    _check(subject, *(line.words for line in shown))
    items = "\n".join(f"- {line.count} {line.words}: {line.link}" for line in shown)
    return StaffMessage(subject, f"Waiting for you in the app (sign-in needed):\n\n{items}\n\n"
                                 f"Change the time of this email, or turn it off: {settings_link}\n")


_CLOCK = re.compile(r"\s*([01]?\d|2[0-3]):([0-5]\d)\s*")


def parse_clock(text: str) -> time:
    """A 24-hour clock time, "07:30" or "7:30"; ValueError saying how to write it."""
    match = _CLOCK.fullmatch(text or "")
    if not match:
        raise ValueError("Write the time as a 24-hour clock time, e.g. 07:30.")
    return time(int(match.group(1)), int(match.group(2)))


def digest_moment(day: date, at: time, zone: ZoneInfo) -> datetime:
    """The UTC moment of `day`'s summary at clinic time `at`: when the clocks first show it (the first
    of the two 01:30s the fall-back night repeats); a time the spring-forward night skips (02:30) is
    read with the offset before the change, i.e. when the clocks show 03:30: later, never earlier."""
    return datetime.combine(day, at, tzinfo=zone).replace(fold=0).astimezone(timezone.utc)


def digest_due(now: datetime, at: time | None, zone: ZoneInfo, last_day: date | None) -> date | None:
    """The clinic date whose summary is due at `now` (UTC), or None: off (`at` None), today's
    already looked at (`last_day`), or not yet time. A summary missed by a stopped worker is sent
    when it starts again the same day, never for a day gone by."""
    if at is None:
        return None
    today = now.astimezone(zone).date()
    if last_day is not None and last_day >= today:
        return None
    return today if now >= digest_moment(today, at, zone) else None
