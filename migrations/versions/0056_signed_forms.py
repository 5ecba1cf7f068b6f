"""signed intake and consent forms: the packet a course's protocol asks for, each signed form as its
document and digest, countersignatures, flag reviews, consent withdrawals, tablet signing sessions

Revision ID: 0056_signed_forms
Revises: 0055_record_exports
Create Date: 2026-12-05 21:40:00

Issue 26, points 2-4. A signed form keeps the exact text and answers the patient signed (canonical
JSON) with its SHA-256; it never changes, nor does a countersignature, a prescriber's review of its
flagged answers, a withdrawal, or the packet of forms asked for at enrolment (append-only, as
migration 0055's record exports). A tablet signing session is ended once, and keeps only its token's
SHA-256.
"""
from alembic import op
import sqlalchemy as sa

from ketamine_integration.db.types import UTCDateTime


# revision identifiers, used by Alembic.
revision = '0056_signed_forms'
down_revision = '0055_record_exports'
branch_labels = None
depends_on = None

APPEND_ONLY_TABLES = ("form_packets", "packet_forms", "signed_forms", "form_countersignatures", "form_flag_reviews",
                      "consent_withdrawals")


def upgrade():
    op.create_table('form_packets',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('course_id', sa.Integer(), nullable=False),
    sa.Column('created_at', UTCDateTime(), nullable=False),
    sa.Column('created_by_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['course_id'], ['treatment_courses.id'], name=op.f('fk_form_packets_course_id_treatment_courses')),
    sa.ForeignKeyConstraint(['created_by_id'], ['users.id'], name=op.f('fk_form_packets_created_by_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_form_packets')),
    sa.UniqueConstraint('course_id', name=op.f('uq_form_packets_course_id'))
    )
    op.create_table('signed_forms',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('patient_id', sa.Integer(), nullable=False),
    sa.Column('course_id', sa.Integer(), nullable=False),
    sa.Column('form_id', sa.String(length=60), nullable=False),
    sa.Column('form_version', sa.Integer(), nullable=False),
    sa.Column('form_content_hash', sa.String(length=64), nullable=False),
    sa.Column('kind', sa.String(length=10), nullable=False),
    sa.Column('title', sa.String(length=120), nullable=False),
    sa.Column('document', sa.Text(), nullable=False),
    sa.Column('digest', sa.String(length=64), nullable=False),
    sa.Column('signed_at', UTCDateTime(), nullable=False),
    sa.Column('method', sa.String(length=10), nullable=False),
    sa.Column('typed_name', sa.String(length=200), nullable=False),
    sa.Column('portal_account_id', sa.Integer(), nullable=True),
    sa.Column('witness_id', sa.Integer(), nullable=True),
    sa.CheckConstraint("(method = 'portal' AND portal_account_id IS NOT NULL AND witness_id IS NULL) OR (method = 'in_clinic' AND witness_id IS NOT NULL AND portal_account_id IS NULL)", name=op.f('ck_signed_forms_signer_matches_method')),
    sa.CheckConstraint("kind IN ('consent', 'intake')", name=op.f('ck_signed_forms_known_kind')),
    sa.CheckConstraint("method IN ('portal', 'in_clinic')", name=op.f('ck_signed_forms_known_method')),
    sa.ForeignKeyConstraint(['course_id'], ['treatment_courses.id'], name=op.f('fk_signed_forms_course_id_treatment_courses')),
    sa.ForeignKeyConstraint(['patient_id'], ['patients.id'], name=op.f('fk_signed_forms_patient_id_patients')),
    sa.ForeignKeyConstraint(['portal_account_id'], ['portal_accounts.id'], name=op.f('fk_signed_forms_portal_account_id_portal_accounts')),
    sa.ForeignKeyConstraint(['witness_id'], ['users.id'], name=op.f('fk_signed_forms_witness_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_signed_forms'))
    )
    with op.batch_alter_table('signed_forms', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_signed_forms_course_id'), ['course_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_signed_forms_patient_id'), ['patient_id'], unique=False)

    op.create_table('tablet_signings',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('patient_id', sa.Integer(), nullable=False),
    sa.Column('course_id', sa.Integer(), nullable=False),
    sa.Column('started_by_id', sa.Integer(), nullable=False),
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('started_at', UTCDateTime(), nullable=False),
    sa.Column('expires_at', UTCDateTime(), nullable=False),
    sa.Column('ended_at', UTCDateTime(), nullable=True),
    sa.Column('ended_reason', sa.String(length=20), nullable=True),
    sa.CheckConstraint("ended_reason IS NULL OR ended_reason IN ('completed', 'ended by staff', 'expired')", name=op.f('ck_tablet_signings_known_end')),
    sa.CheckConstraint('(ended_at IS NULL) = (ended_reason IS NULL)', name=op.f('ck_tablet_signings_ended_with_reason')),
    sa.ForeignKeyConstraint(['course_id'], ['treatment_courses.id'], name=op.f('fk_tablet_signings_course_id_treatment_courses')),
    sa.ForeignKeyConstraint(['patient_id'], ['patients.id'], name=op.f('fk_tablet_signings_patient_id_patients')),
    sa.ForeignKeyConstraint(['started_by_id'], ['users.id'], name=op.f('fk_tablet_signings_started_by_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_tablet_signings')),
    sa.UniqueConstraint('token_hash', name=op.f('uq_tablet_signings_token_hash'))
    )
    with op.batch_alter_table('tablet_signings', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_tablet_signings_course_id'), ['course_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_tablet_signings_patient_id'), ['patient_id'], unique=False)

    op.create_table('consent_withdrawals',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('signed_form_id', sa.Integer(), nullable=False),
    sa.Column('withdrawn_at', UTCDateTime(), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('recorded_by_id', sa.Integer(), nullable=True),
    sa.Column('portal_account_id', sa.Integer(), nullable=True),
    sa.CheckConstraint('(recorded_by_id IS NULL) <> (portal_account_id IS NULL)', name=op.f('ck_consent_withdrawals_one_way_in')),
    sa.ForeignKeyConstraint(['portal_account_id'], ['portal_accounts.id'], name=op.f('fk_consent_withdrawals_portal_account_id_portal_accounts')),
    sa.ForeignKeyConstraint(['recorded_by_id'], ['users.id'], name=op.f('fk_consent_withdrawals_recorded_by_id_users')),
    sa.ForeignKeyConstraint(['signed_form_id'], ['signed_forms.id'], name=op.f('fk_consent_withdrawals_signed_form_id_signed_forms')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_consent_withdrawals')),
    sa.UniqueConstraint('signed_form_id', name=op.f('uq_consent_withdrawals_signed_form_id'))
    )
    op.create_table('form_countersignatures',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('signed_form_id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('role', sa.String(length=20), nullable=False),
    sa.Column('signed_at', UTCDateTime(), nullable=False),
    sa.Column('digest', sa.String(length=64), nullable=False),
    sa.CheckConstraint("role IN ('prescriber', 'therapist', 'staff')", name=op.f('ck_form_countersignatures_known_role')),
    sa.ForeignKeyConstraint(['signed_form_id'], ['signed_forms.id'], name=op.f('fk_form_countersignatures_signed_form_id_signed_forms')),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_form_countersignatures_user_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_form_countersignatures')),
    sa.UniqueConstraint('signed_form_id', name=op.f('uq_form_countersignatures_signed_form_id'))
    )
    op.create_table('form_flag_reviews',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('signed_form_id', sa.Integer(), nullable=False),
    sa.Column('prescriber_id', sa.Integer(), nullable=False),
    sa.Column('note', sa.Text(), nullable=False),
    sa.Column('reviewed_at', UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['prescriber_id'], ['users.id'], name=op.f('fk_form_flag_reviews_prescriber_id_users')),
    sa.ForeignKeyConstraint(['signed_form_id'], ['signed_forms.id'], name=op.f('fk_form_flag_reviews_signed_form_id_signed_forms')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_form_flag_reviews')),
    sa.UniqueConstraint('signed_form_id', name=op.f('uq_form_flag_reviews_signed_form_id'))
    )
    op.create_table('packet_forms',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('packet_id', sa.Integer(), nullable=False),
    sa.Column('form_id', sa.String(length=60), nullable=False),
    sa.Column('requested_at', UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['packet_id'], ['form_packets.id'], name=op.f('fk_packet_forms_packet_id_form_packets')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_packet_forms')),
    sa.UniqueConstraint('packet_id', 'form_id', name='once_per_packet')
    )
    with op.batch_alter_table('packet_forms', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_packet_forms_packet_id'), ['packet_id'], unique=False)

    dialect = op.get_bind().dialect.name
    for table in APPEND_ONLY_TABLES:
        if dialect == "postgresql":
            op.execute(f"""CREATE FUNCTION {table}_append_only() RETURNS trigger AS $$
               BEGIN
                 RAISE EXCEPTION '{table} rows are append-only';
               END; $$ LANGUAGE plpgsql""")
            op.execute(f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
                       f"FOR EACH ROW EXECUTE FUNCTION {table}_append_only()")
        elif dialect == "sqlite":
            for when in ("UPDATE", "DELETE"):
                op.execute(f"CREATE TRIGGER {table}_append_only_{when.lower()} BEFORE {when} ON {table} "
                           f"BEGIN SELECT RAISE(ABORT, '{table} rows are append-only'); END")


def downgrade():
    dialect = op.get_bind().dialect.name
    for table in APPEND_ONLY_TABLES:
        if dialect == "postgresql":
            op.execute(f"DROP TRIGGER IF EXISTS {table}_append_only ON {table}")
            op.execute(f"DROP FUNCTION IF EXISTS {table}_append_only()")
        elif dialect == "sqlite":
            for when in ("update", "delete"):
                op.execute(f"DROP TRIGGER IF EXISTS {table}_append_only_{when}")
    with op.batch_alter_table('packet_forms', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_packet_forms_packet_id'))

    op.drop_table('packet_forms')
    op.drop_table('form_flag_reviews')
    op.drop_table('form_countersignatures')
    op.drop_table('consent_withdrawals')
    with op.batch_alter_table('tablet_signings', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_tablet_signings_patient_id'))
        batch_op.drop_index(batch_op.f('ix_tablet_signings_course_id'))

    op.drop_table('tablet_signings')
    with op.batch_alter_table('signed_forms', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_signed_forms_patient_id'))
        batch_op.drop_index(batch_op.f('ix_signed_forms_course_id'))

    op.drop_table('signed_forms')
    op.drop_table('form_packets')
