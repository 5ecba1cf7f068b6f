"""The patient portal's pure rules: an invitation's state, the sign-in code limits, what the
invitation and code emails say, and a course's phase told to the patient in plain words.
No Flask, no database, no clock: `now` comes in."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from .reminders import ClinicalWordInMessage, clinical_words_in
from .text import counted, plural

#: an invitation link works this long after it is sent (issue 23, point 1)
INVITATION_LIFETIME = timedelta(hours=72)
#: an emailed sign-in code works this long, once
EMAIL_CODE_LIFETIME = timedelta(minutes=10)
#: codes one portal session may have emailed (a mailbox is not flooded by a script)
MAX_EMAIL_CODES = 5
#: a new code may be asked for this long after the last one
EMAIL_CODE_SPACING = timedelta(seconds=30)
#: wrong codes one portal session may send before it is ended (ASVS 6.3.1)
MAX_CODE_FAILURES = 5

PENDING, USED, EXPIRED, REVOKED, REPLACED = "pending", "used", "expired", "revoked", "replaced"
#: state -> how the patient page names it, and its tone (status_badge)
STATE_WORDS = {PENDING: ("Invitation sent, waiting", "info"), USED: ("Accepted", "ok"),
               EXPIRED: ("Invitation expired", "warn"), REVOKED: ("Invitation revoked", "neutral"),
               REPLACED: ("Replaced by a newer invitation", "neutral")}
#: what a patient following a link that no longer works is told (the page changes nothing)
DEAD_LINK_WORDS = {
    USED: "This invitation link has been used already. Sign in with the email address and password you chose.",
    EXPIRED: "This invitation link has expired (links work for 72 hours). Please ask the clinic to send a new one.",
    REVOKED: "This invitation link was withdrawn by the clinic. Please contact the clinic if you expected it "
             "to work.",
    REPLACED: "A newer invitation was sent to you, so this link no longer works. Please use the link in the most "
              "recent email.",
    None: "This invitation link is not valid. Check that the whole link was copied, or ask the clinic for a new "
          "one.",
}


def invitation_state(*, expires_at: datetime, used_at: datetime | None, revoked_at: datetime | None,
                     revoked_why: str | None, now: datetime) -> str:
    """What an invitation is at `now`: used and revoked first (whenever they happened), then
    expired at its expiry instant, else pending."""
    if used_at is not None:
        return USED
    if revoked_at is not None:
        return REPLACED if revoked_why == REPLACED else REVOKED
    if now >= expires_at:
        return EXPIRED
    return PENDING


@dataclass(frozen=True)
class PortalEmail:
    subject: str
    body: str


def _checked(email: PortalEmail) -> PortalEmail:
    found = clinical_words_in(email.subject) + clinical_words_in(email.body)
    if found:
        raise ClinicalWordInMessage(f"a portal email would carry the word(s): {', '.join(sorted(set(found)))}")
    return email


#: what the portal offers a patient, as the invitation email and the staff's card say it (nothing clinical: an
#: email may be read on a lock screen)
PORTAL_OFFERS = ("see your upcoming appointments and where your course stands",
                 "fill in the questionnaires the clinic asks of you",
                 "keep a private journal, and share entries when you choose",
                 "log the practices and action steps you agreed on")


def invitation_email(*, sender: str, link: str, expires_text: str) -> PortalEmail:
    """The invitation: discreet as a reminder is (domain/reminders.py), read on a lock screen."""
    return _checked(PortalEmail(
        subject=f"Your online account with {sender}",
        body="\n".join(["Hello,", "", f"{sender} has set up an online account for you. In it you can:",
                        *(f"- {offer}" for offer in PORTAL_OFFERS), "",
                        "To choose your password, open this link:", link, "",
                        f"The link works once, until {expires_text}. If you did not expect this email, you can "
                        "ignore it.", "", sender])))


def reset_email(*, sender: str, link: str, expires_text: str) -> PortalEmail:
    """A reset of the patient's sign-in, sent when they asked the clinic (a forgotten password, a new
    phone). The current password works until the link is used, so an unexpected email locks no one out."""
    return _checked(PortalEmail(
        subject=f"Reset your sign-in to your online account with {sender}",
        body="\n".join(["Hello,", "", f"{sender} has sent you a link to choose a new password for your online "
                        "account, and to set up again how you confirm it is you when signing in.", "",
                        "To choose your new password, open this link:", link, "",
                        f"The link works once, until {expires_text}. Until you use it, your current password "
                        "still works. If you did not ask for this, please call the clinic.", "", sender])))


def code_email(*, sender: str, code: str) -> PortalEmail:
    minutes = int(EMAIL_CODE_LIFETIME.total_seconds() // 60)
    return _checked(PortalEmail(
        subject=f"Your sign-in code for {sender}",
        body="\n".join(["Hello,", "", f"Your sign-in code is {code}.", "",
                        f"It works once, for {minutes} minutes. If you did not try to sign in, you can ignore "
                        "this email; your account stays safe without the code.", "", sender])))


# -- the course's phase in plain words ------------------------------------------------------

@dataclass(frozen=True)
class CourseOutline:
    """What the patient's protocol says, as far as the portal tells it (from domain/protocols.py)."""

    #: the protocol's name (e.g. "IV ketamine induction series")
    name: str
    #: dosing sessions in the series: (at least, at most)
    dosing_sessions: tuple[int, int]
    #: preparation sessions signed before the first dose
    preparation_sessions: int
    #: when the integration window opens and its best span, as words ("24 hours", "3 days")
    window_opens: str
    window_optimal: str
    #: sessions after the series, and how many days apart
    after_series_sessions: int
    after_series_every_days: int


