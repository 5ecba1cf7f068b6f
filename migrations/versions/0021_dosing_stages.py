"""dosing stages: a dose's confirmation reason, where it happened, and who took each set of vitals

Revision ID: 0021_dosing_stages
Revises: 0020_vital_thresholds
Create Date: 2026-12-02 15:00:00

Issue 19, points 4 and 5: a dose outside the protocol's usual doses is kept only with the
prescriber's reason; sublingual dosing may be supervised at home by telehealth, where vital signs
are the patient's own readings or their device's. The columns are added in place (no table
rebuild, so the signed-record triggers of 0003 stay), and a signature freezes the two new
dosing_sessions columns as it freezes the others (vital_signs rows are frozen whole already).
"""
import sqlalchemy as sa
from alembic import op


# revision identifiers, used by Alembic.
revision = '0021_dosing_stages'
down_revision = '0020_vital_thresholds'
branch_labels = None
depends_on = None

#: the new dosing_sessions columns a signature freezes
FROZEN = ("dose_confirmation_reason", "setting")
MESSAGE = "a signed dosing session cannot change; add an addendum"

POSTGRES = [
    f"""CREATE FUNCTION dosing_sessions_signed_locked_0021() RETURNS trigger AS $$
       BEGIN
         IF OLD.status = 'signed' AND
            ({' OR '.join(f'NEW.{c} IS DISTINCT FROM OLD.{c}' for c in FROZEN)}) THEN
           RAISE EXCEPTION '{MESSAGE}';
         END IF;
         RETURN NEW;
       END; $$ LANGUAGE plpgsql""",
    """CREATE TRIGGER dosing_sessions_signed_locked_0021 BEFORE UPDATE ON dosing_sessions
       FOR EACH ROW EXECUTE FUNCTION dosing_sessions_signed_locked_0021()""",
]
SQLITE = [
    "CREATE TRIGGER dosing_sessions_signed_no_update_0021 BEFORE UPDATE ON dosing_sessions "
    f"WHEN OLD.status = 'signed' AND ({' OR '.join(f'NEW.{c} IS NOT OLD.{c}' for c in FROZEN)}) "
    f"BEGIN SELECT RAISE(ABORT, '{MESSAGE}'); END",
]


def upgrade():
    op.add_column('dosing_sessions', sa.Column('dose_confirmation_reason', sa.Text(), nullable=True))
    op.add_column('dosing_sessions', sa.Column('setting', sa.String(length=20), server_default='in_clinic',
                                               nullable=False))
    op.add_column('vital_signs', sa.Column('source', sa.String(length=20), server_default='clinician',
                                           nullable=False))
    dialect = op.get_bind().dialect.name
    for statement in POSTGRES if dialect == "postgresql" else SQLITE if dialect == "sqlite" else []:
        op.execute(statement)


def downgrade():
    dialect = op.get_bind().dialect.name
    if dialect == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS dosing_sessions_signed_locked_0021 ON dosing_sessions")
        op.execute("DROP FUNCTION IF EXISTS dosing_sessions_signed_locked_0021()")
    elif dialect == "sqlite":
        op.execute("DROP TRIGGER IF EXISTS dosing_sessions_signed_no_update_0021")
    # SQLite drops a column in place since 3.35; the vital_signs triggers of 0003 do not name it.
    op.drop_column('vital_signs', 'source')
    op.drop_column('dosing_sessions', 'setting')
    op.drop_column('dosing_sessions', 'dose_confirmation_reason')
