"""vital thresholds: respiratory rate, clinical responses to flagged readings, discharge criteria

Revision ID: 0020_vital_thresholds
Revises: 0019_nurse_role
Create Date: 2026-12-02 15:00:00

Issue 19, points 1 and 2. A reading outside the protocol's limits is saved (it happened), but the
record is signed only with a documented clinical response: `vital_sign_responses`, one row per
flagged timepoint (what was done, who decided, the later reading). Those rows are part of the
signed record, so the guard of migration 0003 covers them as it covers vitals and adverse
events. Discharge criteria become explicit answers (`dosing_sessions.discharge_checks`), which a
signature freezes like every other clinical column: the dosing_sessions guard is recreated with
that column added. Records signed before keep what they hold; the new columns are empty there.
"""
from alembic import op
import sqlalchemy as sa

from ketamine_integration.db_types import UTCDateTime


# revision identifiers, used by Alembic.
revision = '0020_vital_thresholds'
down_revision = '0019_nurse_role'
branch_labels = None
depends_on = None

#: the columns migration 0003 froze on a signed dosing session
FROZEN_BEFORE = ("course_id", "sequence", "status", "planned_start", "spacing_override_reason", "started_at",
                 "ended_at", "route", "medication", "dose_mg", "dose_mg_per_kg", "weight_kg", "lot_number",
                 "administered_by_id", "monitored_by_id", "sedation", "dissociation",
                 "concomitant_sedating_medications", "monitoring_minutes", "discharged_at", "discharge_ready",
                 "ready_to_leave_at", "vitals_acceptable_before_dosing", "vitals_acceptable_before_discharge",
                 "cancel_reason", "signed_at", "signed_by_id", "content_digest", "created_at")
#: json columns, compared as text on PostgreSQL (json has no equality operator)
FROZEN_JSON = ("discharge_checks",)
TABLE = "vital_sign_responses"
CHILD_MESSAGE = "the vitals and adverse events of a signed dosing session cannot change"
SESSION_MESSAGE = "a signed dosing session cannot change; add an addendum"


def _postgres_session_guard(json_columns: tuple[str, ...]) -> str:
    changed = [f"NEW.{c} IS DISTINCT FROM OLD.{c}" for c in FROZEN_BEFORE] + \
        [f"NEW.{c}::text IS DISTINCT FROM OLD.{c}::text" for c in json_columns]
    return f"""CREATE OR REPLACE FUNCTION dosing_sessions_signed_locked() RETURNS trigger AS $$
       BEGIN
         IF TG_OP = 'DELETE' AND OLD.status = 'signed' THEN
           RAISE EXCEPTION 'a signed dosing session cannot be deleted';
         END IF;
         IF TG_OP = 'UPDATE' AND OLD.status = 'signed' AND ({' OR '.join(changed)}) THEN
           RAISE EXCEPTION '{SESSION_MESSAGE}';
         END IF;
         RETURN COALESCE(NEW, OLD);
       END; $$ LANGUAGE plpgsql"""


def _sqlite_session_guard(json_columns: tuple[str, ...]) -> list[str]:
    changed = " OR ".join(f"NEW.{c} IS NOT OLD.{c}" for c in FROZEN_BEFORE + json_columns)
    return ["DROP TRIGGER IF EXISTS dosing_sessions_signed_no_update",
            f"CREATE TRIGGER dosing_sessions_signed_no_update BEFORE UPDATE ON dosing_sessions "
            f"WHEN OLD.status = 'signed' AND ({changed}) BEGIN SELECT RAISE(ABORT, '{SESSION_MESSAGE}'); END"]


def _sqlite_child_guard() -> list[str]:
    return [f"CREATE TRIGGER {TABLE}_signed_no_{when.lower()} BEFORE {when} ON {TABLE} "
            f"WHEN (SELECT status FROM dosing_sessions WHERE id = {row}.dosing_session_id) = 'signed' "
            f"BEGIN SELECT RAISE(ABORT, '{CHILD_MESSAGE}'); END"
            for when, row in (("INSERT", "NEW"), ("UPDATE", "OLD"), ("DELETE", "OLD"))]


def upgrade():
    # plain ALTER TABLE on both engines: a SQLite table rebuild would drop the guards of 0003
    op.add_column('vital_signs', sa.Column('respiratory_rate', sa.Integer(), nullable=True))
    op.add_column('dosing_sessions', sa.Column('discharge_checks', sa.JSON(), nullable=True))
    op.create_table(TABLE,
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('dosing_session_id', sa.Integer(), nullable=False),
    sa.Column('timepoint', sa.String(length=12), nullable=False),
    sa.Column('action', sa.Text(), nullable=False),
    sa.Column('decided_by_id', sa.Integer(), nullable=True),
    sa.Column('later_at', UTCDateTime(), nullable=True),
    sa.Column('later_systolic', sa.Integer(), nullable=True),
    sa.Column('later_diastolic', sa.Integer(), nullable=True),
    sa.Column('later_heart_rate', sa.Integer(), nullable=True),
    sa.Column('later_spo2', sa.Integer(), nullable=True),
    sa.Column('later_respiratory_rate', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['decided_by_id'], ['users.id'], name=op.f('fk_vital_sign_responses_decided_by_id_users')),
    sa.ForeignKeyConstraint(['dosing_session_id'], ['dosing_sessions.id'],
                            name=op.f('fk_vital_sign_responses_dosing_session_id_dosing_sessions')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_vital_sign_responses')),
    sa.UniqueConstraint('dosing_session_id', 'timepoint',
                        name=op.f('uq_vital_sign_responses_dosing_session_id_timepoint'))
    )
    with op.batch_alter_table(TABLE, schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_vital_sign_responses_dosing_session_id'), ['dosing_session_id'],
                              unique=False)
    dialect = op.get_bind().dialect.name
    if dialect == "postgresql":
        op.execute(_postgres_session_guard(FROZEN_JSON))
        # the function of migration 0003 already guards vitals and adverse events by their session
        op.execute(f"CREATE TRIGGER {TABLE}_signed_locked BEFORE INSERT OR UPDATE OR DELETE ON {TABLE} "
                   "FOR EACH ROW EXECUTE FUNCTION dosing_children_signed_locked()")
    elif dialect == "sqlite":
        for statement in _sqlite_session_guard(FROZEN_JSON) + _sqlite_child_guard():
            op.execute(statement)


def downgrade():
    dialect = op.get_bind().dialect.name
    if dialect == "postgresql":
        op.execute(f"DROP TRIGGER IF EXISTS {TABLE}_signed_locked ON {TABLE}")
        op.execute(_postgres_session_guard(()))
    elif dialect == "sqlite":
        for when in ("insert", "update", "delete"):
            op.execute(f"DROP TRIGGER IF EXISTS {TABLE}_signed_no_{when}")
        for statement in _sqlite_session_guard(()):
            op.execute(statement)
    with op.batch_alter_table(TABLE, schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_vital_sign_responses_dosing_session_id'))
    op.drop_table(TABLE)
    # the guard is back to its earlier columns, so the new one can go (ALTER TABLE DROP COLUMN,
    # SQLite 3.35+, keeps the tables and their triggers)
    op.drop_column('dosing_sessions', 'discharge_checks')
    op.drop_column('vital_signs', 'respiratory_rate')