@dataclass(frozen=True)
class PhaseWords:
    #: the phase's name as the patient sees it
    title: str
    #: where the patient is now
    now: str
    #: what comes next
    next: str


def _count(low: int, high: int) -> str:
    return f"{low}" if low == high else f"{low} to {high}"


def phase_words(phase: str, outline: CourseOutline) -> PhaseWords:
    """The course's phase and what comes next, in plain words from its protocol. Never a promise
    of an effect: the windows are the clinic's plan (BRIEF, "The post-dose window")."""
    sessions = _count(*outline.dosing_sessions)
    integration = (f"Integration sessions are planned between {outline.window_opens} and "
                   f"{outline.window_optimal} after each dosing session.")
    if phase == "preparation":
        prep = (f"at least {counted(outline.preparation_sessions, 'preparation session')}"
                if outline.preparation_sessions else "preparation")
        return PhaseWords("Preparation", f"You are preparing for your course ({outline.name}): {prep}, and "
                          "the questionnaires and checks your care team needs first.",
                          f"Next: your series of {sessions} dosing sessions, once your care team confirms you "
                          "are ready. " + integration)
    if phase == "experience":
        return PhaseWords("Dosing sessions", f"You are in your series of {sessions} dosing sessions.", integration)
    if phase == "integration":
        more = outline.after_series_sessions
        after = (f" After the series, {more} more {plural(more, 'session')} about every "
                 f"{outline.after_series_every_days} days.") if more else ""
        return PhaseWords("Integration", "Your dosing series is done: your sessions now help you turn what came up "
                          "into changes in daily life.", "Next: your remaining integration sessions." + after)
    if phase == "maintenance":
        return PhaseWords("Maintenance", "You are in maintenance: occasional sessions to keep what you have gained.",
                          "Next: your care team plans each further session with you.")
    if phase == "completed":
        return PhaseWords("Completed", "Your course is complete.", "Nothing is planned. Contact the clinic if you "
                          "would like to talk about further care.")
    return PhaseWords("Ended", "Your course has ended.", "Nothing is planned. Contact the clinic with any questions.")
