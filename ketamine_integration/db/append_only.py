"""Append-only records: which tables never change once written (and the one-way changes each
still allows), the ORM guard that stops the application's own code early, and the SHA-256
digests `flask signatures verify` rechecks.

Database triggers on both engines are the guarantee (migrations 0003, 0007, 0008, 0011, 0015,
0016, 0024, 0025, 0027, 0031, 0035, 0039, 0041, 0043, 0046, 0047, 0048, 0055, 0056 and 0058); this module
is the one place the code declares the tables they protect, so a test can try UPDATE and DELETE on every one and fail on a table
nobody classified (tests/security/test_append_only.py).
"""
from __future__ import annotations

import hashlib
import json
from datetime import date, datetime, timezone
from decimal import Decimal
from itertools import chain
from typing import Callable, Mapping

from sqlalchemy import String, cast, inspect, select
from sqlalchemy.orm import Session

from .types import utcnow
from ..extensions import db

#: every append-only table, with what may still change on a row once it is written
APPEND_ONLY: dict[str, str] = {
    "audit_events": "nothing",
    "protocol_versions": "nothing",
    "coordination_reports": "nothing",
    "coordination_notes": "its one acknowledgement and reply",
    "session_notes": "once signed: only bookkeeping (updated_at, version); a draft is discarded once, by its "
                     "author, its text cleared, and is then kept unchanged; the dosing session a dosing-session "
                     "note documents never changes",
    "note_themes": "once its note is signed: nothing",
    "action_check_ins": "once its note is signed: nothing",
    "note_dosing_links": "once its note is signed: nothing",
    "note_techniques": "once its note is signed: nothing",
    "technique_responses": "once its note is signed: nothing",
    "note_objective_progress": "once its note is signed: nothing",
    "action_steps": "once its note is signed: only its status (a later check-in stops it)",
    "dosing_sessions": "once signed: only the REMS submission and bookkeeping",
    "vital_signs": "once its session is signed: nothing",
    "adverse_events": "never deleted (a removed one is withdrawn, its content kept); once its session is signed: "
                      "nothing",
    "vital_sign_responses": "never deleted (a cleared one is withdrawn, its content kept); once its session is "
                            "signed: nothing",
    "vital_sign_corrections": "nothing (a saved reading's earlier values; none added once its session is signed)",
    "vital_response_revisions": "nothing (a saved clinical response's earlier version; none added once its session "
                                "is signed)",
    "adverse_event_revisions": "nothing (a saved adverse event's earlier version; none added once its session is "
                               "signed)",
    "note_addenda": "nothing",
    "dosing_addenda": "nothing",
    "case_formulations": "nothing (a new revision is a new row)",
    "measure_responses": "voided once, with a reason",
    "safety_alerts": "acknowledged once; a portal answer's alert is linked once to the response completed after it",
    "releases_of_information": "revoked, or its revocation brought forward; never pushed back or withdrawn",
    "unsaved_work": "its text cleared when recovered or superseded; nothing after that",
    "appointment_changes": "nothing (a move, cancellation or attendance is a new row)",
    "phase_transitions": "nothing (a phase change is a new row)",
    "preparation_records": "voided once, by someone, with a reason",
    "contact_consents": "nothing (a withdrawal is a new row; the latest row per channel holds)",
    "practice_logs": "nothing (what the patient wrote between sessions is never lost or rewritten)",
    "patient_step_check_ins": "nothing (what the patient wrote between sessions is never lost or rewritten)",
    "treatment_plans": "once signed: only bookkeeping (updated_at, version); a change of plan is a new revision",
    "plan_objectives": "once its plan revision is signed: nothing",
    "plan_techniques": "once its plan revision is signed: nothing",
    "plan_addenda": "nothing",
    "course_stage_changes": "nothing (a move on the decision map is a new row)",
    "discharge_summaries": "never deleted; once signed: only bookkeeping (updated_at, version)",
    "discharge_addenda": "nothing",
    "discharge_copies": "nothing (the prescriber's copy is kept exactly as sent)",
    "record_exports": "nothing (the accounting of a copy of the record that left the clinic)",
    "safety_plan_revisions": "never deleted; a draft is edited until it is signed, then nothing (a change is an "
                             "addendum or a new revision)",
    "safety_plan_addenda": "nothing",
    "safety_plan_reviews": "nothing (a review is signed by who did it; the next review is a new row)",
    "form_packets": "nothing (the forms a course's protocol asked for at enrolment)",
    "packet_forms": "nothing (the forms a course's protocol asked for at enrolment)",
    "signed_forms": "nothing (a form as the patient signed it; a new version or a re-signing is a new row)",
    "form_countersignatures": "nothing",
    "form_flag_reviews": "nothing (one note per signed form covers its flagged answers)",
    "consent_withdrawals": "nothing (a new signature of the form restores the consent)",
    "tablet_signings": "ended once, saying how (completed, ended by staff or expired); never deleted, nothing else "
                       "changes (a longer expiry or another starter would hand the tablet back to the patient)",
}

