"""safety alerts from a portal answer on an incomplete questionnaire, linked once to the completed one

Revision ID: 0043_partial_safety_answers
Revises: 0042_journal_first_shared
Create Date: 2026-12-13 09:00:00

Issue 23, point 3 (attacker review): a patient who answered PHQ-9 item 9 above 0 but left another
question empty was refused with field errors and nothing was stored, so no alert opened and the care
team never learnt of it if the patient closed the page. Such an answer now opens an alert of its own
source, `portal_answer`: no response holds the answers (the form was refused), so the alert names the
measure whose safety rule they met (`measure`, required for this source by the CHECK `one_source`).
When the patient then completes the questionnaire with the same finding, the response is linked to
that alert (`measure_response_id`, set once, only on a `portal_answer` alert) instead of raising a
second one (notes/safety.py).

The append-only guard of migrations 0015 and 0022 is made again (SQLite: its triggers; PostgreSQL:
its function): it freezes `measure` too, and lets `measure_response_id` change once, from nothing,
on a portal-answer alert; the acknowledgement stays the one other change.

SQLite cannot change a CHECK in place, and rebuilding the table would rest on reflecting its
constraints: the table's CREATE statement is edited in the schema table instead (SQLite's documented
procedure, as migrations 0018 and 0041 did), within the migration's transaction. Existing rows meet
the widened CHECKs. The downgrade refuses while portal-answer alerts exist: they are append-only and
the earlier schema cannot hold them.
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0043_partial_safety_answers'
down_revision = '0042_journal_first_shared'
branch_labels = None
depends_on = None

TABLE = "safety_alerts"
#: migration 0022's frozen columns, and this one's (measure_response_id moves to a one-way change)
BEFORE = ("id", "patient_id", "course_id", "measure_response_id", "item_score", "raised_at", "source",
          "session_note_id", "finding")
AFTER = tuple(c for c in BEFORE if c != "measure_response_id") + ("measure",)
ACKNOWLEDGED = ("acknowledged_at", "acknowledged_by_id", "acknowledgement")
ACKNOWLEDGED_ONCE = "OLD.acknowledged_at IS NULL AND NEW.acknowledged_at IS NOT NULL"
LINKED_ONCE = ("OLD.measure_response_id IS NULL AND NEW.measure_response_id IS NOT NULL "
               "AND OLD.source = 'portal_answer'")

KNOWN_BEFORE = "source IN ('measure', 'risk_screen')"
KNOWN_AFTER = "source IN ('measure', 'risk_screen', 'portal_answer')"
ONE_BEFORE = ("(source = 'measure' AND measure_response_id IS NOT NULL AND session_note_id IS NULL) OR "
              "(source = 'risk_screen' AND session_note_id IS NOT NULL AND measure_response_id IS NULL)")
ONE_AFTER = f"{ONE_BEFORE} OR (source = 'portal_answer' AND measure IS NOT NULL AND session_note_id IS NULL)"
#: SQLite: each CHECK as migration 0022 wrote it, and as it is now
SQLITE_CHECKS = ((f"CONSTRAINT ck_{TABLE}_known_source CHECK ({KNOWN_BEFORE})",
                  f"CONSTRAINT ck_{TABLE}_known_source CHECK ({KNOWN_AFTER})"),
                 (f"CONSTRAINT ck_{TABLE}_one_source CHECK ({ONE_BEFORE})",
                  f"CONSTRAINT ck_{TABLE}_one_source CHECK ({ONE_AFTER})"))


def _message() -> str:
    return f"{TABLE} rows are append-only"


def _changed(columns, dialect: str) -> str:
    if dialect == "postgresql":
        return " OR ".join(f"NEW.{c}::text IS DISTINCT FROM OLD.{c}::text" for c in columns)
    return " OR ".join(f"NEW.{c} IS NOT OLD.{c}" for c in columns)


def _refused(frozen, dialect: str, *, linkable: bool) -> str:
    refused = f"{_changed(frozen, dialect)} OR (({_changed(ACKNOWLEDGED, dialect)}) AND NOT ({ACKNOWLEDGED_ONCE}))"
    if linkable:
        refused += f" OR (({_changed(('measure_response_id',), dialect)}) AND NOT ({LINKED_ONCE}))"
    return refused


def _guard(frozen, *, linkable: bool) -> None:
    """The append-only guard of migrations 0015 and 0022, freezing `frozen`."""
    dialect = op.get_bind().dialect.name
    refused = _refused(frozen, dialect, linkable=linkable)
    if dialect == "postgresql":
        op.execute(f"""CREATE OR REPLACE FUNCTION {TABLE}_append_only() RETURNS trigger AS $$
           BEGIN
             IF TG_OP = 'DELETE' OR {refused} THEN
               RAISE EXCEPTION '{_message()}';
             END IF;
             RETURN NEW;
           END; $$ LANGUAGE plpgsql""")
    elif dialect == "sqlite":
        raise_ = f"BEGIN SELECT RAISE(ABORT, '{_message()}'); END"
        op.execute(f"DROP TRIGGER IF EXISTS {TABLE}_append_only_update")
        op.execute(f"DROP TRIGGER IF EXISTS {TABLE}_append_only_delete")
        op.execute(f"CREATE TRIGGER {TABLE}_append_only_update BEFORE UPDATE ON {TABLE} WHEN {refused} {raise_}")
        op.execute(f"CREATE TRIGGER {TABLE}_append_only_delete BEFORE DELETE ON {TABLE} {raise_}")


def _edit_sqlite_schema(*replacements: tuple[str, str]) -> None:
    """Replace each `old` (found exactly once) by its `new` in the table's CREATE statement."""
    bind = op.get_bind()
    sql = bind.execute(sa.text("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = :t"),
                       {"t": TABLE}).scalar_one()
    for old, new in replacements:
        if sql.count(old) != 1:
            raise RuntimeError(f"{TABLE} is not as the earlier migrations left it; it was not changed.")
        sql = sql.replace(old, new)
    version = bind.execute(sa.text("PRAGMA schema_version")).scalar_one()
    bind.execute(sa.text("PRAGMA writable_schema = ON"))
    bind.execute(sa.text("UPDATE sqlite_master SET sql = :sql WHERE type = 'table' AND name = :t"),
                 {"sql": sql, "t": TABLE})
    bind.execute(sa.text(f"PRAGMA schema_version = {version + 1}"))
    bind.execute(sa.text("PRAGMA writable_schema = OFF"))
    problems = bind.execute(sa.text("PRAGMA quick_check")).scalars().all()
    if problems != ["ok"]:
        raise RuntimeError(f"{TABLE}: quick_check after the schema edit: {'; '.join(problems)}")


