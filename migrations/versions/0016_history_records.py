"""history records: a booking's changes, a course's phase transitions and its preparation
checklist entries are append-only in the database

Revision ID: 0016_history_records
Revises: 0015_append_only_records
Create Date: 2026-11-23 09:00:00

Migration 0015 left these three history tables unguarded (issue 17, point 3: "every
append-only table"). The application only ever appends to them: a booking, move,
cancellation or attendance adds an appointment change; a phase change adds a transition;
a preparation entry is recorded, and one made in error is voided in place. No code path
deletes them (no course, booking or patient is ever deleted; archiving a patient sets a
date). Triggers on both engines now refuse every UPDATE and DELETE except that void: once,
by someone, with a reason, and never undone or rewritten.
As in 0015, row-level triggers do not fire on restore and inserts stay free.
"""
from alembic import op

# revision identifiers, used by Alembic.
revision = '0016_history_records'
down_revision = '0015_append_only_records'
branch_labels = None
depends_on = None

#: table -> (columns frozen once written, one-way columns, SQL condition allowing their change)
GUARDS = {
    "appointment_changes": (
        ("id", "appointment_id", "change", "occurred_at", "by_user_id", "previous_start", "reason"), (), None),
    "phase_transitions": (
        ("id", "course_id", "from_phase", "to_phase", "occurred_at", "by_user_id", "reason", "overridden"), (), None),
    "preparation_records": (
        ("id", "course_id", "item", "completed_on", "note", "recorded_at", "recorded_by_id"),
        ("voided_at", "voided_by_id", "void_reason"),
        "OLD.voided_at IS NULL AND NEW.voided_at IS NOT NULL AND NEW.voided_by_id IS NOT NULL "
        "AND NEW.void_reason IS NOT NULL"),
}


def _message(table: str) -> str:
    return f"{table} rows are append-only"


def _changed(columns, dialect: str) -> str:
    if dialect == "postgresql":  # no json column here (0015 compares those as text)
        return " OR ".join(f"NEW.{c} IS DISTINCT FROM OLD.{c}" for c in columns)
    return " OR ".join(f"NEW.{c} IS NOT OLD.{c}" for c in columns)


def _refused(table: str, dialect: str) -> str:
    """The condition on an UPDATE that the guard refuses."""
    frozen, one_way, allowed = GUARDS[table]
    condition = _changed(frozen, dialect)
    if one_way:
        condition += f" OR (({_changed(one_way, dialect)}) AND NOT ({allowed}))"
    return condition


def _postgres_statements():
    for table in GUARDS:
        yield f"""CREATE FUNCTION {table}_append_only() RETURNS trigger AS $$
           BEGIN
             IF TG_OP = 'DELETE' OR {_refused(table, 'postgresql')} THEN
               RAISE EXCEPTION '{_message(table)}';
             END IF;
             RETURN NEW;
           END; $$ LANGUAGE plpgsql"""
        yield f"""CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table}
           FOR EACH ROW EXECUTE FUNCTION {table}_append_only()"""


def _sqlite_statements():
    raise_ = "BEGIN SELECT RAISE(ABORT, '{}'); END"
    for table in GUARDS:
        yield (f"CREATE TRIGGER {table}_append_only_update BEFORE UPDATE ON {table} "
               f"WHEN {_refused(table, 'sqlite')} " + raise_.format(_message(table)))
        yield f"CREATE TRIGGER {table}_append_only_delete BEFORE DELETE ON {table} " + raise_.format(_message(table))


def upgrade():
    dialect = op.get_bind().dialect.name
    statements = _postgres_statements() if dialect == "postgresql" else _sqlite_statements() \
        if dialect == "sqlite" else ()
    for statement in statements:
        op.execute(statement)


def downgrade():
    dialect = op.get_bind().dialect.name
    for table in GUARDS:
        if dialect == "postgresql":
            op.execute(f"DROP TRIGGER IF EXISTS {table}_append_only ON {table}")
            op.execute(f"DROP FUNCTION IF EXISTS {table}_append_only()")
        elif dialect == "sqlite":
            op.execute(f"DROP TRIGGER IF EXISTS {table}_append_only_update")
            op.execute(f"DROP TRIGGER IF EXISTS {table}_append_only_delete")
