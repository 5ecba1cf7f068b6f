"""What the audit trail and the records' own structure say append-only rows must still show:
records whose creation was audited still exist, a one-way change or an anchored record still
matches the digest its audit row carries, an anchored table holds no row the trail does not name,
and histories are unbroken. `flask signatures verify` runs these.

Digests catch a row rewritten in place; they cannot catch a row deleted, nor a change to what
may still change after creation (a void, an acknowledgement, a revocation). Someone who lifts
the triggers (the database owner) could do both, so these checks anchor to the audit trail,
which is HMAC-chained (`flask audit verify`) and cannot be rewritten without its key
(issue 17, point 3, second attack).
"""
from __future__ import annotations

import re
from collections import Counter

from sqlalchemy import String, cast, func, select

from ..db.append_only import AUDITED_AT_CREATION, AUDITED_DIGEST_PREFIX, ONE_WAY_AUDITED, audited_digest
from ..domain import measures
from ..extensions import db

#: audit actions whose success row names the record itself (object_id): it must still exist
NAMED_AT_CREATION = (("measure.create", "measure_responses"), ("measure.void", "measure_responses"),
                     ("alert.acknowledge", "safety_alerts"), ("release.create", "releases_of_information"),
                     ("release.revoke", "releases_of_information"), ("preparation.record", "preparation_records"),
                     ("preparation.void", "preparation_records"), ("report.create", "coordination_reports"),
                     ("coordination.send", "coordination_notes"), ("safety_plan.sign", "safety_plan_revisions"),
                     ("safety_plan.addendum", "safety_plan_addenda"), ("safety_plan.review", "safety_plan_reviews"),
                     *((action, table) for action, (table, _) in AUDITED_AT_CREATION.items()))

#: (audit actions each adding one row, table, the column naming what the audit row names):
#: the table holds at least as many rows for it as the trail records successes
COUNTED = ((("note.addendum",), "note_addenda", "note_id"),
           (("dosing.addendum",), "dosing_addenda", "dosing_session_id"),
           (("formulation.update",), "case_formulations", "course_id"),
           (("plan.addendum",), "plan_addenda", "plan_id"),
           (("plan.stage",), "course_stage_changes", "course_id"),
           (("course.create", "course.phase_change"), "phase_transitions", "course_id"),
           (("appointment.create",), "appointment_changes", "appointment_id"))

_DIGEST = re.compile(re.escape(AUDITED_DIGEST_PREFIX) + r"([0-9a-f]{64})")


def _table(name: str):
    return db.metadata.tables[name]


def _successes(actions) -> dict[str, list[tuple[str | None, str | None]]]:
    """action -> (object_id, detail) of its success rows, oldest first: one statement for all the
    actions (one per action cost a check of the whole trail 12 ms of its 70 on SQLite)."""
    audit = _table("audit_events")
    found = {action: [] for action in actions}
    for action, object_id, detail in db.session.execute(
            select(audit.c.action, audit.c.object_id, audit.c.detail)
            .where(audit.c.action.in_(sorted(found)), audit.c.outcome == "success").order_by(audit.c.id)):
        found[action].append((object_id, detail))
    return found


def _record_id(object_id: str | None) -> int | None:
    """The record an audit row names, or None when it names none a table could hold (see malformed_audit_rows)."""
    return int(object_id) if object_id and object_id.isascii() and object_id.isdigit() else None


def malformed_audit_rows() -> list[tuple[int, str, str]]:
    """(audit row id, action, object_id) of success rows of the anchored actions whose object_id is
    no record id ('x1'): no app path writes one, so it was forged; the checks below skip it."""
    audit = _table("audit_events")
    actions = ({action for action, _ in NAMED_AT_CREATION} | {a for actions, _, _ in COUNTED for a in actions}
               | set(ONE_WAY_AUDITED))
    rows = db.session.execute(select(audit.c.id, audit.c.action, audit.c.object_id)
                              .where(audit.c.action.in_(sorted(actions)), audit.c.outcome == "success",
                                     audit.c.object_id.is_not(None)).order_by(audit.c.id))
    return [(row.id, row.action, row.object_id) for row in rows if _record_id(row.object_id) is None]


def missing_records() -> list[tuple[str, int]]:
    """(table, id) of records the audit trail names as created or changed that no longer exist."""
    named, successes = {}, _successes(action for action, _ in NAMED_AT_CREATION)
    for action, name in NAMED_AT_CREATION:
        named.setdefault(name, set()).update(_record_id(object_id) for object_id, _ in successes[action])
        named[name].discard(None)
    missing = []
    for name, ids in named.items():
        table = _table(name)
        present = set(db.session.scalars(select(table.c.id).where(table.c.id.in_(ids)))) if ids else set()
        missing += [(name, row_id) for row_id in sorted(ids - present)]
    return missing


def short_histories() -> list[tuple[str, int, int, int]]:
    """(table, parent id, rows the trail records, rows there are) where rows were deleted."""
    short, successes = [], _successes(action for actions, _, _ in COUNTED for action in actions)
    for actions, name, parent in COUNTED:
        table = _table(name)
        recorded = Counter(_record_id(object_id) for action in actions for object_id, _ in successes[action])
        recorded.pop(None, None)
        if not recorded:
            continue
        present = dict(db.session.execute(select(table.c[parent], func.count()).where(
            table.c[parent].in_(recorded)).group_by(table.c[parent])).all())
        short += [(name, key, count, present.get(key, 0)) for key, count in sorted(recorded.items())
                  if present.get(key, 0) < count]
    return short


