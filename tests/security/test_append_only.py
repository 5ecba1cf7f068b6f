"""Figure: every append-only table refuses UPDATE and DELETE through raw SQL, on both engines,
except the one-way changes its record has (issue 17, point 3); tampering that lifts the guards
is caught by `flask signatures verify`.

The tables come from the code's own declaration (ketamine_integration.db.append_only), and a
table classified neither append-only nor mutable fails the suite, so a new append-only table
cannot be forgotten. Each refusal must come from a trigger (not a key or check constraint),
and each statement has a positive control: with the guards lifted, as the database owner
could, the same statement changes exactly one row.
"""
from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import pytest
from sqlalchemy import Date, bindparam, select, text
from sqlalchemy.exc import DBAPIError

from ketamine_integration import models  # noqa: F401  (every table on the metadata)
from ketamine_integration.db.append_only import APPEND_ONLY, DIGESTED, MUTABLE, AppendOnlyViolation
from ketamine_integration.db.types import UTCDateTime
from ketamine_integration.extensions import db
from tests.security.clinic import USERNAMES
from tests.security.append_only_world import as_database_owner, is_guard_refusal, rolled_back, seed

# On SQLite and PostgreSQL: append-only guards: triggers per engine.
pytestmark = pytest.mark.both_engines

#: table -> an UPDATE its guard must refuse (a real change to content the record froze)
PROBES = {
    "audit_events": "detail = 'rewritten'",
    "protocol_versions": "content_hash = 'rewritten'",
    "coordination_reports": "content_hash = 'rewritten'",
    "coordination_notes": "body = 'rewritten'",
    "session_notes": "content_digest = 'rewritten'",
    "note_themes": "patient_words = 'rewritten'",
    "action_check_ins": "obstacles = 'rewritten'",
    "note_dosing_links": "dosing_session_id = dosing_session_id + 1000",
    "note_techniques": "rationale = 'rewritten'",
    "technique_responses": "comment = 'rewritten'",
    "note_objective_progress": "comment = 'rewritten'",
    "action_steps": "what = 'rewritten'",
    "dosing_sessions": "lot_number = 'rewritten'",
    "vital_signs": "heart_rate = heart_rate + 1",
    "adverse_events": "action_taken = 'rewritten'",
    "vital_sign_responses": "action = 'rewritten'",
    "vital_sign_corrections": "systolic = systolic - 48",
    "vital_response_revisions": "action = 'rewritten'",
    "adverse_event_revisions": "severity = 'none'",
    "note_addenda": "body = 'rewritten'",
    "dosing_addenda": "body = 'rewritten'",
    "case_formulations": """content = '{"presenting_concerns": "rewritten"}'""",
    "measure_responses": "total = total + 1",
    "safety_alerts": "item_score = item_score + 1",
    "releases_of_information": """categories = '["attendance", "dosing", "measures", "safety"]'""",
    "unsaved_work": """form = '{"body": ["rewritten"]}'""",
    "appointment_changes": "change = 'cancelled'",
    "phase_transitions": "reason = 'rewritten'",
    "preparation_records": "note = 'rewritten'",
    "contact_consents": "granted = NOT granted",
    "practice_logs": "note = 'rewritten'",
    "patient_step_check_ins": "obstacles = 'rewritten'",
    "treatment_plans": "content_digest = 'rewritten'",
    "plan_objectives": "target = 'rewritten'",
    "plan_techniques": "rationale = 'rewritten'",
    "plan_addenda": "body = 'rewritten'",
    "course_stage_changes": "reason = 'rewritten'",
    "discharge_summaries": """written = '{"summary": "rewritten"}'""",
    "discharge_addenda": "body = 'rewritten'",
    "discharge_copies": "content_hash = 'rewritten'",
    "record_exports": "zip_sha256 = 'rewritten'",
    "safety_plan_revisions": """content = '{"warning_signs": ["rewritten"]}'""",
    "safety_plan_addenda": "body = 'rewritten'",
    "safety_plan_reviews": "comment = 'rewritten'",
    "form_packets": "course_id = course_id + 1000",
    "packet_forms": "form_id = 'rewritten'",
    "signed_forms": "document = 'rewritten'",
    "form_countersignatures": "role = 'staff'",
    "form_flag_reviews": "note = 'rewritten'",
    "consent_withdrawals": "reason = 'rewritten'",
    "tablet_signings": "token_hash = 'rewritten'",
}


