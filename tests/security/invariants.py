"""What must hold of the database whatever anyone submitted: the invariant check the fuzzing
suite runs after every submission, and the snapshot that tells whether a submission changed rows.

Generic rules walk every table of the models (a new table is checked without a change here);
model rules state what the app promises about particular records.
"""
from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal
from functools import cache

from flask import current_app
from sqlalchemy import JSON, BigInteger, Date, DateTime, Integer, Numeric, String, select

from ketamine_integration.db.types import UTCDateTime
from ketamine_integration.domain.dosing import VITAL_RANGES, WEIGHT_RANGE
from ketamine_integration.domain.journal import entry_problems
from ketamine_integration.domain.measures import score
from ketamine_integration.domain.reminders import CHANNELS, clinical_words_in, parse_offsets
from ketamine_integration.extensions import db
from ketamine_integration.web.fields import YEARS
from ketamine_integration.bookings.models import MINUTES_RANGE

#: rows every request may write whatever its outcome: the audit trail and its chain head
#: (failures and denials are recorded on purpose), the login session's last activity and
#: wrong-code count (a patient's portal session's too), and failed sign-ins (counted on purpose by the
#: brute-force limits)
BOOKKEEPING = frozenset({"audit_events", "audit_chain_head", "login_sessions", "login_failures", "portal_sessions"})
#: PostgreSQL's integer column; SQLite would store more without complaint
INT_RANGE = (-2_147_483_648, 2_147_483_647)


@cache
def model_tables() -> tuple:
    """The models' tables in dependency order: worked out once (SQLAlchemy sorts them anew at every
    read of metadata.sorted_tables: 0.2 ms for these 84 tables, twice for each of ~800 submissions)."""
    return tuple(db.metadata.sorted_tables)


def read_tables() -> dict[str, list]:
    """Every row of every table of the models (one query per table), as dicts of column values.

    The fuzzing suite reads every table after each of its ~800 submissions. Each table's SELECT is
    compiled once per engine and run on the session's own DBAPI cursor, its values passed through
    the columns' own result processors (UTCDateTime's zone, JSON, Decimal...): the same values the
    ORM returns (checked against it on both engines), at 1.9 ms a read instead of 6.8 on SQLite,
    where SQLAlchemy's per-statement bookkeeping cost more than the 84 queries themselves."""
    connection = db.session.connection()
    dialect = connection.dialect
    cursor = connection.connection.cursor()
    try:
        return {table.name: _read_table(cursor, dialect, table) for table in model_tables()}
    finally:
        cursor.close()


#: (engine, table) -> the table's SELECT and its columns' (name, result processor), made on first read
_READERS: dict[tuple[str, str], tuple[str, list]] = {}


def _read_table(cursor, dialect, table) -> list[dict]:
    reader = _READERS.get((dialect.name, table.name))
    if reader is None:
        cursor.execute(sql := str(select(table).compile(dialect=dialect)))
        columns = [(column.name, column.type.dialect_impl(dialect).result_processor(dialect, described[1]))
                   for column, described in zip(table.columns, cursor.description)]
        reader = _READERS[(dialect.name, table.name)] = sql, columns
    else:
        cursor.execute(reader[0])
    columns = reader[1]
    return [{name: process(value) if process else value for (name, process), value in zip(columns, row)}
            for row in cursor.fetchall()]


def snapshot(tables: dict[str, list]) -> dict[str, list[str]]:
    """The rows of every table but the bookkeeping ones, comparable between two reads."""
    return {name: sorted(repr(tuple(r.values())) for r in rows) for name, rows in tables.items()
            if name not in BOOKKEEPING}


def changed_tables(before: dict, after: dict) -> list[str]:
    """Tables whose snapshot differs between two reads (either kind of snapshot)."""
    return sorted(name for name in set(before) | set(after) if before.get(name) != after.get(name))


def _strings_in(value):
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for k, v in value.items():
            yield from _strings_in(k)
            yield from _strings_in(v)
    elif isinstance(value, (list, tuple)):
        for v in value:
            yield from _strings_in(v)


def _column_problem(column, value) -> str | None:
    kind = column.type
    if value is None:
        return None
    if isinstance(kind, (String, JSON)) and any("\x00" in s for s in _strings_in(value)):
        return "holds a NUL character"
    if isinstance(kind, String) and kind.length and len(value) > kind.length:
        return f"is {len(value)} characters long; the column holds {kind.length}"
    if isinstance(kind, (UTCDateTime, DateTime)):
        if not isinstance(kind, UTCDateTime):
            return "is a datetime column without a time zone (not UTCDateTime)"
        if value.tzinfo is None or not YEARS[0] <= value.year <= YEARS[1]:
            return f"holds {value!r}: naive, or outside the years {YEARS}"
    if isinstance(kind, Date) and not isinstance(value, datetime) and not YEARS[0] <= value.year <= YEARS[1]:
        return f"holds {value!r}, outside the years {YEARS}"
    if isinstance(kind, Numeric) and isinstance(value, Decimal) and not value.is_finite():
        return f"holds {value!r}"
    if isinstance(kind, Integer) and not isinstance(kind, BigInteger) and not isinstance(value, bool) \
            and not INT_RANGE[0] <= value <= INT_RANGE[1]:
        return f"holds {value}, beyond a 32-bit integer"
    return None