#: every other table, and why its rows may change (a new table must be classified in one of the two)
MUTABLE: dict[str, str] = {
    "users": "accounts are edited, disabled and given new passwords",
    "user_roles": "the admin changes a user's roles",
    "login_sessions": "sessions are touched on activity and ended",
    "login_failures": "the sign-in throttle's counts expire",
    "authenticators": "an authenticator is confirmed, used and reset",
    "recovery_codes": "codes are used and replaced",
    "clinic_settings": "the admin's settings",
    "reminder_rules": "the admin's reminder rule per kind of session",
    "deliveries": "a message's status moves from pending through sending to sent, failed or withdrawn, and its text "
                  "is erased once it has gone",
    "session_types": "the admin's default session lengths",
    "themes": "the admin retires and restores vocabulary themes",
    "rooms": "the admin manages rooms",
    "patients": "demographics are corrected",
    "care_team_members": "care teams change",
    "treatment_courses": "a course moves through its phases",
    "audit_chain_head": "moves forward at each commit; its own triggers refuse deletion and rewinding (0011)",
    "integration_windows": "derived from signed dosing sessions, rebuilt by `windows rebuild`",
    "process_notes": "the author's own working notes, edited in place (never shared)",
    "journal_entries": "the patient edits a private entry, shares it and withdraws the share; never deleted",
    "appointments": "bookings are moved and cancelled",
    "working_hours": "clinicians' availability",
    "extra_hours": "clinicians' availability",
    "time_off": "clinicians' availability",
    "calendar_feeds": "feeds are used and revoked",
    "calendar_imports": "a new upload replaces the previous one",
    "imported_busy": "replaced with each upload",
    "practices": "the admin adds practices to the vocabulary, archives and restores them (never deleted)",
    "practice_assignments": "ended once (who, when, the last day it counts); never deleted, a change is a new "
                            "assignment",
    "coordination_replies_seen": "bookkeeping: when a note's author first opened its answer (the home page's count)",
    "portal_accounts": "a patient's portal account: its password and second factor are set and changed",
    "portal_invitations": "an invitation is used, revoked or replaced once",
    "portal_sessions": "portal sessions are touched on activity and ended; an emailed code is replaced or used",
    "portal_kept_text": "its text cleared when the patient saves again on that page",
}


# -- one-way changes the ORM guard lets through (the triggers of migrations 0015 and 0016 mirror them) --

def _once(before, after, changed: set[str]) -> bool:
    """Set once: from nothing to a value, never again."""
    return before is None and after is not None


def _earlier(before, after, changed: set[str]) -> bool:
    """Set, then only moved earlier (a revocation brought forward, never pushed back)."""
    return after is not None and (before is None or after < before)


def _cleared(before, after, changed: set[str]) -> bool:
    return after == {}


def _once_with(*columns: str) -> Callable:
    """Set once, and only together with `columns` (a void says who and why)."""
    return lambda before, after, changed: _once(before, after, changed) and set(columns) <= changed


def _with(column: str) -> Callable:
    """Changes only together with `column` (who revoked, with the revocation date)."""
    return lambda before, after, changed: column in changed


#: table -> column -> rule; a table here accepts no other change and no deletion
ONE_WAY: dict[str, dict[str, Callable]] = {
    "note_addenda": {},
    "dosing_addenda": {},
    "discharge_addenda": {},
    "discharge_copies": {},
    "record_exports": {},
    "vital_sign_corrections": {},
    "vital_response_revisions": {},
    "adverse_event_revisions": {},
    "case_formulations": {},
    "safety_plan_addenda": {},
    "safety_plan_reviews": {},
    "form_packets": {},
    "packet_forms": {},
    "signed_forms": {},
    "form_countersignatures": {},
    "form_flag_reviews": {},
    "consent_withdrawals": {},
    # a clinic tablet's signing session ends once, with how (migration 0058 mirrors this)
    "tablet_signings": {"ended_at": _once_with("ended_reason"), "ended_reason": _once_with("ended_at")},
    "measure_responses": {"voided_at": _once, "void_reason": _once},
    # the response a patient completed after a portal answer's alert, linked once (the CHECK of migration
    # 0043 keeps it to that source; any other alert has its response from the start, or none)
    "safety_alerts": {"acknowledged_at": _once, "acknowledged_by_id": _once, "acknowledgement": _once,
                      "measure_response_id": _once},
    "releases_of_information": {"revoked_on": _earlier, "revoked_by_id": _with("revoked_on")},
    "unsaved_work": {"form": _cleared, "recovered_at": _once},
    "appointment_changes": {},
    "phase_transitions": {},
    "contact_consents": {},
    "plan_addenda": {},
    "course_stage_changes": {},
    "preparation_records": {"voided_at": _once_with("voided_by_id", "void_reason"),
                            "voided_by_id": _once_with("voided_at"), "void_reason": _once_with("voided_at")},
}


