"""dosing appointments, session types, extra hours

Revision ID: 0005_dosing_bookings
Revises: 0004_availability
Create Date: 2026-11-21 12:00:38.788915

"""
from datetime import timedelta

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
    book_existing_dosing_sessions()


def book_existing_dosing_sessions():
    """Dosing sessions planned before this revision get their booking: the course's
    prescriber, no room yet (staff assign one by moving it), the planned or recorded times.
    Cancelled sessions get none; signed ones are booked as attended."""
    conn = op.get_bind()
    sessions = sa.table('dosing_sessions', sa.column('id'), sa.column('course_id'), sa.column('status'),
                        sa.column('planned_start', UTCDateTime()), sa.column('started_at', UTCDateTime()),
                        sa.column('ended_at', UTCDateTime()), sa.column('discharged_at', UTCDateTime()),
                        sa.column('created_at', UTCDateTime()))
    courses = sa.table('treatment_courses', sa.column('id'), sa.column('patient_id'), sa.column('prescriber_id'))
    appointments = sa.table('appointments', sa.column('id'), sa.column('patient_id'), sa.column('course_id'),
                            sa.column('clinician_id'), sa.column('kind'), sa.column('dosing_session_id'),
                            sa.column('starts_at', UTCDateTime()), sa.column('ends_at', UTCDateTime()),
                            sa.column('modality'), sa.column('status'), sa.column('created_at', UTCDateTime()),
                            sa.column('created_by_id'), sa.column('version'))
    changes = sa.table('appointment_changes', sa.column('appointment_id'), sa.column('change'),
                       sa.column('occurred_at', UTCDateTime()), sa.column('by_user_id'), sa.column('reason'))
    rows = conn.execute(sa.select(sessions, courses.c.patient_id, courses.c.prescriber_id)
                        .join(courses, courses.c.id == sessions.c.course_id)
                        .where(sessions.c.status != 'cancelled')).mappings().all()
    for row in rows:
        starts = row['started_at'] or row['planned_start']
        if starts is None:
            continue
        ends = row['discharged_at'] or row['ended_at'] or starts + timedelta(minutes=120)
        if ends <= starts:
            ends = starts + timedelta(minutes=120)
        status = 'attended' if row['status'] == 'signed' else 'booked'
        appointment_id = conn.execute(appointments.insert().values(
            patient_id=row['patient_id'], course_id=row['course_id'], clinician_id=row['prescriber_id'],
            kind='dosing', dosing_session_id=row['id'], starts_at=starts, ends_at=ends, modality='in_person',
            status=status, created_at=row['created_at'], created_by_id=row['prescriber_id'], version=1)
            .returning(appointments.c.id)).scalar_one()
        for change in ('booked', 'attended') if status == 'attended' else ('booked',):
            conn.execute(changes.insert().values(appointment_id=appointment_id, change=change,
                                                 occurred_at=row['created_at'], by_user_id=row['prescriber_id'],
                                                 reason='Booked when dosing bookings were introduced'))



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
