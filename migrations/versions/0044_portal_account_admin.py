"""patient portal: the clinic turns an account off and on again, and resets its access

Revision ID: 0044_portal_account_admin
Revises: 0043_partial_safety_answers
Create Date: 2026-12-14 09:00:00

Issue 23 (new-user review, point 3): staff manage an accepted portal account from the patient page.
`portal_accounts.turned_off_at / turned_off_by_id / turned_off_why` say, while the account is off
(`active` false), when, by whom and why the clinic turned it off. `portal_invitations.purpose` tells
an invitation (`invite`, every existing row) from a reset link (`reset`), whose use replaces the
password and the second step.

The columns are added in place on both engines (SQLite: each column's own REFERENCES or CHECK
clause, no table rebuild), and dropped the same way (SQLite 3.35+ DROP COLUMN).
"""
from alembic import op
import sqlalchemy as sa

from ketamine_integration.db.types import UTCDateTime


# revision identifiers, used by Alembic.
revision = '0044_portal_account_admin'
down_revision = '0043_partial_safety_answers'
branch_labels = None
depends_on = None

TURNED_OFF_BY = "fk_portal_accounts_turned_off_by_id_users"
KNOWN_PURPOSE = "ck_portal_invitations_known_purpose"
PURPOSE_CHECK = "purpose IN ('invite', 'reset')"


def upgrade():
    dialect = op.get_bind().dialect.name
    op.add_column('portal_accounts', sa.Column('turned_off_at', UTCDateTime(), nullable=True))
    op.add_column('portal_accounts', sa.Column('turned_off_why', sa.String(length=200), nullable=True))
    if dialect == "sqlite":  # a column's own REFERENCES / CHECK clause: no rebuild
        op.execute(f"ALTER TABLE portal_accounts ADD COLUMN turned_off_by_id INTEGER "
                   f"CONSTRAINT {TURNED_OFF_BY} REFERENCES users (id)")
        op.execute(f"ALTER TABLE portal_invitations ADD COLUMN purpose VARCHAR(10) DEFAULT 'invite' NOT NULL "
                   f"CONSTRAINT {KNOWN_PURPOSE} CHECK ({PURPOSE_CHECK})")
    else:
        op.add_column('portal_accounts', sa.Column('turned_off_by_id', sa.Integer(), nullable=True))
        op.create_foreign_key(TURNED_OFF_BY, 'portal_accounts', 'users', ['turned_off_by_id'], ['id'])
        op.add_column('portal_invitations', sa.Column('purpose', sa.String(length=10), nullable=False,
                                                      server_default='invite'))
        op.create_check_constraint(KNOWN_PURPOSE, 'portal_invitations', PURPOSE_CHECK)


def downgrade():
    if op.get_bind().dialect.name == "postgresql":
        op.drop_constraint(KNOWN_PURPOSE, 'portal_invitations', type_="check")
        op.drop_constraint(TURNED_OFF_BY, 'portal_accounts', type_="foreignkey")
    op.drop_column('portal_invitations', 'purpose')
    op.drop_column('portal_accounts', 'turned_off_by_id')
    op.drop_column('portal_accounts', 'turned_off_why')
    op.drop_column('portal_accounts', 'turned_off_at')
