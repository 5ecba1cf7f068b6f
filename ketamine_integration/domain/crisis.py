"""What a patient is shown at once when an answer of theirs raises a safety alert (issue 23, point 3):
the crisis resources, in the patient's words, with the links a phone dials or texts.

Pure: the clinic's name and phone come in (clinic settings, read by the caller). The national
resources are the US ones the clinic works under: the 988 Suicide & Crisis Lifeline (call or text
988, since July 2022; 988lifeline.org) and 911 for an emergency.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

#: what a dialable number keeps of a written one ("(555) 010-0199" -> "5550100199")
_DIALABLE = re.compile(r"[^0-9+]")


@dataclass(frozen=True)
class CrisisContact:
    #: who answers: "988 Suicide & Crisis Lifeline"
    name: str
    #: what to do, in a sentence: "Call or text 988, any time, day or night."
    how: str
    #: (words, href) for each way to reach them: ("Call 988", "tel:988")
    links: tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class CrisisResources:
    heading: str
    #: why the page is shown, said plainly, before the contacts
    lead: str
    contacts: tuple[CrisisContact, ...]
    #: after the contacts: that the care team has been told
    care_team: str
    #: after the contacts on a form refused with a safety answer: the care team told of that answer,
    #: the rest of the answers not saved yet
    care_team_told_of_answer: str = ""


HEADING = "If you are thinking about harming yourself, help is available now"
LEAD = ("Your answers say you have had thoughts of ending your life or of hurting yourself. You do not have to "
        "wait for your next session: please reach out now.")
CARE_TEAM = ("Your answers have been sent to your care team, who will contact you. This page is not watched "
             "around the clock: if you are in danger, call 911 or 988 now.")
CARE_TEAM_TOLD_OF_ANSWER = ("Your care team has been told of your answer about harming yourself, and will contact "
                            "you. Your other answers are not saved yet: please answer the questions marked below "
                            "and send the questionnaire. This page is not watched around the clock: if you are in "
                            "danger, call 911 or 988 now.")
LIFELINE = CrisisContact("988 Suicide & Crisis Lifeline", "Call or text 988, any time, day or night. It is free "
                         "and confidential.", (("Call 988", "tel:988"), ("Text 988", "sms:988")))
EMERGENCY = CrisisContact("Emergency services", "If you are in immediate danger or might act on these thoughts, "
                          "call 911 or go to the nearest emergency room.", (("Call 911", "tel:911"),))


def dialable(phone: str) -> str:
    """The digits (and a leading +) of a written phone number, for a tel: link."""
    digits = _DIALABLE.sub("", phone or "")
    return digits[0] + digits[1:].replace("+", "") if digits else ""


def crisis_resources(clinic_name: str, clinic_phone: str | None) -> CrisisResources:
    """The crisis page's content: 988, 911 and, when the clinic has set its phone number, the clinic."""
    contacts = [LIFELINE, EMERGENCY]
    number = (clinic_phone or "").strip()
    if dialable(number):
        contacts.append(CrisisContact(clinic_name, f"Call the clinic on {number} during opening hours.",
                                      ((f"Call {number}", f"tel:{dialable(number)}"),)))
    return CrisisResources(HEADING, LEAD, tuple(contacts), CARE_TEAM, CARE_TEAM_TOLD_OF_ANSWER)
