"""calendar feeds, settings, busy-time imports

Revision ID: 0006_calendars
Revises: 0005_dosing_bookings
Create Date: 2026-11-21 12:19:49.365653

"""
from alembic import op
import sqlalchemy as sa

from ketamine_integration.db_types import UTCDateTime  # noqa: F401


# revision identifiers, used by Alembic.
revision = '0006_calendars'
down_revision = '0005_dosing_bookings'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('calendar_feeds',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('token_hint', sa.String(length=8), nullable=False),
    sa.Column('label', sa.String(length=60), nullable=True),
    sa.Column('created_at', UTCDateTime(), nullable=False),
    sa.Column('revoked_at', UTCDateTime(), nullable=True),
    sa.Column('last_used_at', UTCDateTime(), nullable=True),
    sa.Column('window_started_at', UTCDateTime(), nullable=True),
    sa.Column('window_requests', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_calendar_feeds_user_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_calendar_feeds')),
    sa.UniqueConstraint('token_hash', name=op.f('uq_calendar_feeds_token_hash'))
    )
    with op.batch_alter_table('calendar_feeds', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_calendar_feeds_user_id'), ['user_id'], unique=False)

    op.create_table('calendar_imports',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('clinician_id', sa.Integer(), nullable=False),
    sa.Column('filename', sa.String(length=200), nullable=False),
    sa.Column('uploaded_at', UTCDateTime(), nullable=False),
    sa.Column('uploaded_by_id', sa.Integer(), nullable=False),
    sa.Column('covers_from', UTCDateTime(), nullable=False),
    sa.Column('covers_until', UTCDateTime(), nullable=False),
    sa.Column('busy_blocks', sa.Integer(), nullable=False),
    sa.Column('superseded_at', UTCDateTime(), nullable=True),
    sa.CheckConstraint('busy_blocks >= 0', name=op.f('ck_calendar_imports_busy_blocks_not_negative')),
    sa.ForeignKeyConstraint(['clinician_id'], ['users.id'], name=op.f('fk_calendar_imports_clinician_id_users')),
    sa.ForeignKeyConstraint(['uploaded_by_id'], ['users.id'], name=op.f('fk_calendar_imports_uploaded_by_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_calendar_imports'))
    )
    with op.batch_alter_table('calendar_imports', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_calendar_imports_clinician_id'), ['clinician_id'], unique=False)

    op.create_table('clinic_settings',
    sa.Column('key', sa.String(length=40), nullable=False),
    sa.Column('value', sa.String(length=200), nullable=False),
    sa.Column('updated_at', UTCDateTime(), nullable=False),
    sa.Column('updated_by_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['updated_by_id'], ['users.id'], name=op.f('fk_clinic_settings_updated_by_id_users')),
    sa.PrimaryKeyConstraint('key', name=op.f('pk_clinic_settings'))
    )
    op.create_table('imported_busy',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('import_id', sa.Integer(), nullable=False),
    sa.Column('clinician_id', sa.Integer(), nullable=False),
    sa.Column('starts_at', UTCDateTime(), nullable=False),
    sa.Column('ends_at', UTCDateTime(), nullable=False),
    sa.CheckConstraint('ends_at > starts_at', name=op.f('ck_imported_busy_ends_after_start')),
    sa.ForeignKeyConstraint(['clinician_id'], ['users.id'], name=op.f('fk_imported_busy_clinician_id_users')),
    sa.ForeignKeyConstraint(['import_id'], ['calendar_imports.id'], name=op.f('fk_imported_busy_import_id_calendar_imports')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_imported_busy'))
    )
    with op.batch_alter_table('imported_busy', schema=None) as batch_op:
        batch_op.create_index('ix_imported_busy_clinician_time', ['clinician_id', 'starts_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_imported_busy_import_id'), ['import_id'], unique=False)



def downgrade():
    with op.batch_alter_table('imported_busy', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_imported_busy_import_id'))
        batch_op.drop_index('ix_imported_busy_clinician_time')

    op.drop_table('imported_busy')
    op.drop_table('clinic_settings')
    with op.batch_alter_table('calendar_imports', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_calendar_imports_clinician_id'))

    op.drop_table('calendar_imports')
    with op.batch_alter_table('calendar_feeds', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_calendar_feeds_user_id'))

    op.drop_table('calendar_feeds')
