"""practices: the clinic's practice vocabulary, practices assigned to a course, the patient's logs,
and the patient's check-ins on action steps

Revision ID: 0039_practices
Revises: 0041_patient_questionnaires
Create Date: 2026-12-14 09:00:00

Issue 23, points 5 and 6. `practices` is the clinic's vocabulary of self-guided practices: the
defaults (journaling, meditation and breathwork, movement, creative expression, time in nature,
social connection) get a row the first time they are assigned or archived, the clinic's own when
the admin adds them; none is ever deleted. `practice_assignments` holds a practice assigned to a
course, how often (times a day or a week) and over which days; it is ended once, never rewritten.
`practice_logs` (one per occurrence) and `patient_step_check_ins` (one per action step and day)
are what the patient writes between sessions: append-only, triggers on both engines refuse
UPDATE and DELETE (ketamine_integration/db/append_only.py classifies the tables).
"""
from alembic import op
import sqlalchemy as sa

from ketamine_integration.db.types import UTCDateTime


# revision identifiers, used by Alembic.
revision = '0039_practices'
down_revision = '0041_patient_questionnaires'
branch_labels = None
depends_on = None

APPEND_ONLY = ("practice_logs", "patient_step_check_ins")


def upgrade():
    op.create_table('practices',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('key', sa.String(length=40), nullable=False),
    sa.Column('name', sa.String(length=80), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('created_at', UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_practices')),
    sa.UniqueConstraint('key', name=op.f('uq_practices_key')),
    sa.UniqueConstraint('name', name=op.f('uq_practices_name'))
    )
    op.create_table('practice_assignments',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('course_id', sa.Integer(), nullable=False),
    sa.Column('patient_id', sa.Integer(), nullable=False),
    sa.Column('practice_id', sa.Integer(), nullable=False),
    sa.Column('times', sa.Integer(), nullable=False),
    sa.Column('per', sa.String(length=5), nullable=False),
    sa.Column('starts_on', sa.Date(), nullable=False),
    sa.Column('ends_on', sa.Date(), nullable=False),
    sa.Column('instructions', sa.String(length=500), nullable=True),
    sa.Column('assigned_by_id', sa.Integer(), nullable=False),
    sa.Column('assigned_at', UTCDateTime(), nullable=False),
    sa.Column('from_note_id', sa.Integer(), nullable=True),
    sa.Column('ended_on', sa.Date(), nullable=True),
    sa.Column('ended_by_id', sa.Integer(), nullable=True),
    sa.Column('ended_at', UTCDateTime(), nullable=True),
    sa.CheckConstraint("per IN ('day', 'week')", name=op.f('ck_practice_assignments_known_per')),
    sa.CheckConstraint('times >= 1', name=op.f('ck_practice_assignments_at_least_once')),
    sa.CheckConstraint('ends_on >= starts_on', name=op.f('ck_practice_assignments_ordered_period')),
    sa.CheckConstraint('(ended_on IS NULL AND ended_by_id IS NULL AND ended_at IS NULL) OR '
                       '(ended_on IS NOT NULL AND ended_by_id IS NOT NULL AND ended_at IS NOT NULL)',
                       name=op.f('ck_practice_assignments_ended_by_someone')),
    sa.ForeignKeyConstraint(['assigned_by_id'], ['users.id'],
                            name=op.f('fk_practice_assignments_assigned_by_id_users')),
    sa.ForeignKeyConstraint(['course_id'], ['treatment_courses.id'],
                            name=op.f('fk_practice_assignments_course_id_treatment_courses')),
    sa.ForeignKeyConstraint(['ended_by_id'], ['users.id'], name=op.f('fk_practice_assignments_ended_by_id_users')),
    sa.ForeignKeyConstraint(['from_note_id'], ['session_notes.id'],
                            name=op.f('fk_practice_assignments_from_note_id_session_notes')),
    sa.ForeignKeyConstraint(['patient_id'], ['patients.id'], name=op.f('fk_practice_assignments_patient_id_patients')),
    sa.ForeignKeyConstraint(['practice_id'], ['practices.id'],
                            name=op.f('fk_practice_assignments_practice_id_practices')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_practice_assignments'))
    )
    op.create_index('ix_practice_assignments_course', 'practice_assignments', ['course_id', 'starts_on'])
    op.create_index(op.f('ix_practice_assignments_patient_id'), 'practice_assignments', ['patient_id'])
    op.create_table('practice_logs',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('assignment_id', sa.Integer(), nullable=False),
    sa.Column('patient_id', sa.Integer(), nullable=False),
    sa.Column('for_date', sa.Date(), nullable=False),
    sa.Column('occurrence', sa.Integer(), nullable=False),
    sa.Column('outcome', sa.String(length=10), nullable=False),
    sa.Column('note', sa.String(length=500), nullable=True),
    sa.Column('logged_at', UTCDateTime(), nullable=False),
    sa.CheckConstraint("outcome IN ('done', 'partly', 'not')", name=op.f('ck_practice_logs_known_outcome')),
    sa.CheckConstraint('occurrence >= 1', name=op.f('ck_practice_logs_counted_from_one')),
    sa.ForeignKeyConstraint(['assignment_id'], ['practice_assignments.id'],
                            name=op.f('fk_practice_logs_assignment_id_practice_assignments')),
    sa.ForeignKeyConstraint(['patient_id'], ['patients.id'], name=op.f('fk_practice_logs_patient_id_patients')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_practice_logs')),
    sa.UniqueConstraint('assignment_id', 'for_date', 'occurrence', name='uq_practice_logs_occurrence')
    )
    op.create_index(op.f('ix_practice_logs_assignment_id'), 'practice_logs', ['assignment_id'])
    op.create_table('patient_step_check_ins',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('action_step_id', sa.Integer(), nullable=False),
    sa.Column('patient_id', sa.Integer(), nullable=False),
    sa.Column('for_date', sa.Date(), nullable=False),
    sa.Column('progress', sa.String(length=10), nullable=False),
    sa.Column('obstacles', sa.String(length=500), nullable=True),
    sa.Column('recorded_at', UTCDateTime(), nullable=False),
    sa.CheckConstraint("progress IN ('done', 'partly', 'not')",
                       name=op.f('ck_patient_step_check_ins_known_progress')),
    sa.ForeignKeyConstraint(['action_step_id'], ['action_steps.id'],
                            name=op.f('fk_patient_step_check_ins_action_step_id_action_steps')),
    sa.ForeignKeyConstraint(['patient_id'], ['patients.id'],
                            name=op.f('fk_patient_step_check_ins_patient_id_patients')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_patient_step_check_ins')),
    sa.UniqueConstraint('action_step_id', 'for_date', name='uq_patient_step_check_ins_day')
    )
    op.create_index(op.f('ix_patient_step_check_ins_action_step_id'), 'patient_step_check_ins', ['action_step_id'])
    op.create_index(op.f('ix_patient_step_check_ins_patient_id'), 'patient_step_check_ins', ['patient_id'])
    _guard(op.get_bind().dialect.name)


def _guard(dialect: str) -> None:
    """Append-only: every UPDATE and DELETE refused, whatever path tries (as migration 0035)."""
    for table in APPEND_ONLY:
        message = f"{table} rows are append-only"
        if dialect == "postgresql":
            op.execute(f"""CREATE FUNCTION {table}_append_only() RETURNS trigger AS $$
               BEGIN
                 RAISE EXCEPTION '{message}';
               END; $$ LANGUAGE plpgsql""")
            op.execute(f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
                       f"FOR EACH ROW EXECUTE FUNCTION {table}_append_only()")
        elif dialect == "sqlite":
            for when in ("UPDATE", "DELETE"):
                op.execute(f"CREATE TRIGGER {table}_append_only_{when.lower()} BEFORE {when} ON {table} "
                           f"BEGIN SELECT RAISE(ABORT, '{message}'); END")


def downgrade():
    dialect = op.get_bind().dialect.name
    for table in APPEND_ONLY:
        if dialect == "postgresql":
            op.execute(f"DROP TRIGGER IF EXISTS {table}_append_only ON {table}")
            op.execute(f"DROP FUNCTION IF EXISTS {table}_append_only()")
    op.drop_index(op.f('ix_patient_step_check_ins_patient_id'), table_name='patient_step_check_ins')
    op.drop_index(op.f('ix_patient_step_check_ins_action_step_id'), table_name='patient_step_check_ins')
    op.drop_table('patient_step_check_ins')
    op.drop_index(op.f('ix_practice_logs_assignment_id'), table_name='practice_logs')
    op.drop_table('practice_logs')
    op.drop_index(op.f('ix_practice_assignments_patient_id'), table_name='practice_assignments')
    op.drop_index('ix_practice_assignments_course', table_name='practice_assignments')
    op.drop_table('practice_assignments')
    op.drop_table('practices')