def _statement(sql: str, params: dict):
    """Raw SQL with dates and instants bound through the app's column types (both engines)."""
    statement = text(sql)
    types = {"now": UTCDateTime(), "day": Date()}
    return statement.bindparams(*(bindparam(name, type_=types[name]) for name in types if f":{name}" in sql))


def _attempt(conn, sql: str, params: dict) -> tuple[bool, bool]:
    """(accepted, refused by a trigger) for one statement, in a savepoint that is rolled back."""
    savepoint = conn.begin_nested()
    try:
        return conn.execute(_statement(sql, params), params).rowcount == 1, False
    except DBAPIError as error:
        return False, is_guard_refusal(error)
    finally:
        savepoint.rollback()


class GuardProbes:
    """Statements tried against the guards, each also tried with the guards lifted (a control:
    a probe that changes nothing there tests nothing); counts for the figure line."""

    def __init__(self):
        self.tried = self.accepted = self.by_trigger = self.controls = 0

    def check(self, app, statements: list[tuple[str, dict]]) -> None:
        """Every statement against the guards, then every one again in one transaction with the guards
        lifted: each in a savepoint rolled back, so each meets the rows as seeded. Lifting SQLite's
        guards drops every trigger, 30 ms of CPU: once per test, not once per control."""
        with rolled_back(app) as conn:
            for sql, params in statements:
                went_through, refused = _attempt(conn, sql, params)
                self.tried, self.accepted, self.by_trigger = (self.tried + 1, self.accepted + went_through,
                                                              self.by_trigger + refused)
                assert not went_through, f"accepted: {sql}"
                assert refused, f"refused by a constraint, not the guard: {sql}"
        with rolled_back(app, guards=False) as conn:
            for sql, params in statements:
                control, _ = _attempt(conn, sql, params)
                self.controls += control
                assert control, f"the control changed no row (the probe tests nothing): {sql}"

    def summary(self, kinds: str) -> str:
        return (f"{len(APPEND_ONLY)} tables, {self.tried} {kinds} tried, {self.accepted} accepted, {self.by_trigger} "
                f"refused by a trigger; controls: {self.controls} of {self.tried} went through with the guards lifted")


def test_every_table_is_classified_append_only_or_mutable_and_probed():
    tables = set(db.metadata.tables)
    assert not set(APPEND_ONLY) & set(MUTABLE), "a table cannot be both"
    assert tables - set(APPEND_ONLY) - set(MUTABLE) == set(), "classify the new table in append_only.py"
    assert set(APPEND_ONLY) | set(MUTABLE) <= tables, "a classified table no longer exists"
    assert set(PROBES) == set(APPEND_ONLY), "every append-only table needs a probe here"


def test_raw_sql_updates_and_deletes_of_append_only_rows_are_refused(app, make, auth, databases, figures):
    where = seed(make, auth)
    probes, statements = GuardProbes(), []
    for table in APPEND_ONLY:
        clause, params = where[table]
        assert params["id"] is not None, f"no {table} row was seeded"
        statements += [(f"UPDATE {table} SET {PROBES[table]} WHERE {clause}", params),
                       (f"DELETE FROM {table} WHERE {clause}", params)]
    probes.check(app, statements)
    figures.record("Append-only tables", "raw SQL", probes.summary("UPDATE/DELETE"), engine=databases.name)


def _rewrites_in_place(table: str, clause: str, dialect: str) -> list[str]:
    """Statements that write a row again under its own key with the probe's change: SQLite's
    INSERT OR REPLACE (which deletes the old row first) and the upsert of both engines."""
    rows = db.metadata.tables[table]
    columns, keys = [c.name for c in rows.columns], [c.name for c in rows.primary_key]
    column, value = PROBES[table].split(" = ", 1)
    changed = ", ".join(value if c == column and c not in keys else c for c in columns)
    listed = ", ".join(columns)
    upsert = (f"INSERT INTO {table} ({listed}) SELECT {listed} FROM {table} WHERE {clause} "
              f"ON CONFLICT ({', '.join(keys)}) DO UPDATE SET {column} = {value.replace(column, f'{table}.{column}')}")
    replace = f"INSERT OR REPLACE INTO {table} ({listed}) SELECT {changed} FROM {table} WHERE {clause}"
    return [replace, upsert] if dialect == "sqlite" else [upsert]


