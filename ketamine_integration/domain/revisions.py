"""What a new save does to a clinical fact already saved (a clinical response, an adverse event):
nothing, values added where none were saved, saved values replaced or removed, or the fact
withdrawn; and which saved adverse event each submitted one answers.

Pure: plain values in, plain answers out. The service keeps each earlier version as history
(experience.revisions); a save that changes nothing writes nothing.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping, Sequence

ADDED_TO, CHANGED, WITHDRAWN = "added_to", "changed", "withdrawn"
#: how the record names each kind of change, before "by <who> on <when>"
CHANGE_WORDS = {ADDED_TO: "Added to", CHANGED: "Changed", WITHDRAWN: "Withdrawn"}
#: what an adverse event holds (what is compared; its id and who entered it are not content)
EVENT_CONTENT = ("event_type", "severity", "action_taken")


def _blank(value) -> bool:
    return value is None or value == ""


def change_of(saved: Mapping, submitted: Mapping) -> str | None:
    """None when every value is as saved (an empty text and none are the same); ADDED_TO when the
    differences only fill values that were empty (a later reading added to a response: nothing
    saved is lost, so no reason is asked); CHANGED when a saved value is replaced or removed."""
    differing = [key for key in saved.keys() | submitted.keys() if saved.get(key) != submitted.get(key)
                 and not (_blank(saved.get(key)) and _blank(submitted.get(key)))]
    if not differing:
        return None
    return ADDED_TO if all(_blank(saved.get(key)) for key in differing) else CHANGED


def needs_reason(change: str | None) -> bool:
    """A saved value replaced or removed, or a fact withdrawn, says why (as a corrected reading does)."""
    return change in (CHANGED, WITHDRAWN)


def content(event: Mapping) -> tuple:
    return tuple(None if _blank(event.get(key)) else event.get(key) for key in EVENT_CONTENT)


@dataclass(frozen=True)
class EventMatch:
    """The submitted adverse events against the saved (not withdrawn) ones."""

    #: (saved id, the submission answering it): unchanged or changed, as change_of says
    answered: tuple[tuple[int, Mapping], ...] = ()
    #: submissions answering no saved event
    added: tuple[Mapping, ...] = ()
    #: saved events no submission answers: withdrawn
    withdrawn: tuple[int, ...] = ()
    #: ids submitted that name no saved event of this record (a stale or forged form)
    unknown: tuple = ()


def match_events(saved: Mapping[int, Mapping], submitted: Sequence[Mapping]) -> EventMatch:
    """Which saved event each submitted one answers. A submission carrying a saved event's `id`
    answers that event (the record form carries them); one without an id answers the first
    unanswered saved event with the same content (a caller resubmitting the list as it was saved
    changes nothing), or else is new. A saved event nobody answers is withdrawn: `saved` is in
    the order the events were recorded."""
    answered, added, unknown, taken = [], [], [], set()
    for event in submitted:
        event_id = event.get("id")
        if event_id is None:
            continue
        if event_id in saved and event_id not in taken:
            answered.append((event_id, event))
            taken.add(event_id)
        else:
            unknown.append(event_id)
    for event in submitted:
        if event.get("id") is not None:
            continue
        same = next((saved_id for saved_id, values in saved.items()
                     if saved_id not in taken and content(values) == content(event)), None)
        if same is None:
            added.append(event)
        else:
            answered.append((same, event))
            taken.add(same)
    withdrawn = tuple(saved_id for saved_id in saved if saved_id not in taken)
    return EventMatch(tuple(answered), tuple(added), withdrawn, tuple(unknown))