def upgrade():
    op.add_column(TABLE, sa.Column("measure", sa.String(length=10), nullable=True))
    if op.get_bind().dialect.name == "sqlite":
        _edit_sqlite_schema(*SQLITE_CHECKS)
    else:
        for name, condition in (("known_source", KNOWN_AFTER), ("one_source", ONE_AFTER)):
            op.drop_constraint(op.f(f"ck_{TABLE}_{name}"), TABLE, type_="check")
            op.create_check_constraint(name, TABLE, condition)
    _guard(AFTER, linkable=True)


def downgrade():
    bind = op.get_bind()
    kept = bind.execute(sa.text(f"SELECT count(*) FROM {TABLE} WHERE source = 'portal_answer'")).scalar_one()
    if kept:
        raise RuntimeError(f"{TABLE} holds {kept} alerts from portal answers; they are append-only and the "
                           "earlier schema cannot hold them, so this downgrade stops here.")
    _guard(BEFORE, linkable=False)  # first: the guard must not name the column that goes
    if bind.dialect.name == "sqlite":
        _edit_sqlite_schema(*((new, old) for old, new in SQLITE_CHECKS))
    else:
        for name, condition in (("known_source", KNOWN_BEFORE), ("one_source", ONE_BEFORE)):
            op.drop_constraint(op.f(f"ck_{TABLE}_{name}"), TABLE, type_="check")
            op.create_check_constraint(name, TABLE, condition)
    op.drop_column(TABLE, "measure")