def _replaced_without_recursive_triggers(app, sql: str, params: dict) -> bool:
    """SQLite as it was before the fix: REPLACE's deletion fires no DELETE trigger."""
    with rolled_back(app) as conn:
        conn.execute(text("PRAGMA recursive_triggers = OFF"))
        try:
            return conn.execute(text(sql), params).rowcount == 1
        except DBAPIError:
            return False
        finally:
            conn.execute(text("PRAGMA recursive_triggers = ON"))  # the pooled connection goes back as configured


def test_rewriting_a_row_under_its_own_key_is_refused(app, make, auth, databases, figures):
    """INSERT OR REPLACE and INSERT ... ON CONFLICT DO UPDATE reuse an existing row's key: the
    first deletes the old row, the second updates it; both must meet the guards."""
    where = seed(make, auth)
    probes = GuardProbes()
    statements = [(sql, where[table][1]) for table in APPEND_ONLY
                  for sql in _rewrites_in_place(table, where[table][0], databases.name)]
    probes.check(app, statements)
    before_fix = sum(_replaced_without_recursive_triggers(app, sql, params) for sql, params in statements
                     if sql.startswith("INSERT OR REPLACE"))
    if databases.name == "sqlite":
        assert before_fix > 0, "the REPLACE probes no longer reach the hole recursive_triggers closes"
    figures.record("Append-only tables", "rewrite under the same key",
                   probes.summary("INSERT OR REPLACE / ON CONFLICT DO UPDATE") + (f"; with recursive_triggers off (before the fix) {before_fix} of "
                                          f"{len(APPEND_ONLY)} REPLACEs went through" if databases.name == "sqlite"
                                          else ""), engine=databases.name)


NOW = datetime.now(timezone.utc)
TODAY = date.today()
VOID = "UPDATE measure_responses SET voided_at = :now, void_reason = 'entered in error' WHERE id = :measure"
ACK = ("UPDATE safety_alerts SET acknowledged_at = :now, acknowledged_by_id = :user, "
       "acknowledgement = 'Called the patient, safety plan reviewed' WHERE id = :alert")
REVOKE = "UPDATE releases_of_information SET revoked_on = :day, revoked_by_id = :user WHERE id = :release"
CLEAR = "UPDATE unsaved_work SET recovered_at = :now, form = '{}' WHERE id = :kept"
STRIKE = ("UPDATE preparation_records SET voided_at = :now, voided_by_id = :user, "
          "void_reason = 'Entered on the wrong course' WHERE id = :entry")
END_TABLET = "UPDATE tablet_signings SET ended_at = :now, ended_reason = 'completed' WHERE id = :tablet"

