"""home pages: when a coordination note's author first saw its answer

Revision ID: 0032_home
Revises: 0031_dosing_note
Create Date: 2026-12-05 09:00:00

Issue 21, point 1: a therapist was not told when a prescriber replied. The home page counts the
answers (acknowledgements, with or without a reply) to the user's own coordination notes that
the user has not seen yet, so it must know which ones the author has seen: one row per note in
`coordination_replies_seen`, written when the author first opens the course's conversation after
the note was answered. A table of its own: `coordination_notes` rows are append-only (migration
0015: only the acknowledgement and reply may still be set), and whether someone read an answer is
bookkeeping, not part of the note.
"""
from alembic import op
import sqlalchemy as sa

from ketamine_integration.db.types import UTCDateTime


# revision identifiers, used by Alembic.
revision = '0032_home'
down_revision = '0031_dosing_note'
branch_labels = None
depends_on = None

TABLE = "coordination_replies_seen"


def upgrade():
    op.create_table(TABLE,
    sa.Column('note_id', sa.Integer(), nullable=False),
    sa.Column('seen_at', UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['note_id'], ['coordination_notes.id'],
                            name=op.f('fk_coordination_replies_seen_note_id_coordination_notes')),
    sa.PrimaryKeyConstraint('note_id', name=op.f('pk_coordination_replies_seen'))
    )


def downgrade():
    op.drop_table(TABLE)
