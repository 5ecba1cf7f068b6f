"""A patient's invitation in words (domain/reminders.py invitation_message): what a reminder may say
and nothing more, in the email and in the calendar event, on either side of a clock change."""
from __future__ import annotations

from datetime import datetime, timezone
from zoneinfo import ZoneInfo

import pytest

from ketamine_integration.domain.reminders import ClinicalWordInMessage, clinical_words_in, invitation_message

NY = ZoneInfo("America/New_York")
ADDRESS = "120 Lantern Quay, Suite 3"
LINK = "https://video.example.org/rooms/ivo"


def utc(*args) -> datetime:
    return datetime(*args, tzinfo=timezone.utc)


def message(**kwargs):
    values = dict(starts_at_utc=utc(2026, 11, 6, 15), zone=NY, sender="Harbor Light", wording=None,
                  place=ADDRESS, link=None, cancel_phone="(555) 0100", room="Cedar Room")
    values.update(kwargs)
    return invitation_message(**values)


# (arguments, subject, a line of the body, summary, location, description)
CASES = [
    # a first invitation, in person, in a room with a plain name; 10:00 EST (the Friday after the change)
    ({}, "Invitation: your appointment on Fri 6 Nov at 10:00 AM",
     "You are booked for your appointment on Friday 6 November 2026 at 10:00 AM (EST).",
     "Your appointment (Harbor Light)", f"{ADDRESS}, Cedar Room", "To cancel or change it, please call (555) 0100."),
    # the week before the clocks went back: the same wall time, EDT
    ({"starts_at_utc": utc(2026, 10, 30, 14)}, "Invitation: your appointment on Fri 30 Oct at 10:00 AM",
     "on Friday 30 October 2026 at 10:00 AM (EDT).", "Your appointment (Harbor Light)", f"{ADDRESS}, Cedar Room",
     "To cancel or change it, please call (555) 0100."),
    # moved, in a room named for what happens there: the room is not said
    ({"moved": True, "room": "Dosing Suite"}, "Changed: your appointment is now on Fri 6 Nov at 10:00 AM",
     "Your appointment has moved. It is now on Friday 6 November 2026 at 10:00 AM (EST).",
     "Your appointment (Harbor Light)", ADDRESS, "To cancel or change it, please call (555) 0100."),
    # online with a link, in the clinic's wording for the kind
    ({"place": None, "room": None, "link": LINK, "wording": "your check-in"},
     "Invitation: your check-in on Fri 6 Nov at 10:00 AM", f"Where: online, join at {LINK}",
     "Your check-in (Harbor Light)", LINK, f"Join online: {LINK}\n\nTo cancel or change it, please call (555) 0100."),
    # online without a link (no room, no template): "Online"; no phone set: "contact the clinic"
    ({"place": None, "room": None, "cancel_phone": ""}, "Invitation: your appointment on Fri 6 Nov at 10:00 AM",
     "Where: online", "Your appointment (Harbor Light)", "Online",
     "To cancel or change it, please contact the clinic."),
    # cancelled
    ({"cancelled": True}, "Cancelled: your appointment on Fri 6 Nov at 10:00 AM",
     "Your appointment on Friday 6 November 2026 at 10:00 AM (EST) is cancelled.",
     "Your appointment (Harbor Light)", f"{ADDRESS}, Cedar Room",
     "Cancelled. To book another time, please call (555) 0100."),
]


@pytest.mark.parametrize("arguments, subject, line, summary, location, description", CASES)
def test_an_invitation_says_when_where_and_how_to_cancel(arguments, subject, line, summary, location, description):
    said = message(**arguments)
    assert (said.subject, said.summary, said.location, said.description) == (subject, summary, location, description)
    assert line in said.body and said.body.endswith("\nHarbor Light")
    assert clinical_words_in(" ".join([said.subject, said.body, said.summary, said.location, said.description])) == []


@pytest.mark.parametrize("arguments", [
    {"wording": "your ketamine session"},                     # a wording saved before the list grew
    {"place": "The Infusion Centre, 12 Quay"},                # an address naming a treatment
    {"place": None, "link": "https://video.example.org/therapy-room"},   # a link naming one
    {"sender": "Harbor Light Wellness"},
])
def test_a_clinical_word_anywhere_refuses_the_invitation(arguments):
    with pytest.raises(ClinicalWordInMessage):
        message(**arguments)
