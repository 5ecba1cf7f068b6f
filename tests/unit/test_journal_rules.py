"""The journal's rules (domain/journal.py): which prompts are open at an instant, what an entry may
hold, and the quote a therapist takes into a note. Tables with a comment per row; times in New York,
whose clocks change on 2026-03-08 (02:00 EST -> 03:00 EDT) and 2026-11-01 (02:00 EDT -> 01:00 EST)."""
from __future__ import annotations

from datetime import date, datetime, timezone
from zoneinfo import ZoneInfo

import pytest

from ketamine_integration.domain import journal as rules
from ketamine_integration.domain.journal import DoseEnd, WrittenEntry

NY = ZoneInfo("America/New_York")
REVIEW = list(rules.REVIEW_PROMPTS)


def at(text: str) -> datetime:
    """A New York wall time ("2026-03-07 15:00") as an aware UTC instant (fold 0: the first 01:30 of 1 Nov)."""
    return datetime.fromisoformat(text).replace(tzinfo=NY).astimezone(timezone.utc)


def dose(n: int, ended: str) -> DoseEnd:
    return DoseEnd(dosing_session_id=n, sequence=n, ended_at=at(ended))


def shown(prompts) -> list[tuple]:
    """(prompt key, dose id, cadence) of each open prompt, in the order given."""
    return [(p.prompt.key, p.dosing_session_id, p.cadence) for p in prompts]


def review(dose_id: int, *keys: str) -> list[tuple]:
    return [(key, dose_id, None) for key in (keys or REVIEW)]


ONE = [dose(1, "2026-03-02 15:00")]
#: (doses, entries written, now, the open prompts) — comment: why
CASES = [
    # nothing before a dose
    ([], [], "2026-03-02 16:00", []),
    # a dose planned or running: not ended yet at `now`, so nothing opens
    ([dose(1, "2026-03-02 17:00")], [], "2026-03-02 16:00", []),
    # the dose's own day: its five review prompts, no free entry yet (the prompts are the invitation)
    (ONE, [], "2026-03-02 15:00", review(1)),
    # two answered: the three others stay open
    (ONE, [WrittenEntry("stood_out", 1, at("2026-03-02 18:00")), WrittenEntry("emotions", 1, at("2026-03-02 18:05"))],
     "2026-03-02 20:00", review(1, "imagery", "surprises", "meaningful")),
    # the next day: the review prompts still open, and the day's free entry
    (ONE, [], "2026-03-03 09:00", review(1) + [("free", 1, "daily")]),
    # a free entry written yesterday does not answer today's
    (ONE, [WrittenEntry("free", 1, at("2026-03-03 21:00"))], "2026-03-04 08:00", review(1) + [("free", 1, "daily")]),
    # one written this morning does
    (ONE, [WrittenEntry("free", 1, at("2026-03-04 07:00"))], "2026-03-04 22:00", review(1)),
    # day 7 after the dose: still daily
    (ONE, [], "2026-03-09 12:00", review(1) + [("free", 1, "daily")]),
    # day 8: the first weekly period (days 8-14) begins
    (ONE, [], "2026-03-10 12:00", review(1) + [("free", 1, "weekly")]),
    # an entry on day 9 answers the week until day 14 ...
    (ONE, [WrittenEntry("free", 1, at("2026-03-11 12:00"))], "2026-03-16 23:59", review(1)),
    # ... and the next week (days 15-21) asks again; the review prompts closed after day 14
    (ONE, [WrittenEntry("free", 1, at("2026-03-11 12:00"))], "2026-03-17 00:00", [("free", 1, "weekly")]),
    # the review prompts' last minute: day 14, 23:59 (after the spring change of clock: EDT)
    (ONE, [], "2026-03-16 23:59", review(1) + [("free", 1, "weekly")]),
    # a second dose ends: the first dose's prompts close at once, the second's open; the free entry counts from it
    ([dose(1, "2026-03-02 15:00"), dose(2, "2026-03-05 15:00")], [], "2026-03-06 10:00",
     review(2) + [("free", 2, "daily")]),
    # doses given in any order are taken by their end
    ([dose(2, "2026-03-05 15:00"), dose(1, "2026-03-02 15:00")], [], "2026-03-05 14:59", review(1) + [("free", 1, "daily")]),
    # review answers of the first dose do not answer the second's
    ([dose(1, "2026-03-02 15:00"), dose(2, "2026-03-05 15:00")], [WrittenEntry("stood_out", 1, at("2026-03-02 18:00"))],
     "2026-03-05 16:00", review(2)),
    # spring forward: the day after the dose is 23 hours long; an entry at 00:10 EST answers 23:30 EDT's day
    ([dose(1, "2026-03-07 22:00")], [WrittenEntry("free", 1, at("2026-03-08 00:10"))], "2026-03-08 23:30", review(1)),
    # ... and 00:10 the next clinic day, only 23 hours after that entry, is a new day with its own free entry
    ([dose(1, "2026-03-07 22:00")], [WrittenEntry("free", 1, at("2026-03-08 00:10"))], "2026-03-09 00:10",
     review(1) + [("free", 1, "daily")]),
    # fall back: the day after the dose is 25 hours long; 00:15 EDT and 23:30 EST are the same clinic day
    ([dose(1, "2026-10-31 20:00")], [WrittenEntry("free", 1, at("2026-11-01 00:15"))], "2026-11-01 23:30", review(1)),
    # a dose ending at 01:30 EDT on the night the clock goes back: its day is 1 Nov, the next day opens the free entry
    ([dose(1, "2026-11-01 01:30")], [], "2026-11-01 23:59", review(1)),
    ([dose(1, "2026-11-01 01:30")], [], "2026-11-02 00:00", review(1) + [("free", 1, "daily")]),
    # the review prompts close at midnight at the end of day 14, in clinic time across the change (15 Nov, EST)
    ([dose(1, "2026-10-31 20:00")], [], "2026-11-14 23:59", review(1) + [("free", 1, "weekly")]),
    ([dose(1, "2026-10-31 20:00")], [], "2026-11-15 00:00", [("free", 1, "weekly")]),
]


