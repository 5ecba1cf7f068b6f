"""partial index of unsigned session notes by author, for the dashboard's draft counts

Revision ID: 0014_draft_notes_index
Revises: 0013_integration_windows
Create Date: 2026-11-21 21:20:00

The dashboard counts the signed-in clinician's unsigned notes per patient on every visit.
Without this index both engines read every note the author ever wrote, a cost that grows
with each year of signed notes (bench/, issue 10). Partial (drafts only): drafts are few and
are signed within days.
"""
from alembic import op
import sqlalchemy as sa

DRAFT = sa.text("status = 'draft'")


# revision identifiers, used by Alembic.
revision = '0014_draft_notes_index'
down_revision = '0013_integration_windows'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('session_notes', schema=None) as batch_op:
        batch_op.create_index('ix_session_notes_drafts', ['author_id'], unique=False,
                              sqlite_where=DRAFT, postgresql_where=DRAFT)


def downgrade():
    with op.batch_alter_table('session_notes', schema=None) as batch_op:
        batch_op.drop_index('ix_session_notes_drafts')
