"""Saved clinical responses and adverse events as facts: a save that adds to, changes or removes one
keeps the earlier version (vital_response_revisions, adverse_event_revisions: append-only) with
who, when and, for a saved value replaced or removed, why; a removed one is withdrawn, never
deleted; one the save leaves as it was is not written again. Shown on the record ("Earlier
clinical responses", "Earlier and withdrawn adverse events") and covered by its signature.

What counts as a change is domain.revisions; readings follow the same rule (experience.readings).
"""
from __future__ import annotations

from datetime import datetime, timezone

from ..accounts.models import User
from ..db.clinic_time import format_local
from ..domain.revisions import (CHANGE_WORDS, EVENT_CONTENT, WITHDRAWN, EventMatch, change_of, match_events,
                                needs_reason)
from ..domain.vitals import MIN_ACTION_CHARACTERS, READINGS, TIMEPOINTS, substantive
from .models import AdverseEvent, AdverseEventRevision, DosingSession, VitalResponseRevision, VitalSignResponse
from .monitoring import response_words
from .wording import timepoint_labels

#: the form fields holding why a saved response or adverse event is changed or removed
RESPONSE_REASON_FIELD = "responses_change_reason"
EVENT_REASON_FIELD = "adverse_events_change_reason"
#: what a response holds, as compared and as kept in its revisions
RESPONSE_COLUMNS = ("action", "decided_by_id", "later_at", *(f"later_{name}" for name in READINGS))


def _saved_response(row: VitalSignResponse) -> dict:
    return {column: getattr(row, column) for column in RESPONSE_COLUMNS}


def _submitted_response(answer: dict) -> dict:
    return {**{column: answer.get(column) for column in RESPONSE_COLUMNS},
            "action": (answer.get("action") or "").strip()}


def _response_change(row: VitalSignResponse, answer: dict) -> str | None:
    """How a submission changes a standing response: clearing "what was done" withdraws it."""
    submitted = _submitted_response(answer)
    return WITHDRAWN if not submitted["action"] else change_of(_saved_response(row), submitted)


def response_changes(session: DosingSession, responses: dict[str, dict]) -> dict[str, str]:
    """timepoint -> how the submission changes the standing response there (a timepoint left out
    of `responses`, or answered as saved, is not changed)."""
    standing = {r.timepoint: r for r in session.vital_responses}
    changes = {tp: _response_change(standing[tp], answer) for tp, answer in responses.items() if tp in standing}
    return {tp: change for tp, change in changes.items() if change}


def _event_content(event: dict) -> dict:
    return {key: event.get(key) or None for key in EVENT_CONTENT}


def event_match(session: DosingSession, events: list[dict]) -> EventMatch:
    return match_events({e.id: e.content for e in session.adverse_events}, events)


def _event_changes(session: DosingSession, match: EventMatch) -> dict[int, str]:
    """saved event id -> how the submission changes it."""
    standing = {e.id: e for e in session.adverse_events}
    changes = {event_id: change_of(standing[event_id].content, _event_content(event))
               for event_id, event in match.answered}
    changes.update({event_id: WITHDRAWN for event_id in match.withdrawn})
    return {event_id: change for event_id, change in changes.items() if change}


def _why(what: str, where: str, kept: str) -> str:
    return (f"You changed or removed {what} already saved ({where}). Say why, in words (at least "
            f"{MIN_ACTION_CHARACTERS} characters): {kept} stays on the record.")


def reason_problems(session: DosingSession, responses: dict[str, dict], events: list[dict], *,
                    response_reason: str | None, event_reason: str | None) -> dict[str, str]:
    """A saved response or adverse event replaced, cleared or removed needs a reason, in words; an
    adverse event the form names must be one of this record's standing events."""
    problems = {}
    changed = [tp for tp, change in response_changes(session, responses).items() if needs_reason(change)]
    if changed and not substantive(response_reason):
        where = ", ".join(TIMEPOINTS[tp].lower() for tp in TIMEPOINTS if tp in changed)
        problems[RESPONSE_REASON_FIELD] = _why("a clinical response", where, "the earlier response")
    match = event_match(session, events)
    if match.unknown:
        problems[""] = ("An adverse event on this form was changed or withdrawn meanwhile; open the record again "
                        "and enter your changes there.")
        return problems
    names = {e.id: e.event_type for e in session.adverse_events}
    removed = [names[event_id] for event_id, change in _event_changes(session, match).items() if needs_reason(change)]
    if removed and not substantive(event_reason):
        problems[EVENT_REASON_FIELD] = _why("an adverse event", ", ".join(removed), "the earlier version")
    return problems


def _reason(change: str, reason: str | None) -> str | None:
    """The reason as kept: whitespace collapsed; asked for (and so kept) only where needs_reason."""
    return " ".join(reason.split()) if needs_reason(change) and reason else None


