"""messaging: the deliveries table (one row per message the clinic sends)

Revision ID: 0033_deliveries
Revises: 0032_home
Create Date: 2026-12-03 18:00:00

Issue 22, points 1 and 2: messages leave the app through a background job queue (huey). Each
message is a delivery under a unique key, so a job run twice, or a sweep run twice, sends it
once (the job claims a pending row with a conditional update before sending); failed attempts are
retried with back-off, and a delivery that keeps failing is `failed` with its reason for staff.
The message itself is kept only while it waits (`content`, erased once the delivery is final).
"""
from alembic import op
import sqlalchemy as sa

from ketamine_integration.db.types import UTCDateTime


# revision identifiers, used by Alembic.
revision = '0033_deliveries'
down_revision = '0032_home'
branch_labels = None
depends_on = None

TABLE = "deliveries"


def upgrade():
    op.create_table(TABLE,
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('key', sa.String(length=200), nullable=False),
    sa.Column('channel', sa.String(length=10), nullable=False),
    sa.Column('purpose', sa.String(length=40), nullable=False),
    sa.Column('patient_id', sa.Integer(), nullable=True),
    sa.Column('user_id', sa.Integer(), nullable=True),
    sa.Column('appointment_id', sa.Integer(), nullable=True),
    sa.Column('recipient', sa.String(length=320), nullable=False),
    sa.Column('scheduled_for', UTCDateTime(), nullable=False),
    sa.Column('status', sa.String(length=10), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('last_error', sa.String(length=300), nullable=True),
    sa.Column('attempted_at', UTCDateTime(), nullable=True),
    sa.Column('sent_at', UTCDateTime(), nullable=True),
    sa.Column('created_at', UTCDateTime(), nullable=False),
    sa.Column('content', sa.Text(), nullable=True),
    sa.CheckConstraint("channel IN ('email', 'sms')", name=op.f('ck_deliveries_channel')),
    sa.CheckConstraint("status IN ('pending', 'sending', 'sent', 'failed', 'withdrawn', 'opted_out')",
                       name=op.f('ck_deliveries_status')),
    sa.ForeignKeyConstraint(['appointment_id'], ['appointments.id'],
                            name=op.f('fk_deliveries_appointment_id_appointments')),
    sa.ForeignKeyConstraint(['patient_id'], ['patients.id'], name=op.f('fk_deliveries_patient_id_patients')),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_deliveries_user_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_deliveries')),
    sa.UniqueConstraint('key', name=op.f('uq_deliveries_key'))
    )
    op.create_index('ix_deliveries_status_scheduled_for', TABLE, ['status', 'scheduled_for'], unique=False)
    op.create_index(op.f('ix_deliveries_patient_id'), TABLE, ['patient_id'], unique=False)
    op.create_index(op.f('ix_deliveries_appointment_id'), TABLE, ['appointment_id'], unique=False)


def downgrade():
    op.drop_table(TABLE)
