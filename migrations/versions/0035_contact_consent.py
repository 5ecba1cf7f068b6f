"""reminders: each patient's contact consent per channel (append-only) and the reminder rules per kind

Revision ID: 0035_contact_consent
Revises: 0034_telehealth
Create Date: 2026-12-06 09:00:00

Issue 22, point 3 (the parts that need no job queue). A patient's answer about being reminded by
email or by SMS is a row in `contact_consents`: the channel, granted or withdrawn, how the clinic
heard it and who recorded it; the latest row per channel is the answer that holds. Consent is
evidence, so its history is never rewritten: triggers on both engines refuse UPDATE and DELETE
(ketamine_integration/db/append_only.py classifies the table). `reminder_rules` holds the clinic's
reminders per kind of session (when, by which channels, the wording); the settings every reminder
shares (sender name, quiet hours, address, phone) are clinic_settings keys and need no schema.
"""
from alembic import op
import sqlalchemy as sa

from ketamine_integration.db.types import UTCDateTime


# revision identifiers, used by Alembic.
revision = '0035_contact_consent'
down_revision = '0034_telehealth'
branch_labels = None
depends_on = None

TABLE = "contact_consents"
APPEND_ONLY_MESSAGE = f"{TABLE} rows are append-only"


def upgrade():
    dialect = op.get_bind().dialect.name
    op.create_table(TABLE,
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('patient_id', sa.Integer(), nullable=False),
    sa.Column('channel', sa.String(length=10), nullable=False),
    sa.Column('granted', sa.Boolean(), nullable=False),
    sa.Column('method', sa.String(length=20), nullable=False),
    sa.Column('recorded_at', UTCDateTime(), nullable=False),
    sa.Column('recorded_by_id', sa.Integer(), nullable=True),
    sa.CheckConstraint("channel IN ('email', 'sms')", name=op.f('ck_contact_consents_known_channel')),
    sa.CheckConstraint("method IN ('in_person', 'phone', 'written_form', 'patient_portal')",
                       name=op.f('ck_contact_consents_known_method')),
    sa.CheckConstraint("recorded_by_id IS NOT NULL OR method = 'patient_portal'",
                       name=op.f('ck_contact_consents_recorded_by_someone')),
    sa.ForeignKeyConstraint(['patient_id'], ['patients.id'], name=op.f('fk_contact_consents_patient_id_patients')),
    sa.ForeignKeyConstraint(['recorded_by_id'], ['users.id'], name=op.f('fk_contact_consents_recorded_by_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_contact_consents'))
    )
    op.create_index('ix_contact_consents_patient_channel', TABLE, ['patient_id', 'channel', 'id'], unique=False)
    if dialect == "postgresql":
        op.execute(f"""CREATE FUNCTION {TABLE}_append_only() RETURNS trigger AS $$
           BEGIN
             RAISE EXCEPTION '{APPEND_ONLY_MESSAGE}';
           END; $$ LANGUAGE plpgsql""")
        op.execute(f"CREATE TRIGGER {TABLE}_append_only BEFORE UPDATE OR DELETE ON {TABLE} "
                   f"FOR EACH ROW EXECUTE FUNCTION {TABLE}_append_only()")
    elif dialect == "sqlite":
        for when in ("UPDATE", "DELETE"):
            op.execute(f"CREATE TRIGGER {TABLE}_append_only_{when.lower()} BEFORE {when} ON {TABLE} "
                       f"BEGIN SELECT RAISE(ABORT, '{APPEND_ONLY_MESSAGE}'); END")
    op.create_table('reminder_rules',
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('offsets', sa.String(length=60), nullable=False),
    sa.Column('channels', sa.String(length=20), nullable=False),
    sa.Column('wording', sa.String(length=60), nullable=True),
    sa.Column('updated_at', UTCDateTime(), nullable=False),
    sa.Column('updated_by_id', sa.Integer(), nullable=False),
    sa.CheckConstraint("kind IN ('preparation', 'dosing', 'integration', 'follow_up')",
                       name=op.f('ck_reminder_rules_known_kind')),
    sa.ForeignKeyConstraint(['updated_by_id'], ['users.id'], name=op.f('fk_reminder_rules_updated_by_id_users')),
    sa.PrimaryKeyConstraint('kind', name=op.f('pk_reminder_rules'))
    )


def downgrade():
    dialect = op.get_bind().dialect.name
    op.drop_table('reminder_rules')
    if dialect == "postgresql":
        op.execute(f"DROP TRIGGER IF EXISTS {TABLE}_append_only ON {TABLE}")
        op.execute(f"DROP FUNCTION IF EXISTS {TABLE}_append_only()")
    op.drop_index('ix_contact_consents_patient_channel', table_name=TABLE)
    op.drop_table(TABLE)