def _generic_problems(tables: dict[str, list]) -> list[str]:
    problems = []
    for table in model_tables():
        for row in tables[table.name]:
            for column in table.columns:
                problem = _column_problem(column, row[column.name])
                if problem:
                    problems.append(f"{table.name}.{column.name} (id {row.get('id')}) {problem}")
    return problems


def _ordered(rows, table: str, first: str, then: str, *, strict: bool = True) -> list[str]:
    """Rows whose `then` does not come after `first` (both set)."""
    bad = []
    for r in rows(table):
        if r[first] is not None and r[then] is not None and (r[then] <= r[first] if strict else r[then] < r[first]):
            bad.append(f"{table} {r['id']}: {then} {r[then]} not after {first} {r[first]}")
    return bad


def _dosing_problems(rows) -> list[str]:
    """The plausibility the dosing record form promises (experience.services._record_problems)."""
    bad = _ordered(rows, "dosing_sessions", "started_at", "ended_at") + \
        _ordered(rows, "dosing_sessions", "ended_at", "discharged_at", strict=False) + \
        _ordered(rows, "dosing_sessions", "started_at", "discharged_at") + \
        _ordered(rows, "dosing_sessions", "started_at", "ready_to_leave_at", strict=False) + \
        _ordered(rows, "dosing_sessions", "ready_to_leave_at", "discharged_at", strict=False)
    ceilings = current_app.config["DOSE_CEILING_MG"]
    for r in rows("dosing_sessions"):
        if r["started_at"] and r["ended_at"] and r["ended_at"] - r["started_at"] > timedelta(hours=12):
            bad.append(f"dosing session {r['id']} lasts over 12 hours")
        if r["started_at"] and r["discharged_at"] and r["discharged_at"] - r["started_at"] > timedelta(hours=24):
            bad.append(f"dosing session {r['id']}: discharge over 24 hours after the start")
        if r["monitoring_minutes"] is not None and r["monitoring_minutes"] < 0:
            bad.append(f"dosing session {r['id']}: {r['monitoring_minutes']} minutes of monitoring")
        if r["dose_mg"] is not None and not 0 < r["dose_mg"] <= ceilings.get(r["medication"] or "", 10**9):
            bad.append(f"dosing session {r['id']}: dose {r['dose_mg']} mg of {r['medication']}")
        if r["weight_kg"] is not None and WEIGHT_RANGE.problem(float(r["weight_kg"]), "weight"):
            bad.append(f"dosing session {r['id']}: weight {r['weight_kg']} kg")
    for r in rows("vital_signs"):
        for name, allowed in VITAL_RANGES.items():
            if r[name] is not None and allowed.problem(r[name], name):
                bad.append(f"vital signs {r['id']}: {name} {r[name]}")
        if r["systolic"] is not None and r["diastolic"] is not None and r["diastolic"] >= r["systolic"]:
            bad.append(f"vital signs {r['id']}: diastolic not below systolic")
    for r in rows("vital_sign_corrections"):   # a changed saved reading says why, in words
        if len("".join((r["reason"] or "").split())) < 10:
            bad.append(f"vital sign correction {r['id']}: reason {r['reason']!r}")
    for r in rows("vital_sign_responses"):
        if len("".join((r["action"] or "").split())) < 10:
            bad.append(f"vital sign response {r['id']}: what was done {r['action']!r}")
    for table in ("vital_response_revisions", "adverse_event_revisions"):   # a replaced or removed fact says why
        for r in rows(table):
            if r["change"] != "added_to" and len("".join((r["reason"] or "").split())) < 10:
                bad.append(f"{table} {r['id']}: {r['change']} with reason {r['reason']!r}")
    return bad


