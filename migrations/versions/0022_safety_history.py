"""safety history: alerts from every source of suicide risk, each saying what raised it

Revision ID: 0022_safety_history
Revises: 0021_dosing_stages
Create Date: 2026-12-02 15:00:00

Issue 19, point 6. A safety alert was raised only by a measure response (PHQ-9 item 9); a
therapist's risk screen reporting thoughts of self-harm raised none. An alert now names its
source (a measure response, or the risk screen of an integration note) and keeps what was seen
in a sentence (`finding`), so the patient's safety history reads the same after the alert is
acknowledged. Rows of other sources have no measure response and no item score, so both lose
NOT NULL; a CHECK ties each source to its record, and another makes an acknowledgement say who
and what was done. Earlier alerts are PHQ-9 item-9 alerts (the only safety rule until now):
their finding is written here in the words the app uses.

SQLite cannot change NULL-ness in place: the table is rebuilt (batch mode; no table refers to
safety_alerts, so the rebuild drops nothing else), which drops its append-only triggers
(migration 0015); they are made again, freezing the new columns too. On PostgreSQL the trigger
function is replaced. The downgrade refuses while risk-screen alerts exist: they are
append-only, and the earlier schema cannot hold them.
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0022_safety_history'
down_revision = '0021_dosing_stages'
branch_labels = None
depends_on = None

TABLE = "safety_alerts"
BEFORE = ("id", "patient_id", "course_id", "measure_response_id", "item_score", "raised_at")
AFTER = (*BEFORE, "source", "session_note_id", "finding")
ONE_WAY = ("acknowledged_at", "acknowledged_by_id", "acknowledgement")
ALLOWED = "OLD.acknowledged_at IS NULL AND NEW.acknowledged_at IS NOT NULL"
CHECKS = {
    "known_source": "source IN ('measure', 'risk_screen')",
    "one_source": "(source = 'measure' AND measure_response_id IS NOT NULL AND session_note_id IS NULL) OR "
                  "(source = 'risk_screen' AND session_note_id IS NOT NULL AND measure_response_id IS NULL)",
    "acknowledged_with_what_was_done": "acknowledged_at IS NULL OR (acknowledged_by_id IS NOT NULL AND "
                                       "acknowledgement IS NOT NULL AND acknowledgement != '')",
}
#: the finding of an alert raised before this revision (ketamine_integration.domain.measures.Measure.finding)
PHQ9_FINDING = "'PHQ-9 item 9 (thoughts of self-harm) answered ' || item_score"


def _message() -> str:
    return f"{TABLE} rows are append-only"


def _changed(columns, dialect: str) -> str:
    if dialect == "postgresql":
        return " OR ".join(f"NEW.{c}::text IS DISTINCT FROM OLD.{c}::text" for c in columns)
    return " OR ".join(f"NEW.{c} IS NOT OLD.{c}" for c in columns)


def _refused(frozen, dialect: str) -> str:
    return f"{_changed(frozen, dialect)} OR (({_changed(ONE_WAY, dialect)}) AND NOT ({ALLOWED}))"


def _guard(frozen) -> None:
    """The append-only guard of migration 0015, freezing `frozen` (SQLite: made again after a rebuild)."""
    dialect = op.get_bind().dialect.name
    if dialect == "postgresql":
        op.execute(f"""CREATE OR REPLACE FUNCTION {TABLE}_append_only() RETURNS trigger AS $$
           BEGIN
             IF TG_OP = 'DELETE' OR {_refused(frozen, dialect)} THEN
               RAISE EXCEPTION '{_message()}';
             END IF;
             RETURN NEW;
           END; $$ LANGUAGE plpgsql""")
    elif dialect == "sqlite":
        raise_ = f"BEGIN SELECT RAISE(ABORT, '{_message()}'); END"
        op.execute(f"DROP TRIGGER IF EXISTS {TABLE}_append_only_update")
        op.execute(f"DROP TRIGGER IF EXISTS {TABLE}_append_only_delete")
        op.execute(f"CREATE TRIGGER {TABLE}_append_only_update BEFORE UPDATE ON {TABLE} "
                   f"WHEN {_refused(frozen, dialect)} {raise_}")
        op.execute(f"CREATE TRIGGER {TABLE}_append_only_delete BEFORE DELETE ON {TABLE} {raise_}")


def upgrade():
    with op.batch_alter_table(TABLE, schema=None) as batch_op:
        batch_op.add_column(sa.Column("source", sa.String(length=20), server_default="measure", nullable=False))
        batch_op.add_column(sa.Column("session_note_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("finding", sa.Text(), server_default="", nullable=False))
        batch_op.alter_column("measure_response_id", existing_type=sa.Integer(), nullable=True)
        batch_op.alter_column("item_score", existing_type=sa.Integer(), nullable=True)
        batch_op.create_foreign_key(batch_op.f("fk_safety_alerts_session_note_id_session_notes"), "session_notes",
                                    ["session_note_id"], ["id"])
        batch_op.create_index(batch_op.f("ix_safety_alerts_session_note_id"), ["session_note_id"], unique=False)
        batch_op.create_unique_constraint(batch_op.f("uq_safety_alerts_session_note_id"),
                                          ["session_note_id", "finding"])
    # Before the guard is made again: the old one does not know the new column.
    op.execute(f"UPDATE {TABLE} SET finding = {PHQ9_FINDING} WHERE finding = ''")
    with op.batch_alter_table(TABLE, schema=None) as batch_op:
        for name, condition in CHECKS.items():
            batch_op.create_check_constraint(name, condition)
    _guard(AFTER)


def downgrade():
    bind = op.get_bind()
    others = bind.execute(sa.text(f"SELECT count(*) FROM {TABLE} WHERE source != 'measure'")).scalar_one()
    if others:
        raise RuntimeError(f"{TABLE} holds {others} alerts from risk screens; they are append-only and the "
                           "earlier schema cannot hold them, so this downgrade stops here.")
    _guard(BEFORE)  # first: PostgreSQL's guard must not name the columns that go
    with op.batch_alter_table(TABLE, schema=None) as batch_op:
        for name in CHECKS:
            batch_op.drop_constraint(batch_op.f(f"ck_safety_alerts_{name}"), type_="check")
        batch_op.drop_constraint(batch_op.f("uq_safety_alerts_session_note_id"), type_="unique")
        batch_op.drop_index(batch_op.f("ix_safety_alerts_session_note_id"))
        batch_op.drop_constraint(batch_op.f("fk_safety_alerts_session_note_id_session_notes"), type_="foreignkey")
        batch_op.alter_column("item_score", existing_type=sa.Integer(), nullable=False)
        batch_op.alter_column("measure_response_id", existing_type=sa.Integer(), nullable=False)
        batch_op.drop_column("finding")
        batch_op.drop_column("session_note_id")
        batch_op.drop_column("source")
    _guard(BEFORE)
