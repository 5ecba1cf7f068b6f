"""The post-dosing journal's rules (issue 23, point 4): its prompts and their wording, which of them
are open for a patient at a given instant, what an entry may hold, and how a shared entry is quoted
into a note. Pure: the doses, the entries, the clock and the clinic's zone come in as arguments.

From the end of each dosing session the journal offers the experience review's prompts (what stood
out, emotions, imagery, surprises, what felt meaningful: BRIEF, "Integration session content"), while
the experience is fresh: until the end of the 14th clinic day after the dose, or until the next dose
ends, whichever is first. From the day after a dose, a free entry is invited each day for a week,
then each week (FRAMEWORKS, "Between sessions": journaling straight after dosing, then daily or
weekly). Days and weeks are the clinic's calendar days, 23 or 25 hours long across a change of clock.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, tzinfo

from .text import is_written


@dataclass(frozen=True)
class Prompt:
    key: str
    #: what the patient is asked (patient-facing wording, shared by every page that offers it)
    question: str
    #: a line under the question
    hint: str
    #: how staff pages name an entry written to it
    label: str


#: the experience review's prompts, keyed as the integration note's fields they feed (notes/forms.py)
REVIEW_PROMPTS: dict[str, Prompt] = {p.key: p for p in (
    Prompt("stood_out", "What stood out?",
           "A moment, a sensation, a sentence: whatever comes back first when you think of the session.",
           "What stood out"),
    Prompt("emotions", "What emotions came up?", "During the session, and since.", "Emotions"),
    Prompt("imagery", "Images, memories, visions",
           "Anything you saw, heard or remembered, however strange or small.", "Images, memories, visions"),
    Prompt("surprises", "What surprised you?", "Something you did not expect, about the session or yourself.",
           "Surprises"),
    Prompt("meaningful", "What felt meaningful?", "What you would like to keep from it.", "What felt meaningful"),
)}
FREE = "free"
FREE_PROMPT = Prompt(FREE, "Your journal", "Anything on your mind: how you are, what has come back, what changed.",
                     "Free entry")
#: every prompt an entry can answer, by key
PROMPTS: dict[str, Prompt] = {**REVIEW_PROMPTS, FREE: FREE_PROMPT}
#: the free entry's invitation, by cadence
FREE_QUESTIONS = {"daily": "How are you today?", "weekly": "Looking back on this week"}

#: clinic days after the dose's day during which its review prompts stay open (the day itself is day 0)
REVIEW_DAYS = 14
#: clinic days after the dose's day on which a free entry is invited daily; weekly after them
DAILY_DAYS = 7
#: an entry's longest text, in characters (about three pages: a journal, not a book)
ENTRY_MAX = 4000

EMPTY = "Write something first: this entry is empty."
UNSAVABLE = "This text holds a character that cannot be saved (a NUL character): remove it and save again."


def too_long(length: int) -> str:
    return f"Keep an entry to {ENTRY_MAX} characters: this one has {length}. Nothing is lost: shorten it and save."


@dataclass(frozen=True)
class DoseEnd:
    """A dosing session the journal can reflect on: when it ended (UTC, aware)."""
    dosing_session_id: int
    sequence: int
    ended_at: datetime


@dataclass(frozen=True)
class WrittenEntry:
    """What the rules need of an entry already written."""
    prompt: str
    dosing_session_id: int | None
    written_at: datetime


@dataclass(frozen=True)
class OpenPrompt:
    """A prompt the journal offers now: a review prompt of one dose, or the free entry of a day or week."""
    prompt: Prompt
    #: the dose it reflects on (a free entry: the latest dose, the day or week counted from it)
    dosing_session_id: int
    dose_sequence: int
    opened_at: datetime
    #: when it stops being offered (an entry can still be written to it after that: text is never refused for
    #: being late)
    closes_at: datetime
    #: a free entry's: "daily" or "weekly"; None for a review prompt
    cadence: str | None = None

    @property
    def question(self) -> str:
        return FREE_QUESTIONS[self.cadence] if self.cadence else self.prompt.question


def _midnight(day: date, zone: tzinfo) -> datetime:
    return datetime.combine(day, time(0), zone)


def _day(instant: datetime, zone: tzinfo) -> date:
    return instant.astimezone(zone).date()


def open_prompts(doses: list[DoseEnd], entries: list[WrittenEntry], now: datetime, zone: tzinfo) -> list[OpenPrompt]:
    """The prompts open at `now`: each ended dose's unanswered review prompts (newest dose first), then
    the free entry of the current day or week if none was written in it."""
    ended = sorted((d for d in doses if d.ended_at <= now), key=lambda d: d.ended_at)
    answered = {(e.prompt, e.dosing_session_id) for e in entries}
    found = []
    for index in range(len(ended) - 1, -1, -1):
        dose = ended[index]
        closes = _midnight(_day(dose.ended_at, zone) + timedelta(days=REVIEW_DAYS + 1), zone)
        if index + 1 < len(ended):
            closes = min(closes, ended[index + 1].ended_at)
        if now >= closes:
            continue
        found += [OpenPrompt(p, dose.dosing_session_id, dose.sequence, dose.ended_at, closes)
                  for key, p in REVIEW_PROMPTS.items() if (key, dose.dosing_session_id) not in answered]
    free = _free_prompt(ended[-1], entries, now, zone) if ended else None
    return found + ([free] if free else [])


def free_period(dose_day: date, today: date) -> tuple[date, date, str] | None:
    """The first and last clinic day of the free entry's current period, and its cadence; None on the
    dose's own day (its review prompts are the invitation) or before it."""
    after = (today - dose_day).days
    if after < 1:
        return None
    if after <= DAILY_DAYS:
        return today, today, "daily"
    first = dose_day + timedelta(days=DAILY_DAYS + 1 + 7 * ((after - DAILY_DAYS - 1) // 7))
    return first, first + timedelta(days=6), "weekly"


def _free_prompt(latest: DoseEnd, entries: list[WrittenEntry], now: datetime, zone: tzinfo) -> OpenPrompt | None:
    period = free_period(_day(latest.ended_at, zone), _day(now, zone))
    if period is None:
        return None
    first, last, cadence = period
    if any(e.prompt == FREE and first <= _day(e.written_at, zone) <= last for e in entries):
        return None
    return OpenPrompt(FREE_PROMPT, latest.dosing_session_id, latest.sequence, _midnight(first, zone),
                      _midnight(last + timedelta(days=1), zone), cadence)


def entry_problems(text: str | None) -> dict[str, str]:
    """Why an entry's text cannot be saved, by field ("text"); empty when it can."""
    if text is None or not is_written(text):
        return {"text": EMPTY}
    if "\x00" in text:
        return {"text": UNSAVABLE}
    if len(text) > ENTRY_MAX:
        return {"text": too_long(len(text))}
    return {}


def clean_text(text: str) -> str:
    """An entry's text as kept: line endings made one kind, spaces trimmed at both ends (nothing inside)."""
    return text.replace("\r\n", "\n").replace("\r", "\n").strip()


def quote_of(text: str, written_on: date, prompt_key: str) -> str:
    """A shared entry as the therapist quotes it into the experience review: the patient's words in
    quotation marks, then who wrote them, when, and to which prompt (so a note never passes the
    patient's words off as the therapist's, nor the reverse)."""
    prompt = PROMPTS[prompt_key]
    answering = "" if prompt_key == FREE else f", answering “{prompt.question}”"
    return (f"“{clean_text(text)}”\n— the patient's own words, journal entry of "
            f"{written_on.day} {written_on:%B %Y}{answering}")