def _clinical_problems(rows, today: date) -> list[str]:
    bad = []
    for r in rows("patients"):
        if not date(1900, 1, 1) <= r["date_of_birth"] <= today + timedelta(days=1):
            bad.append(f"patient {r['id']}: date of birth {r['date_of_birth']}")
    for r in rows("measure_responses"):
        # the registry scores what was stored (skipped questions are None), as the service did
        try:
            scored = score(r["measure"], r["answers"])
        except (KeyError, ValueError) as err:
            bad.append(f"measure {r['id']}: answers {r['answers']} cannot be scored ({err})")
            continue
        if (scored.total, scored.band) != (r["total"], r["band"]):
            bad.append(f"measure {r['id']}: answers {r['answers']} score {scored.total} ({scored.band}), "
                       f"stored {r['total']} ({r['band']})")
    for r in rows("session_notes"):
        if r["session_date"] > today + timedelta(days=1):
            bad.append(f"note {r['id']}: session date {r['session_date']} in the future")
    for r in rows("note_themes"):
        if r["theme_id"] is None and not (r["free_theme"] or "").strip():
            bad.append(f"note theme {r['id']} names no theme")
    for r in rows("session_types"):
        if not MINUTES_RANGE[0] <= r["default_minutes"] <= MINUTES_RANGE[1]:
            bad.append(f"session type {r['kind']}: {r['default_minutes']} minutes")
    bad += _reminder_problems(rows)
    for r in rows("releases_of_information"):
        if r["recipient_user_id"] is None and not (r["recipient_name"] or "").strip():
            bad.append(f"release {r['id']} has no recipient")
    return bad


def _reminder_problems(rows) -> list[str]:
    """What the reminder settings and consent forms promise (reminders/rules.py, reminders/consent.py)."""
    bad = []
    for r in rows("reminder_rules"):
        try:
            parse_offsets(r["offsets"])
        except ValueError as err:
            bad.append(f"reminder rule {r['kind']}: offsets {r['offsets']!r} ({err})")
        if not set(filter(None, r["channels"].split(","))) <= set(CHANNELS):
            bad.append(f"reminder rule {r['kind']}: channels {r['channels']!r}")
        if clinical_words_in(r["wording"] or ""):
            bad.append(f"reminder rule {r['kind']}: wording {r['wording']!r} carries a clinical word")
    for r in rows("clinic_settings"):
        if r["key"] in ("reminder_sender", "clinic_address", "feed_calendar_name") and clinical_words_in(r["value"]):
            bad.append(f"clinic setting {r['key']}: {r['value']!r} carries a clinical word")
        if r["key"] == "feed_calendar_name" and not (0 < len(r["value"]) <= 60 and r["value"].isprintable()):
            bad.append(f"clinic setting feed_calendar_name: {r['value']!r} is empty, too long or unprintable")
        if r["key"] == "feed_identity" and r["value"] not in ("none", "initials"):
            bad.append(f"clinic setting feed_identity: {r['value']!r} is not an offered choice")
    addresses = {p["id"]: {"email": p["email"], "sms": p["phone"]} for p in rows("patients")}
    for r in rows("contact_consents"):
        if r["granted"] and not addresses[r["patient_id"]][r["channel"]]:
            bad.append(f"contact consent {r['id']}: {r['channel']} granted with no address on record")
    return bad


def _journal_problems(rows) -> list[str]:
    """A journal entry (issue 23): written text within the limit, on its own patient's course, reflecting
    on a dose of that course that has ended."""
    courses = {c["id"]: c["patient_id"] for c in rows("treatment_courses")}
    doses = {d["id"]: (d["course_id"], d["ended_at"]) for d in rows("dosing_sessions")}
    bad = []
    for e in rows("journal_entries"):
        if entry_problems(e["text"]):
            bad.append(f"journal entry {e['id']}: text refused by the rules kept")
        if courses.get(e["course_id"]) != e["patient_id"]:
            bad.append(f"journal entry {e['id']}: on another patient's course")
        if e["dosing_session_id"] is not None and (doses[e["dosing_session_id"]][0] != e["course_id"]
                                                   or doses[e["dosing_session_id"]][1] is None):
            bad.append(f"journal entry {e['id']}: reflects on a dose of another course, or one not given")
    return bad


#: (table, earlier column, later column, may they be equal) for spans the app keeps in order
ORDERED = [("appointments", "starts_at", "ends_at", False), ("time_off", "starts_at", "ends_at", False),
           ("extra_hours", "starts_at", "ends_at", False), ("working_hours", "starts", "ends", False),
           ("imported_busy", "starts_at", "ends_at", False), ("action_steps", "starts_on", "review_on", True),
           ("releases_of_information", "effective_on", "expires_on", True)]


def invalid_rows(tables: dict[str, list], today: date) -> list[str]:
    """Every broken promise in these rows (from read_tables(); empty when all is well)."""
    def rows(name):
        return tables[name]
    problems = (_generic_problems(tables) + _dosing_problems(rows) + _clinical_problems(rows, today)
                + _journal_problems(rows))
    for table, first, then, equal_ok in ORDERED:
        problems += _ordered(rows, table, first, then, strict=not equal_ok)
    return problems
