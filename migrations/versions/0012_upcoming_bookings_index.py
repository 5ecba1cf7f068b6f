"""partial index of booked appointments by start, for the upcoming bookings lists

Revision ID: 0012_upcoming_bookings_index
Revises: 0011_audit_chain
Create Date: 2026-11-21 18:20:00

The staff worklist asks for every future booking that clashes with time off or imported busy
time (status = 'booked' AND starts_at >= now). Without this index both engines read the whole
appointments table for it, a cost that grows with every year of sessions (bench/, issue 10).
Partial (booked rows only): a plain (status, starts_at) index drew SQLite's planner away from
the course index for "this course's booked or held sessions", a much worse plan.
"""
from alembic import op
import sqlalchemy as sa

BOOKED = sa.text("status = 'booked'")


# revision identifiers, used by Alembic.
revision = '0012_upcoming_bookings_index'
down_revision = '0011_audit_chain'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('appointments', schema=None) as batch_op:
        batch_op.create_index('ix_appointments_booked_time', ['starts_at'], unique=False,
                              sqlite_where=BOOKED, postgresql_where=BOOKED)


def downgrade():
    with op.batch_alter_table('appointments', schema=None) as batch_op:
        batch_op.drop_index('ix_appointments_booked_time')
