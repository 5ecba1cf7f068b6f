"""stored integration windows: one row per signed dosing session

Revision ID: 0013_integration_windows
Revises: 0012_upcoming_bookings_index
Create Date: 2026-11-21 21:00:00

Derived data (ketamine_integration/experience/window_store.py): each signed dosing session's
window bounds and coverage, rewritten whenever a course's dosing sessions, integration
bookings or protocol version change, so the staff worklist and the caseload lists read the
open windows instead of working out every course's history on each request (issue 10).
The table starts empty: courses without rows are worked out as before, so nothing depends
on filling it here. `flask windows rebuild` fills it for the records already there.
"""
from alembic import op
import sqlalchemy as sa

from ketamine_integration.db_types import UTCDateTime


# revision identifiers, used by Alembic.
revision = '0013_integration_windows'
down_revision = '0012_upcoming_bookings_index'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'integration_windows',
        sa.Column('dosing_session_id', sa.Integer(), nullable=False),
        sa.Column('course_id', sa.Integer(), nullable=False),
        sa.Column('protocol_version_id', sa.Integer(), nullable=False),
        sa.Column('zone', sa.String(length=64), nullable=False),
        sa.Column('opens', UTCDateTime(), nullable=False),
        sa.Column('optimal_until', UTCDateTime(), nullable=False),
        sa.Column('closes', UTCDateTime(), nullable=False),
        sa.Column('covered', sa.Boolean(), nullable=False),
        sa.Column('covered_optimally', sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(['course_id'], ['treatment_courses.id'],
                                name=op.f('fk_integration_windows_course_id_treatment_courses')),
        sa.ForeignKeyConstraint(['dosing_session_id'], ['dosing_sessions.id'],
                                name=op.f('fk_integration_windows_dosing_session_id_dosing_sessions')),
        sa.ForeignKeyConstraint(['protocol_version_id'], ['protocol_versions.id'],
                                name=op.f('fk_integration_windows_protocol_version_id_protocol_versions')),
        sa.PrimaryKeyConstraint('dosing_session_id', name=op.f('pk_integration_windows')),
    )
    with op.batch_alter_table('integration_windows', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_integration_windows_course_id'), ['course_id'], unique=False)


def downgrade():
    with op.batch_alter_table('integration_windows', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_integration_windows_course_id'))
    op.drop_table('integration_windows')
