"""The course page's first card: what the signed-in user should do next on this course, most pressing
first, worked out from what the page has read already (it runs no query of its own): today's dose
to record, a dosing record to sign, a safety alert, the user's unsigned notes, an ended course's
discharge summary, a countersignature owed, a window with nothing booked, a session whose outcome is not
recorded, a phase the protocol's conditions allow."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from flask import url_for

from ..db.clinic_time import format_local, to_clinic
from ..domain.phases import Phase
from ..domain.windows import WindowStatus

#: a card lists at most this many: the rest are in the page's sections
MOST = 4


@dataclass(frozen=True)
class NextAction:
    #: what to do: the link's words
    words: str
    #: where it is done: another page, or a section of the course page (#id)
    href: str
    #: why now, in one line
    why: str


@dataclass(frozen=True)
class CoursePageFacts:
    """What the course page read, as far as the next actions need it."""

    course: object
    sessions: list
    #: real windows, then provisional ones (experience.windows.WindowRow)
    windows: list
    after_series_rows: tuple
    appointments: list
    notes: list
    open_alerts: int
    #: {target phase: reasons it is blocked}
    blockers: dict
    #: dosing session ids whose windows were offered suggested times (their #sugg-<id> cards)
    suggested: frozenset
    #: after-series session numbers offered suggested times (#after-sugg-<n>)
    after_suggested: frozenset
    clinical: bool
    may_record_dose: bool
    now: datetime
    today: date
    #: the discharge summary: "due" (the course ended, none signed), "signed", or None (not ended)
    discharge: str | None = None
    #: the user writes this course's discharge summary (a therapist on the care team)
    writes_discharge: bool = False
    #: the packet items (signed_forms.status.PacketItem) whose countersignature the user owes
    countersigns_owed: tuple = ()


def next_actions(user, facts: CoursePageFacts) -> list[NextAction]:
    """The user's next actions on the course, most pressing first (at most MOST)."""
    found = [*_doses(user, facts), *_alerts(user, facts), *_notes(user, facts), *_discharge(facts),
             *_countersignatures(facts), *_bookings(user, facts), *_outcomes(user, facts)]
    return (found or _phase(user, facts))[:MOST]


def _doses(user, facts: CoursePageFacts):
    """Today's planned dose, for whoever records it; a dose recorded and not signed, for its signer."""
    for s in facts.sessions:
        if s.status == "planned" and facts.may_record_dose and s.planned_start \
                and to_clinic(s.planned_start).date() == facts.today:
            yield NextAction(f"Start today's dosing record (#{s.sequence})",
                             url_for("experience.dosing_record", dosing_id=s.id),
                             f"Dosing session #{s.sequence} is planned for {format_local(s.planned_start, '%H:%M')} today.")
        elif s.status == "draft" and user.can("dosing.sign") and facts.may_record_dose:
            yield NextAction(f"Review and sign dosing session #{s.sequence}",
                             url_for("experience.dosing_record", dosing_id=s.id),
                             f"Dosing session #{s.sequence} is recorded, not signed: its integration window opens "
                             "only once it is signed.")


def _alerts(user, facts: CoursePageFacts):
    if facts.clinical and facts.open_alerts and user.can("measures.record"):
        many = facts.open_alerts > 1
        yield NextAction(f"Review the safety alert{'s' if many else ''}",
                         url_for("notes.measures", course_id=facts.course.id),
                         f"{facts.open_alerts} open safety alert{'s wait' if many else ' waits'} for a clinician's "
                         "acknowledgement with what was done.")


def _notes(user, facts: CoursePageFacts):
    """The user's own drafts: only their author may finish them."""
    for n in facts.notes:
        if not n.signed and n.author_id == user.id and user.can("notes.write"):
            yield NextAction(f"Finish the note of {n.session_date.isoformat()}",
                             url_for("notes.note_edit", note_id=n.id),
                             f"{n.label} note, {n.session_date.isoformat()}: a draft, not signed yet.")


def _discharge(facts: CoursePageFacts):
    """An ended course's discharge summary, for the therapist who writes it, until it is signed."""
    if facts.discharge == "due" and facts.writes_discharge:
        yield NextAction("Write the discharge summary", url_for("discharge.summary_page", course_id=facts.course.id),
                         f"The course is {facts.course.current_phase.label.lower()}: its discharge summary is due "
                         "(not signed yet).")


def _countersignatures(facts: CoursePageFacts):
    """The forms the patient signed that wait on the user's countersignature (a prescriber reviews flagged
    answers first: the why says so, the forms page says who)."""
    owed = facts.countersigns_owed
    if owed:
        waits = any(i.flags and i.flags_reviewed is None for i in owed)
        titles = ", ".join(i.title for i in owed)
        yield NextAction(f"Countersign the signed form{'s' if len(owed) > 1 else ''}",
                         url_for("signed_forms.packet", course_id=facts.course.id) + f"#form-{owed[0].form_id}",
                         f"Signed by the patient, waiting on your countersignature: {titles}"
                         + (" (once a prescriber has reviewed its flagged answers)." if waits else "."))


def _bookings(user, facts: CoursePageFacts):
    """The most urgent window with nothing booked (and offered suggested times), then the nearest
    session after the series likewise: both only to a user who books."""
    if facts.course.current_phase.ended or not user.can("schedule.book"):
        return
    open_windows = sorted((w for w in facts.windows if w.needs_booking and w.status is not WindowStatus.CLOSED
                           and w.session.id in facts.suggested), key=lambda w: w.window.closes)
    if open_windows:
        w = open_windows[0]
        which = "provisional window" if w.provisional else "window"
        yield NextAction("Book an integration session", f"#sugg-{w.session.id}",
                         f"Dosing session #{w.session.sequence}'s {which} closes "
                         f"{format_local(w.window.closes, '%a %b %d %H:%M')} ({w.status.label.lower()}); "
                         "nothing is booked in it.")
    for r in facts.after_series_rows:
        if r.needs_booking and r.status is not WindowStatus.CLOSED and r.session.number in facts.after_suggested:
            yield NextAction(f"Book session {r.session.number} after the series", f"#after-sugg-{r.session.number}",
                             f"Due {r.session.due.isoformat()}, counted from {r.session.first_day.isoformat()} to "
                             f"{r.session.last_day.isoformat()}; nothing is booked.")
            return


def _outcomes(user, facts: CoursePageFacts):
    """Sessions over with nothing recorded: they leave their windows unconfirmed."""
    if not user.can("schedule.book"):
        return
    waiting = [a for a in facts.appointments if a.unconfirmed(facts.now)]
    if waiting:
        first = waiting[0]
        more = f" and {len(waiting) - 1} more" if len(waiting) > 1 else ""
        yield NextAction("Say what happened at a booked session", "#booked",
                         f"{first.label} of {format_local(first.starts_at, '%a %b %d %H:%M')}{more}: it has ended "
                         "and no outcome is recorded.")


def _phase(user, facts: CoursePageFacts):
    """With nothing else to do: the phase the protocol's conditions now allow (discontinuing is
    always possible and never suggested)."""
    if facts.course.current_phase.ended or not (facts.clinical and user.can("courses.treat")):
        return []
    return [NextAction(f"Move the course to {target.label.lower()}", "#phase",
                       "The protocol's conditions for it are met; the phase changes only when you confirm it.")
            for target, reasons in facts.blockers.items() if not reasons and target is not Phase.DISCONTINUED][:1]