def save_responses(session: DosingSession, responses: dict[str, dict], *, by: User, reason: str | None,
                   now: datetime) -> None:
    """Write the submitted responses: a standing one changed keeps its earlier version first; one
    cleared is withdrawn; a new one at a timepoint withdrawn before reuses that row (its earlier
    content is already kept). The reason was checked before (reason_problems)."""
    rows = {r.timepoint: r for r in session.vital_response_rows}
    for timepoint, answer in responses.items():
        row, submitted = rows.get(timepoint), _submitted_response(answer)
        if row is not None and row.withdrawn_at is None:
            change = _response_change(row, answer)
            if change is None:
                continue  # as saved: not written again
            session.response_revisions.append(VitalResponseRevision(
                response_id=row.id, timepoint=timepoint, entered_by_id=row.entered_by_id, change=change,
                changed_by_id=by.id, changed_at=now, reason=_reason(change, reason), **_saved_response(row)))
            if change == WITHDRAWN:
                row.withdrawn_at, row.withdrawn_by_id = now, by.id
                continue
        elif not submitted["action"]:
            continue
        if row is None:
            row = VitalSignResponse(timepoint=timepoint)
            session.vital_response_rows.append(row)
        for column, value in submitted.items():
            setattr(row, column, value)
        row.entered_by_id, row.withdrawn_at, row.withdrawn_by_id = by.id, None, None


def save_adverse_events(session: DosingSession, events: list[dict], *, by: User, reason: str | None,
                        now: datetime) -> None:
    """Write the submitted adverse events: one changed keeps its earlier version first, one no longer
    submitted is withdrawn (kept, with its earlier version), a new one is added; the others are
    left as they are. The reason and the ids were checked before (reason_problems)."""
    match = event_match(session, events)
    standing = {e.id: e for e in session.adverse_events}
    submitted = dict(match.answered)
    for event_id, change in _event_changes(session, match).items():
        row = standing[event_id]
        session.adverse_event_revisions.append(AdverseEventRevision(
            adverse_event_id=row.id, entered_by_id=row.entered_by_id, change=change, changed_by_id=by.id,
            changed_at=now, reason=_reason(change, reason), **row.content))
        if change == WITHDRAWN:
            row.withdrawn_at, row.withdrawn_by_id = now, by.id
            continue
        for key, value in _event_content(submitted[event_id]).items():
            setattr(row, key, value)
        row.entered_by_id = by.id
    for event in match.added:
        session.adverse_event_rows.append(AdverseEvent(entered_by_id=by.id, **_event_content(event)))


def _what_happened(revision) -> str:
    line = f"{CHANGE_WORDS[revision.change]} by {revision.changed_by.display_name} on " \
           f"{format_local(revision.changed_at)}"
    return line + (f": {revision.reason}" if revision.reason else ".")


def event_words(event) -> str:
    """An adverse event (standing, or an earlier version) in plain words."""
    words = f"{event.event_type} ({event.severity})" + (f": {event.action_taken}" if event.action_taken else "")
    return words + (f" (entered by {event.entered_by.display_name})" if event.entered_by else "")


def earlier_response_lines(session: DosingSession) -> list[str]:
    """Each earlier version of a response: what it said, and who added to, changed or withdrew it,
    when and why."""
    labels = timepoint_labels(session.setting)
    return [f"{response_words(r, labels)}. {_what_happened(r)}" for r in session.response_revisions]


def earlier_event_lines(session: DosingSession) -> list[str]:
    """Each earlier version of an adverse event, and each withdrawn one, the same way."""
    return [f"{event_words(r)}. {_what_happened(r)}" for r in session.adverse_event_revisions]


def _instant(value: datetime | None) -> str | None:
    return value.astimezone(timezone.utc).isoformat() if value else None


def signed_history(session: DosingSession) -> dict:
    """The earlier versions and who entered the standing adverse events, for the signed content:
    nothing on a record without them, so records signed before migration 0025 hash as they did."""
    extras = {}
    if session.response_revisions:
        extras["earlier_responses"] = [
            [r.response_id, r.timepoint, r.action, r.decided_by_id, _instant(r.later_at),
             [r.later[name] for name in READINGS], r.entered_by_id, r.change, r.changed_by_id,
             _instant(r.changed_at), r.reason] for r in session.response_revisions]
    if session.adverse_event_revisions:
        extras["earlier_adverse_events"] = [
            [r.adverse_event_id, r.event_type, r.severity, r.action_taken, r.entered_by_id, r.change,
             r.changed_by_id, _instant(r.changed_at), r.reason] for r in session.adverse_event_revisions]
    entered = [e.entered_by_id for e in session.adverse_events]
    if any(who is not None for who in entered):
        extras["adverse_events_entered_by"] = entered
    return extras