@pytest.mark.parametrize("doses, entries, now, expected", CASES)
def test_open_prompts(doses, entries, now, expected):
    assert shown(rules.open_prompts(doses, entries, at(now), NY)) == expected


def test_an_open_prompt_says_when_it_closes_in_clinic_midnights():
    """Day 14 ends at New York midnight, which is 04:00 UTC in summer time and 05:00 in winter."""
    summer = rules.open_prompts([dose(1, "2026-03-07 22:00")], [], at("2026-03-08 09:00"), NY)
    assert summer[0].closes_at == datetime(2026, 3, 22, 4, tzinfo=timezone.utc)
    winter = rules.open_prompts([dose(1, "2026-10-31 20:00")], [], at("2026-11-01 09:00"), NY)
    assert winter[0].closes_at == datetime(2026, 11, 15, 5, tzinfo=timezone.utc)
    # the daily free entry closes at the end of its clinic day: 2026-11-02 00:00 EST
    assert winter[-1].cadence == "daily" and winter[-1].closes_at == at("2026-11-02 00:00")


@pytest.mark.parametrize("dose_day, today, expected", [
    (date(2026, 3, 2), date(2026, 3, 1), None),                                              # before the dose
    (date(2026, 3, 2), date(2026, 3, 2), None),                                              # the dose's day
    (date(2026, 3, 2), date(2026, 3, 3), (date(2026, 3, 3), date(2026, 3, 3), "daily")),     # day 1
    (date(2026, 3, 2), date(2026, 3, 9), (date(2026, 3, 9), date(2026, 3, 9), "daily")),     # day 7, the last daily
    (date(2026, 3, 2), date(2026, 3, 10), (date(2026, 3, 10), date(2026, 3, 16), "weekly")),  # day 8 opens week 1
    (date(2026, 3, 2), date(2026, 3, 16), (date(2026, 3, 10), date(2026, 3, 16), "weekly")),  # day 14 ends it
    (date(2026, 3, 2), date(2026, 3, 17), (date(2026, 3, 17), date(2026, 3, 23), "weekly")),  # day 15: week 2
    (date(2026, 12, 28), date(2027, 1, 5), (date(2027, 1, 5), date(2027, 1, 11), "weekly")),  # across a new year
])
def test_free_period(dose_day, today, expected):
    assert rules.free_period(dose_day, today) == expected


@pytest.mark.parametrize("text, expected", [
    ("It was sad, but it was mine to feel", {}),                        # written
    ("x" * rules.ENTRY_MAX, {}),                                        # at the limit
    (None, {"text": rules.EMPTY}),                                      # nothing sent
    ("   \n\t ", {"text": rules.EMPTY}),                                # spaces only
    ("\u200b" * 20, {"text": rules.EMPTY}),                             # zero-width spaces show nothing
    ("....", {"text": rules.EMPTY}),                                    # punctuation alone says nothing
    ("ok\x00", {"text": rules.UNSAVABLE}),                              # PostgreSQL text cannot hold NUL
    ("x" * (rules.ENTRY_MAX + 1), {"text": rules.too_long(rules.ENTRY_MAX + 1)}),  # one over
])
def test_entry_problems(text, expected):
    assert rules.entry_problems(text) == expected


def test_a_quote_is_marked_as_the_patients_words_with_its_date_and_prompt():
    quote = rules.quote_of("  The doors weren't locked.\r\nI walked through.  ", date(2026, 3, 3), "stood_out")
    assert quote == ("“The doors weren't locked.\nI walked through.”\n— the patient's own words, journal entry of "
                     "3 March 2026, answering “What stood out?”")
    assert rules.quote_of("Calmer today", date(2026, 3, 4), "free").endswith("journal entry of 4 March 2026")


def test_review_prompts_are_the_integration_notes_experience_review_fields():
    """Each review prompt is keyed as the note field it is quoted into (notes/forms.py)."""
    from ketamine_integration.notes.forms import INTEGRATION_FIELDS
    assert REVIEW == [f for f in INTEGRATION_FIELDS if f in rules.REVIEW_PROMPTS] == list(INTEGRATION_FIELDS[:5])