class AppendOnlyViolation(RuntimeError):
    """Code tried to change or delete an append-only row beyond its one-way changes."""


def _changes(obj) -> dict[str, tuple]:
    state, changes = inspect(obj), {}
    for attribute in state.mapper.column_attrs:
        history = state.attrs[attribute.key].history
        if history.has_changes():
            changes[attribute.key] = (history.deleted[0] if history.deleted else None,
                                      history.added[0] if history.added else None)
    return changes


def refuse_changes_to_append_only_rows(session: Session, flush_context, instances) -> None:
    # The triggers refuse these whatever path tries; this stops the ORM path early and loudly.
    for obj in chain(session.dirty, session.deleted):
        table = getattr(obj, "__tablename__", None)
        if table not in ONE_WAY:
            continue
        if obj in session.deleted:
            raise AppendOnlyViolation(f"{table} rows are never deleted")
        changes = _changes(obj)
        for column, (before, after) in changes.items():
            rule = ONE_WAY[table].get(column)
            if rule is None or not rule(before, after, set(changes)):
                raise AppendOnlyViolation(f"{table} {obj.id}: {column} cannot change that way")


# -- digests ------------------------------------------------------------------------------------

#: table -> the columns its digest covers: what the record says, who wrote it, when, and what it
#: belongs to (one-way columns such as a revocation are left out: their audit rows carry theirs)
DIGESTED: dict[str, tuple[str, ...]] = {
    "note_addenda": ("note_id", "author_id", "created_at", "body"),
    "dosing_addenda": ("dosing_session_id", "author_id", "created_at", "body"),
    "plan_addenda": ("plan_id", "author_id", "created_at", "body"),
    "discharge_addenda": ("summary_id", "author_id", "created_at", "body"),
    "measure_responses": ("patient_id", "course_id", "measure", "administered_on", "answers", "difficulty",
                          "total", "band", "entered_by_id", "created_at"),
    "releases_of_information": ("patient_id", "recipient_user_id", "recipient_name", "categories", "purpose",
                                "effective_on", "expires_on", "created_by_id", "created_at"),
    "case_formulations": ("course_id", "revision", "content", "author_id", "saved_at"),
    "preparation_records": ("course_id", "item", "completed_on", "note", "recorded_by_id", "recorded_at"),
    "safety_plan_addenda": ("revision_id", "author_id", "created_at", "body"),
    "safety_plan_reviews": ("patient_id", "revision_id", "reviewed_on", "reviewed_by_id", "with_patient", "changes",
                            "comment", "created_at"),
}

#: table -> columns added after its digest was defined: covered when they hold anything but their
#: default (false, none), so the digest of every earlier row, and of the migration that filled
#: them (0015), stays what it was (migration 0023: whether a release covers an outside recipient)
DIGESTED_WHEN_SET: dict[str, tuple[str, ...]] = {"releases_of_information": ("outside_care_team",),
                                                 # migration 0041: completed by the patient, and the moment answered
                                                 "measure_responses": ("completed_by_patient", "moment")}

#: the column saying when a digested row was written, where it is not created_at
WRITTEN_AT = {"case_formulations": "saved_at", "preparation_records": "recorded_at"}


def _canonical(value):
    if isinstance(value, datetime):
        return value.astimezone(timezone.utc).isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    return value


