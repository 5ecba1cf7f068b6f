"""a clinician's work phone, given on the documents they write

Revision ID: 0054_clinician_contact
Revises: 0050_note_plan_progress
Create Date: 2026-12-05 03:30:00

Issue 25, point 7. A coordination report or a discharge summary names its author and how to reach
them: their email (`users.email`) and their work phone, new here (`users.phone`, optional, set on the
admin's user form; the clinic's phone stands in where a clinician has none). Reports already stored
keep their bytes: only documents generated from now on carry it.
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0054_clinician_contact'
down_revision = '0050_note_plan_progress'
branch_labels = None
depends_on = None


def upgrade():
    op.add_column("users", sa.Column("phone", sa.String(length=40), nullable=True))


def downgrade():
    op.drop_column("users", "phone")
