"""rooms, working hours, time off, appointment history

Revision ID: 0004_availability
Revises: 0003_immutable_records
Create Date: 2026-11-21 10:47:36.239410

"""
from alembic import op
import sqlalchemy as sa

from ketamine_integration.db_types import UTCDateTime  # noqa: F401


# revision identifiers, used by Alembic.
revision = '0004_availability'
down_revision = '0003_immutable_records'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('rooms',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=60), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_rooms')),
    sa.UniqueConstraint('name', name=op.f('uq_rooms_name'))
    )
    op.create_table('time_off',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('clinician_id', sa.Integer(), nullable=False),
    sa.Column('starts_at', UTCDateTime(), nullable=False),
    sa.Column('ends_at', UTCDateTime(), nullable=False),
    sa.Column('reason', sa.String(length=120), nullable=True),
    sa.CheckConstraint('ends_at > starts_at', name=op.f('ck_time_off_ends_after_start')),
    sa.ForeignKeyConstraint(['clinician_id'], ['users.id'], name=op.f('fk_time_off_clinician_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_time_off'))
    )
    with op.batch_alter_table('time_off', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_time_off_clinician_id'), ['clinician_id'], unique=False)

    op.create_table('working_hours',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('clinician_id', sa.Integer(), nullable=False),
    sa.Column('weekday', sa.Integer(), nullable=False),
    sa.Column('starts', sa.Time(), nullable=False),
    sa.Column('ends', sa.Time(), nullable=False),
    sa.CheckConstraint('ends > starts', name=op.f('ck_working_hours_ends_after_start')),
    sa.CheckConstraint('weekday BETWEEN 0 AND 6', name=op.f('ck_working_hours_weekday')),
    sa.ForeignKeyConstraint(['clinician_id'], ['users.id'], name=op.f('fk_working_hours_clinician_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_working_hours')),
    sa.UniqueConstraint('clinician_id', 'weekday', 'starts', name=op.f('uq_working_hours_clinician_id_weekday_starts'))
    )
    with op.batch_alter_table('working_hours', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_working_hours_clinician_id'), ['clinician_id'], unique=False)

    op.create_table('appointment_changes',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('appointment_id', sa.Integer(), nullable=False),
    sa.Column('change', sa.String(length=12), nullable=False),
    sa.Column('occurred_at', UTCDateTime(), nullable=False),
    sa.Column('by_user_id', sa.Integer(), nullable=False),
    sa.Column('previous_start', UTCDateTime(), nullable=True),
    sa.Column('reason', sa.String(length=300), nullable=True),
    sa.CheckConstraint("change IN ('booked', 'rescheduled', 'cancelled', 'attended', 'no_show')", name=op.f('ck_appointment_changes_known_change')),
    sa.ForeignKeyConstraint(['appointment_id'], ['appointments.id'], name=op.f('fk_appointment_changes_appointment_id_appointments')),
    sa.ForeignKeyConstraint(['by_user_id'], ['users.id'], name=op.f('fk_appointment_changes_by_user_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_appointment_changes'))
    )
    with op.batch_alter_table('appointment_changes', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_appointment_changes_appointment_id'), ['appointment_id'], unique=False)

    with op.batch_alter_table('appointments', schema=None) as batch_op:
        batch_op.add_column(sa.Column('room_id', sa.Integer(), nullable=True))
        batch_op.create_foreign_key(batch_op.f('fk_appointments_room_id_rooms'), 'rooms', ['room_id'], ['id'])



def downgrade():
    with op.batch_alter_table('appointments', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_appointments_room_id_rooms'), type_='foreignkey')
        batch_op.drop_column('room_id')

    with op.batch_alter_table('appointment_changes', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_appointment_changes_appointment_id'))

    op.drop_table('appointment_changes')
    with op.batch_alter_table('working_hours', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_working_hours_clinician_id'))

    op.drop_table('working_hours')
    with op.batch_alter_table('time_off', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_time_off_clinician_id'))

    op.drop_table('time_off')
    op.drop_table('rooms')