#: (what is tried, statements done first (each must be accepted), the statement, extra params, accepted?)
ONE_WAY_CASES = [
    ("voiding a live measure with a reason", [], VOID, {}, True),
    ("un-voiding a measure", [VOID], "UPDATE measure_responses SET voided_at = NULL, void_reason = NULL "
     "WHERE id = :measure", {}, False),
    ("rewriting the reason of a void", [VOID], "UPDATE measure_responses SET void_reason = 'other' "
     "WHERE id = :measure", {}, False),
    ("a void reason without voiding", [], "UPDATE measure_responses SET void_reason = 'quietly' "
     "WHERE id = :measure", {}, False),
    ("voiding while changing the answers", [], "UPDATE measure_responses SET voided_at = :now, "
     "void_reason = 'entered in error', answers = '[0,0,0,0,0,0,0,0,0]' WHERE id = :measure", {}, False),
    ("acknowledging an open alert", [], ACK, {}, True),
    ("changing an acknowledgement", [ACK], "UPDATE safety_alerts SET acknowledgement = 'Nothing needed' "
     "WHERE id = :alert", {}, False),
    ("withdrawing an acknowledgement", [ACK], "UPDATE safety_alerts SET acknowledged_at = NULL, "
     "acknowledged_by_id = NULL, acknowledgement = NULL WHERE id = :alert", {}, False),
    ("re-dating an acknowledgement", [ACK], "UPDATE safety_alerts SET acknowledged_at = :now "
     "WHERE id = :alert", {"now": NOW + timedelta(hours=1)}, False),
    ("revoking a release", [], REVOKE, {}, True),
    ("bringing a revocation forward", [REVOKE], "UPDATE releases_of_information SET revoked_on = :day "
     "WHERE id = :release", {"day": TODAY - timedelta(days=3)}, True),
    ("pushing a revocation back", [REVOKE], "UPDATE releases_of_information SET revoked_on = :day "
     "WHERE id = :release", {"day": TODAY + timedelta(days=3)}, False),
    ("withdrawing a revocation", [REVOKE], "UPDATE releases_of_information SET revoked_on = NULL, "
     "revoked_by_id = NULL WHERE id = :release", {}, False),
    ("re-attributing a revocation", [REVOKE], "UPDATE releases_of_information SET revoked_by_id = :other "
     "WHERE id = :release", {}, False),
    ("widening a release while revoking it", [], "UPDATE releases_of_information SET revoked_on = :day, "
     "expires_on = NULL, purpose = 'anything' WHERE id = :release", {}, False),
    ("clearing kept text as it is recovered", [], CLEAR, {}, True),
    ("marking kept text recovered but keeping it", [], "UPDATE unsaved_work SET recovered_at = :now "
     "WHERE id = :kept", {}, False),
    ("rewriting text after its recovery", [CLEAR], """UPDATE unsaved_work SET form = '{"body": ["back"]}' """
     "WHERE id = :kept", {}, False),
    ("un-recovering kept text", [CLEAR], "UPDATE unsaved_work SET recovered_at = NULL WHERE id = :kept",
     {}, False),
    ("moving kept text to another page", [], "UPDATE unsaved_work SET path = '/notes/1' WHERE id = :kept",
     {}, False),
    ("voiding a preparation entry, saying who and why", [], STRIKE, {}, True),
    ("un-voiding a preparation entry", [STRIKE], "UPDATE preparation_records SET voided_at = NULL, "
     "voided_by_id = NULL, void_reason = NULL WHERE id = :entry", {}, False),
    ("rewriting the reason of a preparation void", [STRIKE], "UPDATE preparation_records SET "
     "void_reason = 'other' WHERE id = :entry", {}, False),
    ("re-attributing a preparation void", [STRIKE], "UPDATE preparation_records SET voided_by_id = :other "
     "WHERE id = :entry", {}, False),
    ("re-dating a preparation void", [STRIKE], "UPDATE preparation_records SET voided_at = :now "
     "WHERE id = :entry", {"now": NOW + timedelta(hours=1)}, False),
    ("voiding a preparation entry without a reason", [], "UPDATE preparation_records SET voided_at = :now, "
     "voided_by_id = :user WHERE id = :entry", {}, False),
    ("voiding a preparation entry without saying who", [], "UPDATE preparation_records SET voided_at = :now, "
     "void_reason = 'Entered on the wrong course' WHERE id = :entry", {}, False),
    ("voiding a preparation entry while re-dating it", [], "UPDATE preparation_records SET voided_at = :now, "
     "voided_by_id = :user, void_reason = 'Entered on the wrong course', completed_on = :day "
     "WHERE id = :entry", {"day": TODAY - timedelta(days=30)}, False),
    # a clinic tablet's signing session (issue 26, attack finding 4): ended once, saying how; nothing else
    ("ending a tablet's signing, saying how", [], END_TABLET, {}, True),
    ("re-opening an ended tablet signing", [END_TABLET], "UPDATE tablet_signings SET ended_at = NULL, "
     "ended_reason = NULL WHERE id = :tablet", {}, False),
    ("changing how a tablet signing ended", [END_TABLET], "UPDATE tablet_signings SET ended_reason = 'expired' "
     "WHERE id = :tablet", {}, False),
    ("re-dating the end of a tablet signing", [END_TABLET], "UPDATE tablet_signings SET ended_at = :now "
     "WHERE id = :tablet", {"now": NOW + timedelta(hours=1)}, False),
    ("pushing a tablet signing's expiry to 2099", [], "UPDATE tablet_signings SET expires_at = :now "
     "WHERE id = :tablet", {"now": datetime(2099, 1, 1, tzinfo=timezone.utc)}, False),
    ("pushing an ended tablet signing's expiry to 2099", [END_TABLET], "UPDATE tablet_signings SET "
     "expires_at = :now WHERE id = :tablet", {"now": datetime(2099, 1, 1, tzinfo=timezone.utc)}, False),
    ("changing who handed the tablet over", [], "UPDATE tablet_signings SET started_by_id = (SELECT min(id) "
     "FROM users WHERE id <> tablet_signings.started_by_id) WHERE id = :tablet", {}, False),
    ("giving a tablet signing another token", [], "UPDATE tablet_signings SET token_hash = 'x' WHERE id = :tablet",
     {}, False),
    ("ending a tablet signing while pushing its expiry", [], "UPDATE tablet_signings SET ended_at = :now, "
     "ended_reason = 'completed', expires_at = :now WHERE id = :tablet",
     {"now": datetime(2099, 1, 1, tzinfo=timezone.utc)}, False),
]


