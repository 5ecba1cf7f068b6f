"""vital corrections: a saved reading changed keeps the earlier one; who entered readings and responses

Revision ID: 0024_vital_corrections
Revises: 0023_credentials_outside
Create Date: 2026-12-02 16:00:00

A reading that was saved is a fact (review of issue 19: a nurse saved 186/114, a prescriber
changed it to 138/88 and signed, and nothing showed 186/114 had existed). Changing a saved
reading now keeps the earlier values in `vital_sign_corrections`, with who changed them, when and
why: rows that are never updated or deleted (append-only, like the addenda of migration 0015),
and never added once their session is signed (like the other dosing children, migration 0003's
function). `vital_signs` and `vital_sign_responses` say who entered them (`entered_by_id`,
unknown on rows saved before). Plain ALTER TABLE on SQLite: a table rebuild would drop the
guards of 0003 and 0020.
"""
from alembic import op
import sqlalchemy as sa

from ketamine_integration.db_types import UTCDateTime


# revision identifiers, used by Alembic.
revision = '0024_vital_corrections'
down_revision = '0023_credentials_outside'
branch_labels = None
depends_on = None

TABLE = "vital_sign_corrections"
ENTERED_BY = ("vital_signs", "vital_sign_responses")
APPEND_ONLY_MESSAGE = f"{TABLE} rows are append-only"
SIGNED_MESSAGE = "the vitals and adverse events of a signed dosing session cannot change"


def _add_entered_by(table: str, dialect: str) -> None:
    name = f"fk_{table}_entered_by_id_users"
    if dialect == "sqlite":  # a column's own REFERENCES clause: no rebuild
        op.execute(f"ALTER TABLE {table} ADD COLUMN entered_by_id INTEGER CONSTRAINT {name} REFERENCES users (id)")
    else:
        op.add_column(table, sa.Column("entered_by_id", sa.Integer(), nullable=True))
        op.create_foreign_key(name, table, "users", ["entered_by_id"], ["id"])


def upgrade():
    dialect = op.get_bind().dialect.name
    for table in ENTERED_BY:
        _add_entered_by(table, dialect)
    op.create_table(TABLE,
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('dosing_session_id', sa.Integer(), nullable=False),
    sa.Column('timepoint', sa.String(length=12), nullable=False),
    sa.Column('systolic', sa.Integer(), nullable=True),
    sa.Column('diastolic', sa.Integer(), nullable=True),
    sa.Column('heart_rate', sa.Integer(), nullable=True),
    sa.Column('spo2', sa.Integer(), nullable=True),
    sa.Column('respiratory_rate', sa.Integer(), nullable=True),
    sa.Column('source', sa.String(length=20), nullable=True),
    sa.Column('entered_by_id', sa.Integer(), nullable=True),
    sa.Column('corrected_by_id', sa.Integer(), nullable=False),
    sa.Column('corrected_at', UTCDateTime(), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(['dosing_session_id'], ['dosing_sessions.id'],
                            name=op.f('fk_vital_sign_corrections_dosing_session_id_dosing_sessions')),
    sa.ForeignKeyConstraint(['entered_by_id'], ['users.id'], name=op.f('fk_vital_sign_corrections_entered_by_id_users')),
    sa.ForeignKeyConstraint(['corrected_by_id'], ['users.id'],
                            name=op.f('fk_vital_sign_corrections_corrected_by_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_vital_sign_corrections'))
    )
    op.create_index(op.f('ix_vital_sign_corrections_dosing_session_id'), TABLE, ['dosing_session_id'], unique=False)
    if dialect == "postgresql":
        op.execute(f"""CREATE FUNCTION {TABLE}_append_only() RETURNS trigger AS $$
           BEGIN
             RAISE EXCEPTION '{APPEND_ONLY_MESSAGE}';
           END; $$ LANGUAGE plpgsql""")
        op.execute(f"CREATE TRIGGER {TABLE}_append_only BEFORE UPDATE OR DELETE ON {TABLE} "
                   f"FOR EACH ROW EXECUTE FUNCTION {TABLE}_append_only()")
        # none added to a signed record: migration 0003's function, as for the other dosing children
        op.execute(f"CREATE TRIGGER {TABLE}_signed_locked BEFORE INSERT ON {TABLE} "
                   "FOR EACH ROW EXECUTE FUNCTION dosing_children_signed_locked()")
    elif dialect == "sqlite":
        raise_ = "BEGIN SELECT RAISE(ABORT, '{}'); END"
        for when in ("UPDATE", "DELETE"):
            op.execute(f"CREATE TRIGGER {TABLE}_append_only_{when.lower()} BEFORE {when} ON {TABLE} "
                       + raise_.format(APPEND_ONLY_MESSAGE))
        op.execute(f"CREATE TRIGGER {TABLE}_signed_no_insert BEFORE INSERT ON {TABLE} "
                   f"WHEN (SELECT status FROM dosing_sessions WHERE id = NEW.dosing_session_id) = 'signed' "
                   + raise_.format(SIGNED_MESSAGE))


def downgrade():
    dialect = op.get_bind().dialect.name
    if dialect == "postgresql":
        op.execute(f"DROP TRIGGER IF EXISTS {TABLE}_signed_locked ON {TABLE}")
        op.execute(f"DROP TRIGGER IF EXISTS {TABLE}_append_only ON {TABLE}")
        op.execute(f"DROP FUNCTION IF EXISTS {TABLE}_append_only()")
    op.drop_index(op.f('ix_vital_sign_corrections_dosing_session_id'), table_name=TABLE)
    op.drop_table(TABLE)
    for table in ENTERED_BY:
        if dialect == "postgresql":
            op.drop_constraint(f"fk_{table}_entered_by_id_users", table, type_="foreignkey")
        # ALTER TABLE DROP COLUMN (SQLite 3.35+) keeps the table and its triggers, and the column's
        # own REFERENCES clause goes with it
        op.drop_column(table, "entered_by_id")
