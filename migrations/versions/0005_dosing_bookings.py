"""dosing appointments, session types, extra hours

Revision ID: 0005_dosing_bookings
Revises: 0004_availability
Create Date: 2026-11-21 12:00:38.788915

"""
from alembic import op
import sqlalchemy as sa

from ketamine_integration.db_types import UTCDateTime  # noqa: F401


# revision identifiers, used by Alembic.
revision = '0005_dosing_bookings'
down_revision = '0004_availability'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('extra_hours',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('clinician_id', sa.Integer(), nullable=False),
    sa.Column('starts_at', UTCDateTime(), nullable=False),
    sa.Column('ends_at', UTCDateTime(), nullable=False),
    sa.Column('reason', sa.String(length=120), nullable=True),
    sa.CheckConstraint('ends_at > starts_at', name=op.f('ck_extra_hours_ends_after_start')),
    sa.ForeignKeyConstraint(['clinician_id'], ['users.id'], name=op.f('fk_extra_hours_clinician_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_extra_hours'))
    )
    with op.batch_alter_table('extra_hours', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_extra_hours_clinician_id'), ['clinician_id'], unique=False)

    op.create_table('session_types',
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('default_minutes', sa.Integer(), nullable=False),
    sa.Column('updated_at', UTCDateTime(), nullable=False),
    sa.Column('updated_by_id', sa.Integer(), nullable=False),
    sa.CheckConstraint("kind IN ('preparation', 'dosing', 'integration', 'follow_up')", name=op.f('ck_session_types_known_kind')),
    sa.CheckConstraint('default_minutes BETWEEN 10 AND 480', name=op.f('ck_session_types_minutes_in_range')),
    sa.ForeignKeyConstraint(['updated_by_id'], ['users.id'], name=op.f('fk_session_types_updated_by_id_users')),
    sa.PrimaryKeyConstraint('kind', name=op.f('pk_session_types'))
    )
    with op.batch_alter_table('appointments', schema=None) as batch_op:
        batch_op.add_column(sa.Column('dosing_session_id', sa.Integer(), nullable=True))
        batch_op.create_unique_constraint(batch_op.f('uq_appointments_dosing_session_id'), ['dosing_session_id'])
        batch_op.create_foreign_key(batch_op.f('fk_appointments_dosing_session_id_dosing_sessions'), 'dosing_sessions', ['dosing_session_id'], ['id'])
        batch_op.drop_constraint(op.f('ck_appointments_known_kind'), type_='check')
        batch_op.create_check_constraint('known_kind', "kind IN ('preparation', 'dosing', 'integration', 'follow_up')")
        batch_op.create_check_constraint('dosing_has_session', "(kind = 'dosing' AND dosing_session_id IS NOT NULL) "
                                         "OR (kind <> 'dosing' AND dosing_session_id IS NULL)")



def downgrade():
    # Dosing bookings cannot be expressed in the old schema: they go (their sessions stay).
    op.execute("DELETE FROM appointment_changes WHERE appointment_id IN "
               "(SELECT id FROM appointments WHERE kind = 'dosing')")
    op.execute("DELETE FROM appointments WHERE kind = 'dosing'")
    with op.batch_alter_table('appointments', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_appointments_dosing_has_session'), type_='check')
        batch_op.drop_constraint(op.f('ck_appointments_known_kind'), type_='check')
        batch_op.create_check_constraint('known_kind', "kind IN ('preparation', 'integration', 'follow_up')")
        batch_op.drop_constraint(batch_op.f('fk_appointments_dosing_session_id_dosing_sessions'), type_='foreignkey')
        batch_op.drop_constraint(batch_op.f('uq_appointments_dosing_session_id'), type_='unique')
        batch_op.drop_column('dosing_session_id')

    op.drop_table('session_types')
    with op.batch_alter_table('extra_hours', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_extra_hours_clinician_id'))

    op.drop_table('extra_hours')
