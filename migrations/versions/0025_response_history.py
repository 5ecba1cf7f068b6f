"""response history: a saved clinical response or adverse event changed or removed keeps its earlier version

Revision ID: 0025_response_history
Revises: 0024_vital_corrections
Create Date: 2026-12-03 10:00:00

Review of issue 19: saving an unsigned dosing record again replaced its adverse events (the old
rows deleted) and overwrote the clinical responses to flagged readings in place. As migration
0024 did for readings, an earlier version is now kept: `vital_response_revisions` and
`adverse_event_revisions` hold a response or event as it was saved before someone added to it,
changed it or withdrew it, with who, when and (for a replaced or removed value) why; never
updated or deleted, none added once the record is signed. A removed event or cleared response is
withdrawn (`withdrawn_at`, `withdrawn_by_id`), never deleted: a trigger refuses DELETE on
`adverse_events` and `vital_sign_responses` outright, on drafts too. `adverse_events` say who
entered them (`entered_by_id`, unknown on rows saved before). Plain ALTER TABLE on SQLite: a
table rebuild would drop the guards of 0003 and 0020.
"""
from alembic import op
import sqlalchemy as sa

from ketamine_integration.db.types import UTCDateTime


# revision identifiers, used by Alembic.
revision = '0025_response_history'
down_revision = '0024_vital_corrections'
branch_labels = None
depends_on = None

RESPONSES, EVENTS = "vital_response_revisions", "adverse_event_revisions"
REVISIONS = (RESPONSES, EVENTS)
#: the saved facts that are withdrawn, never deleted
KEPT = ("adverse_events", "vital_sign_responses")
#: new columns: table -> (name, a user's id?)
COLUMNS = {"adverse_events": (("entered_by_id", True), ("withdrawn_at", False), ("withdrawn_by_id", True)),
           "vital_sign_responses": (("withdrawn_at", False), ("withdrawn_by_id", True))}
SIGNED_MESSAGE = "the vitals and adverse events of a signed dosing session cannot change"
KEPT_MESSAGE = "a saved adverse event or clinical response is withdrawn, never deleted"
CHANGES = "change IN ('added_to', 'changed', 'withdrawn')"
REASON = "change = 'added_to' OR reason IS NOT NULL"


def _add_column(table: str, name: str, user: bool, dialect: str) -> None:
    if not user:
        op.add_column(table, sa.Column(name, UTCDateTime(), nullable=True))
        return
    constraint = f"fk_{table}_{name}_users"
    if dialect == "sqlite":  # a column's own REFERENCES clause: no rebuild
        op.execute(f"ALTER TABLE {table} ADD COLUMN {name} INTEGER CONSTRAINT {constraint} REFERENCES users (id)")
    else:
        op.add_column(table, sa.Column(name, sa.Integer(), nullable=True))
        op.create_foreign_key(constraint, table, "users", [name], ["id"])


def _who_and_why(table: str) -> list:
    """The columns every revision ends with: what happened to the earlier version, who, when, why."""
    return [sa.Column('entered_by_id', sa.Integer(), nullable=True),
            sa.Column('change', sa.String(length=12), nullable=False),
            sa.Column('changed_by_id', sa.Integer(), nullable=False),
            sa.Column('changed_at', UTCDateTime(), nullable=False),
            sa.Column('reason', sa.Text(), nullable=True),
            sa.ForeignKeyConstraint(['dosing_session_id'], ['dosing_sessions.id'],
                                    name=op.f(f'fk_{table}_dosing_session_id_dosing_sessions')),
            sa.ForeignKeyConstraint(['entered_by_id'], ['users.id'], name=op.f(f'fk_{table}_entered_by_id_users')),
            sa.ForeignKeyConstraint(['changed_by_id'], ['users.id'], name=op.f(f'fk_{table}_changed_by_id_users')),
            sa.CheckConstraint(CHANGES, name=op.f(f'ck_{table}_known_change')),
            sa.CheckConstraint(REASON, name=op.f(f'ck_{table}_reason_given')),
            sa.PrimaryKeyConstraint('id', name=op.f(f'pk_{table}'))]


def _create_tables() -> None:
    op.create_table(RESPONSES,
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('dosing_session_id', sa.Integer(), nullable=False),
    sa.Column('response_id', sa.Integer(), nullable=False),
    sa.Column('timepoint', sa.String(length=12), nullable=False),
    sa.Column('action', sa.Text(), nullable=False),
    sa.Column('decided_by_id', sa.Integer(), nullable=True),
    sa.Column('later_at', UTCDateTime(), nullable=True),
    sa.Column('later_systolic', sa.Integer(), nullable=True),
    sa.Column('later_diastolic', sa.Integer(), nullable=True),
    sa.Column('later_heart_rate', sa.Integer(), nullable=True),
    sa.Column('later_spo2', sa.Integer(), nullable=True),
    sa.Column('later_respiratory_rate', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['response_id'], ['vital_sign_responses.id'],
                            name=op.f('fk_vital_response_revisions_response_id_vital_sign_responses')),
    sa.ForeignKeyConstraint(['decided_by_id'], ['users.id'],
                            name=op.f('fk_vital_response_revisions_decided_by_id_users')),
    *_who_and_why(RESPONSES)
    )
    op.create_table(EVENTS,
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('dosing_session_id', sa.Integer(), nullable=False),
    sa.Column('adverse_event_id', sa.Integer(), nullable=False),
    sa.Column('event_type', sa.String(length=60), nullable=False),
    sa.Column('severity', sa.String(length=10), nullable=False),
    sa.Column('action_taken', sa.String(length=300), nullable=True),
    sa.ForeignKeyConstraint(['adverse_event_id'], ['adverse_events.id'],
                            name=op.f('fk_adverse_event_revisions_adverse_event_id_adverse_events')),
    *_who_and_why(EVENTS)
    )
    for table in REVISIONS:
        op.create_index(op.f(f'ix_{table}_dosing_session_id'), table, ['dosing_session_id'], unique=False)