def test_only_the_one_way_changes_go_through(app, make, auth, databases, figures):
    where = seed(make, auth)
    users = make.query(lambda: db.session.scalars(text("SELECT id FROM users ORDER BY id")).all())
    base = {"measure": where["measure_responses"][1]["id"], "alert": where["safety_alerts"][1]["id"],
            "release": where["releases_of_information"][1]["id"], "kept": where["unsaved_work"][1]["id"],
            "entry": where["preparation_records"][1]["id"], "tablet": where["tablet_signings"][1]["id"],
            "user": users[0], "other": users[1], "now": NOW, "day": TODAY}
    outcomes = []
    for what, before, sql, extra, expected in ONE_WAY_CASES:
        with rolled_back(app) as conn:
            for earlier in before:
                assert conn.execute(_statement(earlier, base), base).rowcount == 1, what
            params = {**base, **extra}
            try:
                accepted = conn.execute(_statement(sql, params), params).rowcount == 1
            except DBAPIError as error:
                assert is_guard_refusal(error), f"{what}: refused by a constraint, not the guard"
                accepted = False
        outcomes.append((what, accepted))
        assert accepted == expected, what
    allowed = [accepted for (_, accepted), case in zip(outcomes, ONE_WAY_CASES) if case[-1]]
    forbidden = [accepted for (_, accepted), case in zip(outcomes, ONE_WAY_CASES) if not case[-1]]
    figures.record("Append-only tables", "one-way changes",
                   f"{len(allowed)} allowed changes, {sum(allowed)} went through; {len(forbidden)} forbidden ones, "
                   f"{sum(forbidden)} went through", engine=databases.name)


#: (what the application's own code tries, table, attributes it sets (None: deletes the row), let through?)
ORM_CASES = [
    ("rewriting why a phase changed", "phase_transitions", {"reason": "rewritten"}, False),
    ("re-dating a booking's change", "appointment_changes", {"occurred_at": NOW - timedelta(days=1)}, False),
    ("deleting a booking's change", "appointment_changes", None, False),
    ("voiding a preparation entry without saying who", "preparation_records",
     {"voided_at": NOW, "void_reason": "Entered on the wrong course"}, False),
    ("voiding a preparation entry, saying who and why", "preparation_records",
     {"voided_at": NOW, "voided_by_id": "user", "void_reason": "Entered on the wrong course"}, True),
    ("ending a tablet's signing without saying how", "tablet_signings", {"ended_at": NOW}, False),
    ("pushing a tablet signing's expiry", "tablet_signings", {"expires_at": NOW + timedelta(days=30)}, False),
    ("deleting a tablet signing", "tablet_signings", None, False),
    ("ending a tablet's signing, saying how", "tablet_signings", {"ended_at": NOW, "ended_reason": "completed"}, True),
]


def test_the_orm_guard_stops_the_apps_own_code_before_the_database(app, make, auth):
    where = seed(make, auth)
    models = {mapper.local_table.name: mapper.class_ for mapper in db.Model.registry.mappers}
    for what, table, changes, allowed in ORM_CASES:
        with app.app_context():
            row = db.session.get(models[table], where[table][1]["id"])
            if changes is None:
                db.session.delete(row)
            for column, value in (changes or {}).items():
                setattr(row, column, row.recorded_by_id if value == "user" else value)
            try:
                db.session.flush()
                let_through = True
            except AppendOnlyViolation:
                let_through = False
            finally:
                db.session.rollback()
        assert let_through == allowed, what


#: (what the owner did, table, SET clause): content a digest covers, changed with the guards lifted
TAMPERING = [
    ("rewrote a note addendum", "note_addenda", "body = 'It was never said'"),
    ("moved a note addendum to another author", "note_addenda", "author_id = author_id + 1"),
    ("rewrote a dosing addendum", "dosing_addenda", "body = 'Lot was fine'"),
    ("backdated a dosing addendum", "dosing_addenda", "created_at = created_at - INTERVAL_DAY"),
    ("changed a measure's answers", "measure_responses", "answers = '[0,0,0,0,0,0,0,0,0]'"),
    ("lowered a measure's total and band", "measure_responses", "total = 0, band = 'minimal'"),
    ("widened a release's categories", "releases_of_information",
     """categories = '["action_plan", "attendance", "dosing", "measures", "safety", "themes"]'"""),
    ("gave a release a far expiry", "releases_of_information", "expires_on = '2099-12-31'"),
]


