"""journal: the patient's post-dosing journal entries, private until shared one by one

Revision ID: 0040_journal
Revises: 0037_notifications
Create Date: 2026-12-11 09:00:00

Issue 23, point 4. A row of `journal_entries` is one entry a patient wrote: the course and the
dosing session it reflects on, the prompt it answers (one of the experience review's, or "free"), its
text, when it was written and last edited, and `shared_at`: when the patient shared it with their
therapist (NULL: private, never shown on a staff page). Entries are edited while private and never
deleted, so the table is mutable (ketamine_integration/db/append_only.py says why) and has no
append-only triggers.
"""
from alembic import op
import sqlalchemy as sa

from ketamine_integration.db.types import UTCDateTime


# revision identifiers, used by Alembic.
revision = '0040_journal'
down_revision = '0037_notifications'
branch_labels = None
depends_on = None

PROMPTS = ("stood_out", "emotions", "imagery", "surprises", "meaningful", "free")


def upgrade():
    known = ", ".join(f"'{key}'" for key in PROMPTS)
    op.create_table('journal_entries',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('patient_id', sa.Integer(), nullable=False),
    sa.Column('course_id', sa.Integer(), nullable=False),
    sa.Column('dosing_session_id', sa.Integer(), nullable=True),
    sa.Column('prompt', sa.String(length=20), nullable=False),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('written_at', UTCDateTime(), nullable=False),
    sa.Column('edited_at', UTCDateTime(), nullable=True),
    sa.Column('shared_at', UTCDateTime(), nullable=True),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.CheckConstraint(f"prompt IN ({known})", name=op.f('ck_journal_entries_known_prompt')),
    sa.CheckConstraint("prompt = 'free' OR dosing_session_id IS NOT NULL",
                       name=op.f('ck_journal_entries_review_names_its_dose')),
    sa.ForeignKeyConstraint(['course_id'], ['treatment_courses.id'],
                            name=op.f('fk_journal_entries_course_id_treatment_courses')),
    sa.ForeignKeyConstraint(['dosing_session_id'], ['dosing_sessions.id'],
                            name=op.f('fk_journal_entries_dosing_session_id_dosing_sessions')),
    sa.ForeignKeyConstraint(['patient_id'], ['patients.id'], name=op.f('fk_journal_entries_patient_id_patients')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_journal_entries'))
    )
    op.create_index('ix_journal_entries_course_shared', 'journal_entries', ['course_id', 'shared_at'], unique=False)
    op.create_index('ix_journal_entries_patient_written', 'journal_entries', ['patient_id', 'written_at'],
                    unique=False)


def downgrade():
    op.drop_index('ix_journal_entries_patient_written', table_name='journal_entries')
    op.drop_index('ix_journal_entries_course_shared', table_name='journal_entries')
    op.drop_table('journal_entries')