def rewritten_one_way_changes() -> list[tuple[str, int]]:
    """(table, id) of rows whose void, acknowledgement or revocation differs from the digest the
    latest audit row of that change carries (a reason or date rewritten, a revocation pushed
    back). Audit rows written before the digest existed carry none and are skipped."""
    return _rewritten(ONE_WAY_AUDITED)


def rewritten_records() -> list[tuple[str, int]]:
    """(table, id) of records anchored at creation (AUDITED_AT_CREATION) whose content differs from
    the digest their creation's audit row carries: a signed form's document, flags or signer, a
    withdrawal's reason, a review's note or reviewer rewritten behind the triggers."""
    return _rewritten(AUDITED_AT_CREATION)


def _rewritten(audited: dict[str, tuple[str, tuple[str, ...]]]) -> list[tuple[str, int]]:
    rewritten, successes = [], _successes(audited)
    for action, (name, columns) in audited.items():
        latest = {}
        for object_id, detail in successes[action]:
            found = _DIGEST.search(detail or "")
            if _record_id(object_id) is not None and found:
                latest[_record_id(object_id)] = found.group(1)
        if not latest:
            continue
        table = _table(name)
        rows = db.session.execute(select(table.c.id, *(table.c[c] for c in columns))
                                  .where(table.c.id.in_(latest)).order_by(table.c.id))
        rewritten += [(name, row.id) for row in rows if audited_digest(action, row._mapping) != latest[row.id]]
    return rewritten


def unaudited_records() -> list[tuple[str, int]]:
    """(table, id) of rows of the tables anchored at creation that no success row of their action
    names: inserted behind the app (the triggers let INSERT through), a consent nobody signed or a
    review nobody wrote. Every path that writes them (the pages, the tablet, the demo) goes through
    the services, which audit each one."""
    audit = _table("audit_events")
    unaudited = []
    for action, (name, _) in AUDITED_AT_CREATION.items():
        table = _table(name)
        named = select(audit.c.object_id).where(audit.c.action == action, audit.c.outcome == "success",
                                                audit.c.object_id.is_not(None))
        rows = db.session.scalars(select(table.c.id).where(cast(table.c.id, String).not_in(named))
                                  .order_by(table.c.id))
        unaudited += [(name, row_id) for row_id in rows]
    return unaudited


def broken_histories() -> list[tuple[str, int, str]]:
    """(table, id, what is wrong) found from the records alone, audited or not: a measure whose
    answers raise a safety alert without its alert, an appointment without the change that
    booked it or set its status, a course whose phase transitions do not lead to its phase."""
    return _alerts_missing() + _appointment_changes_missing() + _phase_chains_broken()


def _alerts_missing() -> list[tuple[str, int, str]]:
    responses, alerts = _table("measure_responses"), _table("safety_alerts")
    rows = db.session.execute(select(responses.c.id, responses.c.measure, responses.c.answers).where(
        ~select(alerts.c.id).where(alerts.c.measure_response_id == responses.c.id).exists()))
    return [("measure_responses", row.id, "its answers raise a safety alert, and the alert is gone")
            for row in rows if _raises_alert(row.measure, row.answers)]


def _raises_alert(measure: str, answers) -> bool:
    try:
        return measures.score(measure, list(answers)).safety_alert
    except (measures.InvalidAnswers, KeyError, TypeError):
        return False  # a digest mismatch names a rewritten measure; this check needs a scorable one


def _appointment_changes_missing() -> list[tuple[str, int, str]]:
    appointments, changes = _table("appointments"), _table("appointment_changes")
    kinds = {}
    for appointment_id, change in db.session.execute(select(changes.c.appointment_id, changes.c.change)):
        kinds.setdefault(appointment_id, set()).add(change)
    broken = []
    for row in db.session.execute(select(appointments.c.id, appointments.c.status).order_by(appointments.c.id)):
        needed = {"booked"} | ({row.status} if row.status != "booked" else set())
        if needed - kinds.get(row.id, set()):
            broken.append(("appointments", row.id, f"no '{'/'.join(sorted(needed - kinds.get(row.id, set())))}' "
                                                   "change in its history"))
    return broken


def _phase_chains_broken() -> list[tuple[str, int, str]]:
    courses, transitions = _table("treatment_courses"), _table("phase_transitions")
    chains = {}
    for row in db.session.execute(select(transitions.c.course_id, transitions.c.from_phase, transitions.c.to_phase)
                                  .order_by(transitions.c.course_id, transitions.c.id)):
        chains.setdefault(row.course_id, []).append((row.from_phase, row.to_phase))
    broken = []
    for course_id, phase in db.session.execute(select(courses.c.id, courses.c.phase).order_by(courses.c.id)):
        steps = chains.get(course_id, [])
        reached = None
        for from_phase, to_phase in steps:
            if from_phase != reached:
                break
            reached = to_phase
        else:
            if steps and reached == phase:
                continue
        broken.append(("treatment_courses", course_id, "its phase transitions do not lead from enrolment "
                                                       "to its phase"))
    return broken