def _postgres_guards() -> None:
    # fixed messages only (no row data reaches the server log: tests/integration/test_error_log.py)
    op.execute(f"""CREATE FUNCTION dosing_facts_never_deleted() RETURNS trigger AS $$
       BEGIN
         RAISE EXCEPTION '{KEPT_MESSAGE}';
       END; $$ LANGUAGE plpgsql""")
    for table in REVISIONS:
        op.execute(f"""CREATE FUNCTION {table}_append_only() RETURNS trigger AS $$
           BEGIN
             RAISE EXCEPTION '{table} rows are append-only';
           END; $$ LANGUAGE plpgsql""")
        op.execute(f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
                   f"FOR EACH ROW EXECUTE FUNCTION {table}_append_only()")
        # none added to a signed record: migration 0003's function, as for the other dosing children
        op.execute(f"CREATE TRIGGER {table}_signed_locked BEFORE INSERT ON {table} "
                   "FOR EACH ROW EXECUTE FUNCTION dosing_children_signed_locked()")
    for table in KEPT:
        op.execute(f"CREATE TRIGGER {table}_never_deleted BEFORE DELETE ON {table} "
                   "FOR EACH ROW EXECUTE FUNCTION dosing_facts_never_deleted()")


def _sqlite_guards() -> None:
    raise_ = "BEGIN SELECT RAISE(ABORT, '{}'); END"
    for table in REVISIONS:
        for when in ("UPDATE", "DELETE"):
            op.execute(f"CREATE TRIGGER {table}_append_only_{when.lower()} BEFORE {when} ON {table} "
                       + raise_.format(f"{table} rows are append-only"))
        op.execute(f"CREATE TRIGGER {table}_signed_no_insert BEFORE INSERT ON {table} "
                   f"WHEN (SELECT status FROM dosing_sessions WHERE id = NEW.dosing_session_id) = 'signed' "
                   + raise_.format(SIGNED_MESSAGE))
    for table in KEPT:
        op.execute(f"CREATE TRIGGER {table}_never_deleted BEFORE DELETE ON {table} " + raise_.format(KEPT_MESSAGE))


def upgrade():
    dialect = op.get_bind().dialect.name
    for table, columns in COLUMNS.items():
        for name, user in columns:
            _add_column(table, name, user, dialect)
    _create_tables()
    if dialect == "postgresql":
        _postgres_guards()
    elif dialect == "sqlite":
        _sqlite_guards()


def _refuse_losing_history() -> None:
    """The earlier schema has no place for earlier versions or withdrawn facts: a withdrawn event
    would read as standing again. Stop rather than lose or resurrect them."""
    bind = op.get_bind()
    kept = sum(bind.execute(sa.text(f"SELECT count(*) FROM {table}")).scalar_one() for table in REVISIONS)
    kept += sum(bind.execute(sa.text(f"SELECT count(*) FROM {table} WHERE withdrawn_at IS NOT NULL")).scalar_one()
                for table in KEPT)
    if kept:
        raise RuntimeError(f"{kept} earlier versions or withdrawn responses and adverse events are kept; they are "
                           "append-only and the earlier schema cannot hold them, so this downgrade stops here.")


def downgrade():
    _refuse_losing_history()
    dialect = op.get_bind().dialect.name
    if dialect == "postgresql":
        for table in KEPT:
            op.execute(f"DROP TRIGGER IF EXISTS {table}_never_deleted ON {table}")
        for table in REVISIONS:
            op.execute(f"DROP TRIGGER IF EXISTS {table}_signed_locked ON {table}")
            op.execute(f"DROP TRIGGER IF EXISTS {table}_append_only ON {table}")
            op.execute(f"DROP FUNCTION IF EXISTS {table}_append_only()")
        op.execute("DROP FUNCTION IF EXISTS dosing_facts_never_deleted()")
    elif dialect == "sqlite":
        for table in KEPT:
            op.execute(f"DROP TRIGGER IF EXISTS {table}_never_deleted")
    for table in (EVENTS, RESPONSES):
        op.drop_index(op.f(f'ix_{table}_dosing_session_id'), table_name=table)
        op.drop_table(table)  # its SQLite triggers go with it
    for table, columns in COLUMNS.items():
        for name, user in reversed(columns):
            if user and dialect == "postgresql":
                op.drop_constraint(f"fk_{table}_{name}_users", table, type_="foreignkey")
            # ALTER TABLE DROP COLUMN (SQLite 3.35+) keeps the table and its triggers
            op.drop_column(table, name)
