"""journal: when an entry was first shared, so its words stay as the therapist may have read them

Revision ID: 0042_journal_first_shared
Revises: 0038_portal_accounts
Create Date: 2026-12-04 22:30:00

Issue 23, point 4 (attacker review): a patient could withdraw a share, rewrite the entry and share it
again under the same id and date, so a quote in a note ("journal entry of 4 December") no longer matched
the entry it names. `first_shared_at` is set by the first share and never cleared; an entry that has
one is not edited again (journal/services.py edit_entry): the patient writes a new entry instead.
Existing rows: an entry shared now gets its `shared_at`. (An entry shared and withdrawn before this
migration cannot be told apart from one never shared; there were none outside this session's demo.)
"""
from alembic import op
import sqlalchemy as sa

from ketamine_integration.db.types import UTCDateTime


# revision identifiers, used by Alembic.
revision = '0042_journal_first_shared'
down_revision = '0038_portal_accounts'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('journal_entries', schema=None) as batch_op:
        batch_op.add_column(sa.Column('first_shared_at', UTCDateTime(), nullable=True))
    op.execute("UPDATE journal_entries SET first_shared_at = shared_at WHERE shared_at IS NOT NULL")


def downgrade():
    with op.batch_alter_table('journal_entries', schema=None) as batch_op:
        batch_op.drop_column('first_shared_at')