def _verify(app):
    result = app.test_cli_runner().invoke(args=["signatures", "verify"])
    return result.exit_code, result.output


def test_tampered_records_are_named_by_signatures_verify(app, make, auth, databases, figures):
    where = seed(make, auth)
    code, output = _verify(app)
    assert code == 0, output
    for table in DIGESTED:  # every digested row verified before anything was touched
        assert f"0 of 0 {table.replace('_', ' ')}" not in output, output
    detected = 0
    for what, table, change in TAMPERING:
        row_id, rows = where[table][1]["id"], db.metadata.tables[table]
        read = select(rows).where(rows.c.id == row_id)
        with as_database_owner(app) as conn:
            original = dict(conn.execute(read).one()._mapping)
            day = "datetime(created_at, '-1 day')" if conn.dialect.name == "sqlite" else "created_at - interval '1 day'"
            conn.execute(text(f"UPDATE {table} SET {change.replace('created_at - INTERVAL_DAY', day)} "
                              "WHERE id = :id"), {"id": row_id})
            assert dict(conn.execute(read).one()._mapping) != original, f"{what}: the tampering changed nothing"
        code, output = _verify(app)
        named = code == 1 and f" {row_id} ({table}): content differs" in output
        detected += named
        assert named, f"{what}: not detected\n{output}"
        with as_database_owner(app) as conn:  # put it back (typed, through the model's table) for the next case
            conn.execute(rows.update().where(rows.c.id == row_id).values(original))
        assert _verify(app)[0] == 0, f"{what}: the row was not put back"
    figures.record("Append-only tables", "digests",
                   f"{len(TAMPERING)} records tampered with the guards lifted, {detected} named by signatures verify",
                   engine=databases.name)


#: (what the owner undid, table, the app's form that made the change (from the seeded row's
#: parameters), SET clause undoing it)
UNDOING = [
    ("un-voided a measure", "measure_responses",
     lambda row: (f"/measures/{row['id']}/void", {"reason": "Entered twice"}), "voided_at = NULL, void_reason = NULL"),
    ("withdrew an acknowledgement", "safety_alerts",
     lambda row: (f"/alerts/{row['id']}/acknowledge", {"note": "Called the patient; safety plan reviewed"}),
     "acknowledged_at = NULL, acknowledged_by_id = NULL, acknowledgement = NULL"),
    ("withdrew a revocation", "releases_of_information",
     lambda row: (f"/releases/{row['id']}/revoke", {"revoked_on": date.today().isoformat()}),
     "revoked_on = NULL, revoked_by_id = NULL"),
    ("un-voided a preparation entry", "preparation_records",
     lambda row: (f"/courses/{row['course']}/preparation/{row['id']}/void", {"reason": "Entered on the wrong course"}),
     "voided_at = NULL, voided_by_id = NULL, void_reason = NULL"),
]


def test_one_way_changes_undone_behind_the_guards_are_named_by_signatures_verify(app, make, auth, databases,
                                                                                   figures):
    """Digests leave out what may still change; the HMAC-chained audit trail is the anchor."""
    where = seed(make, auth)
    assert auth.login(USERNAMES["therapist"]).status_code == 302
    for what, table, made_by, undo in UNDOING:
        row_id = where[table][1]["id"]
        assert auth.post(*made_by(where[table][1])).status_code == 302
        done = undo.split(" = ")[0]
        assert make.query(lambda: db.session.scalar(text(f"SELECT {done} FROM {table} WHERE id = :id"),
                                                    {"id": row_id})) is not None, f"{what}: the app did not do it"
    assert _verify(app)[0] == 0
    detected = 0
    for what, table, _, undo in UNDOING:
        row_id = where[table][1]["id"]
        with as_database_owner(app) as conn:
            assert conn.execute(text(f"UPDATE {table} SET {undo} WHERE id = :id"), {"id": row_id}).rowcount == 1
        code, output = _verify(app)
        named = code == 1 and f" {row_id} ({table}): the audit trail records" in output
        detected += named
        assert named, f"{what}: not detected\n{output}"
    figures.record("Append-only tables", "one-way changes undone",
                   f"{len(UNDOING)} undone with the guards lifted, {detected} named by signatures verify",
                   engine=databases.name)
