"""attendance: what became of each appointment, its corrections kept; coverage stored as sessions

Revision ID: 0028_attendance
Revises: 0027_note_discard
Create Date: 2026-12-04 10:00:00

Issue 20, points 2-4. An appointment whose time has come gets an outcome: attended, no-show,
late-cancelled or cancelled by the clinic (`appointments.outcome`; the status follows, a late or
clinic cancellation freeing the time like any cancellation). Each outcome set or corrected is a
new `appointment_changes` row saying which outcome (`outcome`), why (`reason`, required for a
correction and for a session entered after it was held) and, when attendance is derived from a
signed integration note, which note (`note_id`): the history keeps every earlier outcome (the
table is append-only since migration 0016). Outcomes recorded before (attended, no-show) are
filled in from the status; their change rows stay as they were written.

The stored integration windows (migration 0013) keep the sessions that count for each window and
what became of them (`sessions`), since whether they cover it now turns on the time of asking; a
row says which coverage rule wrote it (`rule_version`): the rows already there were written by the
rule that counted a booking as cover (1), so lists work their courses out afresh until
`flask windows rebuild` (or the courses' next change) rewrites them.

Plain ALTER TABLE on SQLite, each check constraint a column's own: a table rebuild would drop the
append-only guards of migration 0016. Those guards name the columns they freeze, so they are made
again to freeze the two new ones too (and made as they were before the downgrade drops them).
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0028_attendance'
down_revision = '0027_note_discard'
branch_labels = None
depends_on = None

OUTCOMES = "'attended', 'no_show', 'late_cancelled', 'clinic_cancelled'"
#: as bookings.models.OUTCOME_MATCHES_STATUS
OUTCOME_MATCHES_STATUS = ("outcome IS NULL OR (outcome = status AND status IN ('attended', 'no_show')) "
                          "OR (outcome IN ('late_cancelled', 'clinic_cancelled') AND status = 'cancelled')")
CHANGE_OUTCOME = f"outcome IS NULL OR outcome IN ({OUTCOMES})"
HISTORY = "appointment_changes"
#: the columns migration 0016's guard freezes, and with this migration's
FROZEN_BEFORE = ("id", "appointment_id", "change", "occurred_at", "by_user_id", "previous_start", "reason")
FROZEN = FROZEN_BEFORE + ("outcome", "note_id")
MESSAGE = f"{HISTORY} rows are append-only"


def _guard_history(columns: tuple[str, ...], dialect: str) -> None:
    """Migration 0016's guard on the appointment history, freezing `columns` (same names, same message)."""
    if dialect == "postgresql":
        changed = " OR ".join(f"NEW.{c} IS DISTINCT FROM OLD.{c}" for c in columns)
        op.execute(f"""CREATE OR REPLACE FUNCTION {HISTORY}_append_only() RETURNS trigger AS $$
           BEGIN
             IF TG_OP = 'DELETE' OR {changed} THEN
               RAISE EXCEPTION '{MESSAGE}';
             END IF;
             RETURN NEW;
           END; $$ LANGUAGE plpgsql""")
    elif dialect == "sqlite":
        changed = " OR ".join(f"NEW.{c} IS NOT OLD.{c}" for c in columns)
        op.execute(f"DROP TRIGGER IF EXISTS {HISTORY}_append_only_update")
        op.execute(f"CREATE TRIGGER {HISTORY}_append_only_update BEFORE UPDATE ON {HISTORY} WHEN {changed} "
                   f"BEGIN SELECT RAISE(ABORT, '{MESSAGE}'); END")


def _add_checked(table: str, column: str, check: str, dialect: str) -> None:
    """A VARCHAR(20) column with a check constraint: the column's own on SQLite (no rebuild)."""
    name = f"ck_{table}_known_outcome"
    if dialect == "sqlite":
        op.execute(f"ALTER TABLE {table} ADD COLUMN {column} VARCHAR(20) CONSTRAINT {name} CHECK ({check})")
    else:
        op.add_column(table, sa.Column(column, sa.String(length=20), nullable=True))
        op.create_check_constraint(op.f(name), table, check)


def upgrade():
    dialect = op.get_bind().dialect.name
    _add_checked("appointments", "outcome", OUTCOME_MATCHES_STATUS, dialect)
    op.execute("UPDATE appointments SET outcome = status WHERE status IN ('attended', 'no_show')")
    _add_checked("appointment_changes", "outcome", CHANGE_OUTCOME, dialect)
    name = "fk_appointment_changes_note_id_session_notes"
    if dialect == "sqlite":  # a column's own REFERENCES clause: no rebuild
        op.execute(f"ALTER TABLE appointment_changes ADD COLUMN note_id INTEGER CONSTRAINT {name} "
                   "REFERENCES session_notes (id)")
    else:
        op.add_column("appointment_changes", sa.Column("note_id", sa.Integer(), nullable=True))
        op.create_foreign_key(op.f(name), "appointment_changes", "session_notes", ["note_id"], ["id"])
    _guard_history(FROZEN, dialect)
    op.add_column("integration_windows", sa.Column("sessions", sa.JSON(), nullable=True))
    op.add_column("integration_windows", sa.Column("rule_version", sa.Integer(), nullable=False,
                                                   server_default=sa.text("1")))


def downgrade():
    dialect = op.get_bind().dialect.name
    op.drop_column("integration_windows", "rule_version")
    op.drop_column("integration_windows", "sessions")
    _guard_history(FROZEN_BEFORE, dialect)  # first: SQLite drops no column a trigger names
    if dialect == "postgresql":
        op.drop_constraint(op.f("fk_appointment_changes_note_id_session_notes"), "appointment_changes",
                           type_="foreignkey")
        op.drop_constraint(op.f("ck_appointment_changes_known_outcome"), "appointment_changes", type_="check")
        op.drop_constraint(op.f("ck_appointments_known_outcome"), "appointments", type_="check")
    # ALTER TABLE DROP COLUMN (SQLite 3.35+) keeps the tables and their triggers; a column's own
    # check and REFERENCES clauses go with it. The status stays: a late or clinic cancellation
    # reads as a cancellation again.
    op.drop_column("appointment_changes", "note_id")
    op.drop_column("appointment_changes", "outcome")
    op.drop_column("appointments", "outcome")
