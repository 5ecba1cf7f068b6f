"""audit chain: positions, macs and the chain head

Revision ID: 0011_audit_chain
Revises: 0010_login_throttle
Create Date: 2026-11-21 15:01:02.107992

Every audit row gets a chain position and an HMAC linking it to the row before
(ketamine_integration/audit/chain.py); audit_chain_head holds the end of the chain. Rows
already in the database are chained here, in id order, with the configured AUDIT_HMAC_KEY
(set it before upgrading a production database). The append-only guard is lifted only for
that and put back; SQLite loses its triggers when the table is rebuilt, so they are made
again. The head itself may only move forward and cannot be deleted.
"""
from alembic import op
import sqlalchemy as sa
from flask import current_app

from ketamine_integration.audit.chain import FIELDS, GENESIS, head_seal, link_mac
from ketamine_integration.db_types import UTCDateTime


# revision identifiers, used by Alembic.
revision = '0011_audit_chain'
down_revision = '0010_login_throttle'
branch_labels = None
depends_on = None

#: existing rows chained per batch (bounded memory on a large trail)
BATCH = 5000

SQLITE_AUDIT_GUARD = (
    "CREATE TRIGGER audit_events_no_update BEFORE UPDATE ON audit_events "
    "BEGIN SELECT RAISE(ABORT, 'audit_events rows are append-only'); END",
    "CREATE TRIGGER audit_events_no_delete BEFORE DELETE ON audit_events "
    "BEGIN SELECT RAISE(ABORT, 'audit_events rows are append-only'); END",
)
POSTGRES_HEAD_GUARD = (
    """CREATE FUNCTION audit_chain_head_forward_only() RETURNS trigger AS $$
       BEGIN
         IF TG_OP = 'DELETE' THEN RAISE EXCEPTION 'the audit chain head cannot be deleted'; END IF;
         IF NEW.position < OLD.position THEN RAISE EXCEPTION 'the audit chain head only moves forward'; END IF;
         RETURN NEW;
       END; $$ LANGUAGE plpgsql""",
    """CREATE TRIGGER audit_chain_head_forward_only BEFORE UPDATE OR DELETE ON audit_chain_head
       FOR EACH ROW EXECUTE FUNCTION audit_chain_head_forward_only()""",
)
SQLITE_HEAD_GUARD = (
    "CREATE TRIGGER audit_chain_head_no_delete BEFORE DELETE ON audit_chain_head "
    "BEGIN SELECT RAISE(ABORT, 'the audit chain head cannot be deleted'); END",
    "CREATE TRIGGER audit_chain_head_no_rewind BEFORE UPDATE ON audit_chain_head WHEN NEW.position < OLD.position "
    "BEGIN SELECT RAISE(ABORT, 'the audit chain head only moves forward'); END",
)


def _audit_guard(dialect: str, on: bool) -> None:
    if dialect == "postgresql":
        op.execute(f"ALTER TABLE audit_events {'ENABLE' if on else 'DISABLE'} TRIGGER audit_events_no_update")
    elif dialect == "sqlite" and on:
        for statement in SQLITE_AUDIT_GUARD:
            op.execute(statement)
    elif dialect == "sqlite":
        op.execute("DROP TRIGGER IF EXISTS audit_events_no_update")
        op.execute("DROP TRIGGER IF EXISTS audit_events_no_delete")


def _chain_existing_rows() -> None:
    bind, key = op.get_bind(), current_app.config["AUDIT_HMAC_KEY"].encode()
    audit = sa.table('audit_events', sa.column('id', sa.Integer()), sa.column('chain_position', sa.Integer()),
                     sa.column('mac', sa.String()), sa.column('occurred_at', UTCDateTime()),
                     *(sa.column(name) for name in FIELDS if name != 'occurred_at'))
    chain = (audit.update().where(audit.c.id == sa.bindparam('row_id'))
             .values(chain_position=sa.bindparam('new_position'), mac=sa.bindparam('new_mac')))
    position, mac, last_id = 0, GENESIS, 0
    while True:
        rows = bind.execute(sa.select(audit).where(audit.c.id > last_id).order_by(audit.c.id).limit(BATCH)).all()
        if not rows:
            break
        links = []
        for row in rows:
            position += 1
            mac = link_mac(key, mac, position, row._mapping)
            links.append({'row_id': row.id, 'new_position': position, 'new_mac': mac})
        bind.execute(chain, links)
        last_id = rows[-1].id
    head = sa.table('audit_chain_head', sa.column('id'), sa.column('position'), sa.column('mac'), sa.column('seal'))
    bind.execute(head.insert().values(id=1, position=position, mac=mac, seal=head_seal(key, position, mac)))


def upgrade():
    dialect = op.get_bind().dialect.name
    op.create_table('audit_chain_head',
    sa.Column('id', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('mac', sa.String(length=64), nullable=False),
    sa.Column('seal', sa.String(length=64), nullable=False),
    sa.CheckConstraint('id = 1', name=op.f('ck_audit_chain_head_single_row')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_audit_chain_head'))
    )
    with op.batch_alter_table('audit_events', schema=None) as batch_op:
        batch_op.add_column(sa.Column('chain_position', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('mac', sa.String(length=64), nullable=True))
    _audit_guard(dialect, on=False)
    _chain_existing_rows()
    with op.batch_alter_table('audit_events', schema=None) as batch_op:
        batch_op.alter_column('chain_position', existing_type=sa.Integer(), nullable=False)
        batch_op.alter_column('mac', existing_type=sa.String(length=64), nullable=False)
        batch_op.create_unique_constraint(batch_op.f('uq_audit_events_chain_position'), ['chain_position'])
    _audit_guard(dialect, on=True)
    for statement in {"postgresql": POSTGRES_HEAD_GUARD, "sqlite": SQLITE_HEAD_GUARD}.get(dialect, ()):
        op.execute(statement)


def downgrade():
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        _audit_guard(dialect, on=False)  # the rebuilt table would lose them anyway
    with op.batch_alter_table('audit_events', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('uq_audit_events_chain_position'), type_='unique')
        batch_op.drop_column('mac')
        batch_op.drop_column('chain_position')
    if dialect == "sqlite":
        _audit_guard(dialect, on=True)
    op.drop_table('audit_chain_head')
    if dialect == "postgresql":
        op.execute("DROP FUNCTION IF EXISTS audit_chain_head_forward_only()")