def digest(table: str, values: Mapping, columns: tuple[str, ...] | None = None) -> str:
    """SHA-256 of a row's covered columns as canonical JSON (plain values in, so the migration
    that filled earlier rows and `signatures verify` hash exactly what the app hashed)."""
    content = {"table": table, **{c: _canonical(values[c]) for c in columns or DIGESTED[table]}}
    if columns is None:
        content.update({c: _canonical(values[c]) for c in DIGESTED_WHEN_SET.get(table, ()) if values.get(c)})
    canonical = json.dumps(content, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def digest_at_creation(mapper, connection, target) -> None:
    # before_insert, not the service: the parent's key is known here even for a row appended
    # through a relationship, and no creation path (service, demo, import) can leave it out.
    if mapper.local_table.name in DIGESTED:
        store_digest(target)


def store_digest(target) -> None:
    """Stamp a digested row's time of writing (if not given) and its digest. Also called by the
    demo, which re-dates the rows of its invented history as they are inserted."""
    table = target.__tablename__
    written_at = WRITTEN_AT.get(table, "created_at")
    if getattr(target, written_at) is None:
        setattr(target, written_at, utcnow())
    covered = (*DIGESTED[table], *DIGESTED_WHEN_SET.get(table, ()))
    target.content_digest = digest(table, {c: getattr(target, c) for c in covered})


def verify_digests() -> list[tuple[str, int, bool]]:
    """(table, id, digest still matches) for every row of the digested tables, read through the
    models' column types so values come back exactly as the app hashed them."""
    results = []
    for name in DIGESTED:
        table = db.metadata.tables[name]
        covered = (*DIGESTED[name], *DIGESTED_WHEN_SET.get(name, ()))
        columns = [table.c.id, table.c.content_digest, *(table.c[c] for c in covered)]
        for row in db.session.execute(select(*columns).order_by(table.c.id)):
            values = row._mapping
            results.append((name, values["id"], values["content_digest"] == digest(name, values)))
    return results


#: one-way changes the audit trail records: audit action -> (table, the columns the change sets;
#: the first is set by every success)
ONE_WAY_AUDITED: dict[str, tuple[str, tuple[str, ...]]] = {
    "measure.void": ("measure_responses", ("voided_at", "void_reason")),
    "preparation.void": ("preparation_records", ("voided_at", "voided_by_id", "void_reason")),
    "alert.acknowledge": ("safety_alerts", ("acknowledged_at", "acknowledged_by_id", "acknowledgement")),
    "release.revoke": ("releases_of_information", ("revoked_on", "revoked_by_id")),
}
RECORDED_ONE_WAY = tuple((action, table, columns[0]) for action, (table, columns) in ONE_WAY_AUDITED.items())

#: records anchored to the audit row of their creation: audit action -> (table, the columns the digest
#: in its success row covers). Their triggers refuse every change, but the database owner can lift
#: them; the HMAC-chained trail names each record and what it said, so `signatures verify` finds one
#: deleted, rewritten, or inserted behind the app's back (issue 26, attack finding 2). A signed form's
#: `digest` covers its document; `flagged_count` and the signer's account are covered here.
AUDITED_AT_CREATION: dict[str, tuple[str, tuple[str, ...]]] = {
    "forms.sign": ("signed_forms", ("patient_id", "course_id", "form_id", "form_version", "form_content_hash",
                                    "kind", "title", "digest", "flagged_count", "signed_at", "method",
                                    "typed_name", "portal_account_id", "witness_id")),
    "forms.countersign": ("form_countersignatures", ("signed_form_id", "user_id", "role", "signed_at", "digest")),
    "forms.review_flags": ("form_flag_reviews", ("signed_form_id", "prescriber_id", "note", "reviewed_at")),
    "forms.withdraw": ("consent_withdrawals", ("signed_form_id", "withdrawn_at", "reason", "recorded_by_id",
                                               "portal_account_id")),
}

#: every audit action whose success row carries a digest of the record it names
AUDITED_DIGESTS: dict[str, tuple[str, tuple[str, ...]]] = {**ONE_WAY_AUDITED, **AUDITED_AT_CREATION}

#: how an audit row's detail carries the digest of the change or record it names
AUDITED_DIGEST_PREFIX = "sha256 "


def audited_digest(action: str, values: Mapping) -> str:
    """SHA-256 of what a one-way change set (when, by whom, why, until when), or of a record as it
    was created, with the row's id: `audit.record` puts it in the success row's detail, where the
    HMAC chain keeps it, so a void reason, revocation date or signed record rewritten later no
    longer matches."""
    table, columns = AUDITED_DIGESTS[action]
    return digest(table, values, ("id", *columns))


def undone_one_way_changes() -> list[tuple[str, int]]:
    """(table, id) of rows whose one-way change the audit trail records as done but which no
    longer show it: un-voided, un-acknowledged or un-revoked by someone who lifted the
    triggers. The trail is HMAC-chained (`audit verify`), so it is the anchor digests lack
    for what may still change after creation."""
    audit = db.metadata.tables["audit_events"]
    undone = []
    for action, name, column in RECORDED_ONE_WAY:
        table = db.metadata.tables[name]
        done = select(audit.c.object_id).where(audit.c.action == action, audit.c.outcome == "success")
        rows = db.session.scalars(select(table.c.id).where(cast(table.c.id, String).in_(done),
                                                           table.c[column].is_(None)).order_by(table.c.id))
        undone += [(name, row_id) for row_id in rows]
    return undone
