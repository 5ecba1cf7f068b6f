"""right of access: each export of a patient's designated record set (who asked, for whom, when, how it
is delivered, the zip's SHA-256 and manifest)

Revision ID: 0055_record_exports
Revises: 0051_calendar_feed_privacy
Create Date: 2026-12-05 04:00:00

Issue 25, point 2 (45 CFR 164.524). `record_exports` is the clinic's accounting of every copy of a
patient's record that left the app, made by a clinician for a request or downloaded by the patient in
the portal. It keeps the zip's digest and manifest, never the files. Append-only (as migration 0048's
copies): a disclosure once recorded never changes and is never deleted.
"""
from alembic import op
import sqlalchemy as sa

from ketamine_integration.db.types import UTCDateTime


# revision identifiers, used by Alembic.
revision = '0055_record_exports'
down_revision = '0051_calendar_feed_privacy'
branch_labels = None
depends_on = None

TABLE = "record_exports"


def upgrade():
    op.create_table(TABLE,
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('patient_id', sa.Integer(), nullable=False),
    sa.Column('requested_by', sa.String(length=20), nullable=False),
    sa.Column('representative_name', sa.String(length=120), nullable=True),
    sa.Column('representative_authority', sa.String(length=200), nullable=True),
    sa.Column('received_on', sa.Date(), nullable=False),
    sa.Column('delivery', sa.String(length=20), nullable=False),
    sa.Column('delivery_note', sa.String(length=300), nullable=True),
    sa.Column('made_by_id', sa.Integer(), nullable=True),
    sa.Column('portal_account_id', sa.Integer(), nullable=True),
    sa.Column('made_at', UTCDateTime(), nullable=False),
    sa.Column('file_name', sa.String(length=200), nullable=False),
    sa.Column('zip_sha256', sa.String(length=64), nullable=False),
    sa.Column('zip_bytes', sa.Integer(), nullable=False),
    sa.Column('manifest', sa.JSON(), nullable=False),
    sa.Column('fhir_included', sa.Boolean(), nullable=False),
    sa.CheckConstraint("requested_by IN ('patient', 'representative')", name=op.f('ck_record_exports_known_requester')),
    sa.CheckConstraint("delivery IN ('in_person', 'mail', 'email', 'portal')",
                       name=op.f('ck_record_exports_known_delivery')),
    sa.CheckConstraint("requested_by = 'patient' OR (representative_name IS NOT NULL "
                       "AND representative_authority IS NOT NULL)", name=op.f('ck_record_exports_representative_named')),
    sa.CheckConstraint("(made_by_id IS NULL) <> (portal_account_id IS NULL)", name=op.f('ck_record_exports_one_maker')),
    sa.CheckConstraint("portal_account_id IS NULL OR (requested_by = 'patient' AND delivery = 'portal')",
                       name=op.f('ck_record_exports_portal_is_the_patients')),
    sa.ForeignKeyConstraint(['patient_id'], ['patients.id'], name=op.f('fk_record_exports_patient_id_patients')),
    sa.ForeignKeyConstraint(['made_by_id'], ['users.id'], name=op.f('fk_record_exports_made_by_id_users')),
    sa.ForeignKeyConstraint(['portal_account_id'], ['portal_accounts.id'],
                            name=op.f('fk_record_exports_portal_account_id_portal_accounts')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_record_exports'))
    )
    op.create_index(op.f('ix_record_exports_patient_id'), TABLE, ['patient_id'])
    dialect = op.get_bind().dialect.name
    if dialect == "postgresql":
        op.execute(f"""CREATE FUNCTION {TABLE}_append_only() RETURNS trigger AS $$
           BEGIN
             RAISE EXCEPTION '{TABLE} rows are append-only';
           END; $$ LANGUAGE plpgsql""")
        op.execute(f"CREATE TRIGGER {TABLE}_append_only BEFORE UPDATE OR DELETE ON {TABLE} "
                   f"FOR EACH ROW EXECUTE FUNCTION {TABLE}_append_only()")
    elif dialect == "sqlite":
        for when in ("UPDATE", "DELETE"):
            op.execute(f"CREATE TRIGGER {TABLE}_append_only_{when.lower()} BEFORE {when} ON {TABLE} "
                       f"BEGIN SELECT RAISE(ABORT, '{TABLE} rows are append-only'); END")


def downgrade():
    dialect = op.get_bind().dialect.name
    if dialect == "postgresql":
        op.execute(f"DROP TRIGGER IF EXISTS {TABLE}_append_only ON {TABLE}")
        op.execute(f"DROP FUNCTION IF EXISTS {TABLE}_append_only()")
    elif dialect == "sqlite":
        for when in ("update", "delete"):
            op.execute(f"DROP TRIGGER IF EXISTS {TABLE}_append_only_{when}")
    op.drop_index(op.f('ix_record_exports_patient_id'), table_name=TABLE)
    op.drop_table(TABLE)
