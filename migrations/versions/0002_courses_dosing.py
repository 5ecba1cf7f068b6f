"""protocol versions, treatment courses, dosing sessions, appointments

Revision ID: 0002_courses_dosing
Revises: 0001_foundation
Create Date: 2026-11-21 10:09:57.027500

"""
from alembic import op
import sqlalchemy as sa

from ketamine_integration.db_types import UTCDateTime  # noqa: F401


# revision identifiers, used by Alembic.
revision = '0002_courses_dosing'
down_revision = '0001_foundation'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('protocol_versions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('protocol_id', sa.String(length=60), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=120), nullable=False),
    sa.Column('content_hash', sa.String(length=64), nullable=False),
    sa.Column('definition_json', sa.Text(), nullable=False),
    sa.Column('source_file', sa.String(length=200), nullable=False),
    sa.Column('registered_at', UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_protocol_versions')),
    sa.UniqueConstraint('protocol_id', 'version', name=op.f('uq_protocol_versions_protocol_id_version'))
    )
    op.create_table('treatment_courses',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('patient_id', sa.Integer(), nullable=False),
    sa.Column('protocol_version_id', sa.Integer(), nullable=False),
    sa.Column('indication', sa.String(length=200), nullable=False),
    sa.Column('start_date', sa.Date(), nullable=False),
    sa.Column('therapist_id', sa.Integer(), nullable=False),
    sa.Column('prescriber_id', sa.Integer(), nullable=False),
    sa.Column('phase', sa.String(length=20), nullable=False),
    sa.Column('phase_since', UTCDateTime(), nullable=False),
    sa.Column('created_at', UTCDateTime(), nullable=False),
    sa.Column('created_by_id', sa.Integer(), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.CheckConstraint("phase IN ('preparation', 'experience', 'integration', 'maintenance', 'completed', 'discontinued')", name=op.f('ck_treatment_courses_known_phase')),
    sa.ForeignKeyConstraint(['created_by_id'], ['users.id'], name=op.f('fk_treatment_courses_created_by_id_users')),
    sa.ForeignKeyConstraint(['patient_id'], ['patients.id'], name=op.f('fk_treatment_courses_patient_id_patients')),
    sa.ForeignKeyConstraint(['prescriber_id'], ['users.id'], name=op.f('fk_treatment_courses_prescriber_id_users')),
    sa.ForeignKeyConstraint(['protocol_version_id'], ['protocol_versions.id'], name=op.f('fk_treatment_courses_protocol_version_id_protocol_versions')),
    sa.ForeignKeyConstraint(['therapist_id'], ['users.id'], name=op.f('fk_treatment_courses_therapist_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_treatment_courses'))
    )
    with op.batch_alter_table('treatment_courses', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_treatment_courses_patient_id'), ['patient_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_treatment_courses_protocol_version_id'), ['protocol_version_id'], unique=False)

    op.create_table('appointments',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('patient_id', sa.Integer(), nullable=False),
    sa.Column('course_id', sa.Integer(), nullable=True),
    sa.Column('clinician_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('starts_at', UTCDateTime(), nullable=False),
    sa.Column('ends_at', UTCDateTime(), nullable=False),
    sa.Column('modality', sa.String(length=12), nullable=False),
    sa.Column('status', sa.String(length=12), nullable=False),
    sa.Column('cancel_reason', sa.String(length=300), nullable=True),
    sa.Column('created_at', UTCDateTime(), nullable=False),
    sa.Column('created_by_id', sa.Integer(), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.CheckConstraint("kind IN ('preparation', 'integration', 'follow_up')", name=op.f('ck_appointments_known_kind')),
    sa.CheckConstraint("status IN ('booked', 'attended', 'no_show', 'cancelled')", name=op.f('ck_appointments_known_status')),
    sa.CheckConstraint('ends_at > starts_at', name=op.f('ck_appointments_ends_after_start')),
    sa.ForeignKeyConstraint(['clinician_id'], ['users.id'], name=op.f('fk_appointments_clinician_id_users')),
    sa.ForeignKeyConstraint(['course_id'], ['treatment_courses.id'], name=op.f('fk_appointments_course_id_treatment_courses')),
    sa.ForeignKeyConstraint(['created_by_id'], ['users.id'], name=op.f('fk_appointments_created_by_id_users')),
    sa.ForeignKeyConstraint(['patient_id'], ['patients.id'], name=op.f('fk_appointments_patient_id_patients')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_appointments'))
    )
    with op.batch_alter_table('appointments', schema=None) as batch_op:
        batch_op.create_index('ix_appointments_clinician_time', ['clinician_id', 'starts_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_appointments_course_id'), ['course_id'], unique=False)
        batch_op.create_index('ix_appointments_patient_time', ['patient_id', 'starts_at'], unique=False)

    op.create_table('dosing_sessions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('course_id', sa.Integer(), nullable=False),
    sa.Column('sequence', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=12), nullable=False),
    sa.Column('planned_start', UTCDateTime(), nullable=True),
    sa.Column('spacing_override_reason', sa.Text(), nullable=True),
    sa.Column('started_at', UTCDateTime(), nullable=True),
    sa.Column('ended_at', UTCDateTime(), nullable=True),
    sa.Column('route', sa.String(length=20), nullable=True),
    sa.Column('medication', sa.String(length=20), nullable=True),
    sa.Column('dose_mg', sa.Numeric(precision=7, scale=2), nullable=True),
    sa.Column('dose_mg_per_kg', sa.Numeric(precision=5, scale=3), nullable=True),
    sa.Column('weight_kg', sa.Numeric(precision=5, scale=1), nullable=True),
    sa.Column('lot_number', sa.String(length=40), nullable=True),
    sa.Column('administered_by_id', sa.Integer(), nullable=True),
    sa.Column('monitored_by_id', sa.Integer(), nullable=True),
    sa.Column('sedation', sa.String(length=10), nullable=True),
    sa.Column('dissociation', sa.String(length=10), nullable=True),
    sa.Column('concomitant_sedating_medications', sa.String(length=500), nullable=True),
    sa.Column('monitoring_minutes', sa.Integer(), nullable=True),
    sa.Column('discharged_at', UTCDateTime(), nullable=True),
    sa.Column('discharge_ready', sa.Boolean(), nullable=True),
    sa.Column('ready_to_leave_at', UTCDateTime(), nullable=True),
    sa.Column('vitals_acceptable_before_dosing', sa.Boolean(), nullable=True),
    sa.Column('vitals_acceptable_before_discharge', sa.Boolean(), nullable=True),
    sa.Column('rems_submitted_on', sa.Date(), nullable=True),
    sa.Column('rems_submitted_by_id', sa.Integer(), nullable=True),
    sa.Column('cancel_reason', sa.String(length=300), nullable=True),
    sa.Column('signed_at', UTCDateTime(), nullable=True),
    sa.Column('signed_by_id', sa.Integer(), nullable=True),
    sa.Column('content_digest', sa.String(length=64), nullable=True),
    sa.Column('created_at', UTCDateTime(), nullable=False),
    sa.Column('updated_at', UTCDateTime(), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.CheckConstraint("status IN ('planned', 'draft', 'signed', 'cancelled')", name=op.f('ck_dosing_sessions_known_status')),
    sa.CheckConstraint('ended_at IS NULL OR started_at IS NULL OR ended_at > started_at', name=op.f('ck_dosing_sessions_ends_after_start')),
    sa.ForeignKeyConstraint(['administered_by_id'], ['users.id'], name=op.f('fk_dosing_sessions_administered_by_id_users')),
    sa.ForeignKeyConstraint(['course_id'], ['treatment_courses.id'], name=op.f('fk_dosing_sessions_course_id_treatment_courses')),
    sa.ForeignKeyConstraint(['monitored_by_id'], ['users.id'], name=op.f('fk_dosing_sessions_monitored_by_id_users')),
    sa.ForeignKeyConstraint(['rems_submitted_by_id'], ['users.id'], name=op.f('fk_dosing_sessions_rems_submitted_by_id_users')),
    sa.ForeignKeyConstraint(['signed_by_id'], ['users.id'], name=op.f('fk_dosing_sessions_signed_by_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_dosing_sessions')),
    sa.UniqueConstraint('course_id', 'sequence', name=op.f('uq_dosing_sessions_course_id_sequence'))
    )
    with op.batch_alter_table('dosing_sessions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_dosing_sessions_course_id'), ['course_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_dosing_sessions_ended_at'), ['ended_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_dosing_sessions_started_at'), ['started_at'], unique=False)

    op.create_table('phase_transitions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('course_id', sa.Integer(), nullable=False),
    sa.Column('from_phase', sa.String(length=20), nullable=True),
    sa.Column('to_phase', sa.String(length=20), nullable=False),
    sa.Column('occurred_at', UTCDateTime(), nullable=False),
    sa.Column('by_user_id', sa.Integer(), nullable=False),
    sa.Column('reason', sa.Text(), nullable=True),
    sa.Column('overridden', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['by_user_id'], ['users.id'], name=op.f('fk_phase_transitions_by_user_id_users')),
    sa.ForeignKeyConstraint(['course_id'], ['treatment_courses.id'], name=op.f('fk_phase_transitions_course_id_treatment_courses')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_phase_transitions'))
    )
    with op.batch_alter_table('phase_transitions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_phase_transitions_course_id'), ['course_id'], unique=False)

    op.create_table('preparation_records',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('course_id', sa.Integer(), nullable=False),
    sa.Column('item', sa.String(length=40), nullable=False),
    sa.Column('completed_on', sa.Date(), nullable=False),
    sa.Column('note', sa.String(length=300), nullable=True),
    sa.Column('recorded_at', UTCDateTime(), nullable=False),
    sa.Column('recorded_by_id', sa.Integer(), nullable=False),
    sa.Column('voided_at', UTCDateTime(), nullable=True),
    sa.Column('voided_by_id', sa.Integer(), nullable=True),
    sa.Column('void_reason', sa.String(length=300), nullable=True),
    sa.ForeignKeyConstraint(['course_id'], ['treatment_courses.id'], name=op.f('fk_preparation_records_course_id_treatment_courses')),
    sa.ForeignKeyConstraint(['recorded_by_id'], ['users.id'], name=op.f('fk_preparation_records_recorded_by_id_users')),
    sa.ForeignKeyConstraint(['voided_by_id'], ['users.id'], name=op.f('fk_preparation_records_voided_by_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_preparation_records'))
    )
    with op.batch_alter_table('preparation_records', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_preparation_records_course_id'), ['course_id'], unique=False)
        batch_op.create_index('uq_preparation_records_live_item', ['course_id', 'item'], unique=True, sqlite_where=sa.text("voided_at IS NULL AND item != 'preparation_session'"), postgresql_where=sa.text("voided_at IS NULL AND item != 'preparation_session'"))

    op.create_table('adverse_events',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('dosing_session_id', sa.Integer(), nullable=False),
    sa.Column('event_type', sa.String(length=60), nullable=False),
    sa.Column('severity', sa.String(length=10), nullable=False),
    sa.Column('action_taken', sa.String(length=300), nullable=True),
    sa.ForeignKeyConstraint(['dosing_session_id'], ['dosing_sessions.id'], name=op.f('fk_adverse_events_dosing_session_id_dosing_sessions')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_adverse_events'))
    )
    with op.batch_alter_table('adverse_events', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_adverse_events_dosing_session_id'), ['dosing_session_id'], unique=False)

    op.create_table('dosing_addenda',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('dosing_session_id', sa.Integer(), nullable=False),
    sa.Column('author_id', sa.Integer(), nullable=False),
    sa.Column('created_at', UTCDateTime(), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(['author_id'], ['users.id'], name=op.f('fk_dosing_addenda_author_id_users')),
    sa.ForeignKeyConstraint(['dosing_session_id'], ['dosing_sessions.id'], name=op.f('fk_dosing_addenda_dosing_session_id_dosing_sessions')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_dosing_addenda'))
    )
    with op.batch_alter_table('dosing_addenda', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_dosing_addenda_dosing_session_id'), ['dosing_session_id'], unique=False)

    op.create_table('vital_signs',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('dosing_session_id', sa.Integer(), nullable=False),
    sa.Column('timepoint', sa.String(length=12), nullable=False),
    sa.Column('systolic', sa.Integer(), nullable=True),
    sa.Column('diastolic', sa.Integer(), nullable=True),
    sa.Column('heart_rate', sa.Integer(), nullable=True),
    sa.Column('spo2', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['dosing_session_id'], ['dosing_sessions.id'], name=op.f('fk_vital_signs_dosing_session_id_dosing_sessions')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_vital_signs')),
    sa.UniqueConstraint('dosing_session_id', 'timepoint', name=op.f('uq_vital_signs_dosing_session_id_timepoint'))
    )
    with op.batch_alter_table('vital_signs', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_vital_signs_dosing_session_id'), ['dosing_session_id'], unique=False)



def downgrade():
    with op.batch_alter_table('vital_signs', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_vital_signs_dosing_session_id'))

    op.drop_table('vital_signs')
    with op.batch_alter_table('dosing_addenda', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_dosing_addenda_dosing_session_id'))

    op.drop_table('dosing_addenda')
    with op.batch_alter_table('adverse_events', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_adverse_events_dosing_session_id'))

    op.drop_table('adverse_events')
    with op.batch_alter_table('preparation_records', schema=None) as batch_op:
        batch_op.drop_index('uq_preparation_records_live_item', sqlite_where=sa.text("voided_at IS NULL AND item != 'preparation_session'"), postgresql_where=sa.text("voided_at IS NULL AND item != 'preparation_session'"))
        batch_op.drop_index(batch_op.f('ix_preparation_records_course_id'))

    op.drop_table('preparation_records')
    with op.batch_alter_table('phase_transitions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_phase_transitions_course_id'))

    op.drop_table('phase_transitions')
    with op.batch_alter_table('dosing_sessions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_dosing_sessions_started_at'))
        batch_op.drop_index(batch_op.f('ix_dosing_sessions_ended_at'))
        batch_op.drop_index(batch_op.f('ix_dosing_sessions_course_id'))

    op.drop_table('dosing_sessions')
    with op.batch_alter_table('appointments', schema=None) as batch_op:
        batch_op.drop_index('ix_appointments_patient_time')
        batch_op.drop_index(batch_op.f('ix_appointments_course_id'))
        batch_op.drop_index('ix_appointments_clinician_time')

    op.drop_table('appointments')
    with op.batch_alter_table('treatment_courses', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_treatment_courses_protocol_version_id'))
        batch_op.drop_index(batch_op.f('ix_treatment_courses_patient_id'))

    op.drop_table('treatment_courses')
    op.drop_table('protocol_versions')
