"""patient portal: patients' accounts, invitations, portal sessions, kept text; the audit row's patient actor

Revision ID: 0038_portal_accounts
Revises: 0039_practices
Create Date: 2026-12-11 09:00:00

Issue 23, point 1. `portal_accounts`: one per patient, made at the first invitation, usable once
accepted (a password) with a second factor (an authenticator's sealed secret, or codes by email).
`portal_invitations`: each emailed link, by the SHA-256 of its token, its expiry, use and
revocation. `portal_sessions`: the portal's own server-side sessions (shorter than staff ones), with
the keyed hash of an emailed sign-in code. `portal_kept_text`: what a patient submitted after their
session timed out, offered back after signing in.

`audit_events.portal_account_id` names the patient's account when a patient acted through the
portal. It is added as a plain column with an index and no foreign key: SQLite adds a constraint
only by rebuilding the table, which would drop the audit trail's append-only triggers (0011), and
the trail outlives any account anyway. Existing rows keep NULL, and the chain's mac covers the
column only where it is set (audit/chain.py), so every existing mac still verifies.
"""
from alembic import op
import sqlalchemy as sa

from ketamine_integration.db.types import UTCDateTime


# revision identifiers, used by Alembic.
revision = '0038_portal_accounts'
down_revision = '0039_practices'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('portal_accounts',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('patient_id', sa.Integer(), nullable=False),
    sa.Column('email', sa.String(length=254), nullable=False),
    sa.Column('password_hash', sa.String(length=255), nullable=True),
    sa.Column('second_factor', sa.String(length=10), nullable=True),
    sa.Column('totp_secret_sealed', sa.String(length=255), nullable=True),
    sa.Column('totp_last_step', sa.BigInteger(), nullable=True),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('created_at', UTCDateTime(), nullable=False),
    sa.Column('activated_at', UTCDateTime(), nullable=True),
    sa.CheckConstraint("second_factor IN ('totp', 'email')", name=op.f('ck_portal_accounts_known_factor')),
    sa.ForeignKeyConstraint(['patient_id'], ['patients.id'], name=op.f('fk_portal_accounts_patient_id_patients')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_portal_accounts')),
    sa.UniqueConstraint('email', name=op.f('uq_portal_accounts_email')),
    sa.UniqueConstraint('patient_id', name=op.f('uq_portal_accounts_patient_id'))
    )
    op.create_table('portal_invitations',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('account_id', sa.Integer(), nullable=False),
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('email', sa.String(length=254), nullable=False),
    sa.Column('created_at', UTCDateTime(), nullable=False),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.Column('expires_at', UTCDateTime(), nullable=False),
    sa.Column('used_at', UTCDateTime(), nullable=True),
    sa.Column('revoked_at', UTCDateTime(), nullable=True),
    sa.Column('revoked_by_id', sa.Integer(), nullable=True),
    sa.Column('revoked_why', sa.String(length=10), nullable=True),
    sa.ForeignKeyConstraint(['account_id'], ['portal_accounts.id'],
                            name=op.f('fk_portal_invitations_account_id_portal_accounts')),
    sa.ForeignKeyConstraint(['created_by_id'], ['users.id'], name=op.f('fk_portal_invitations_created_by_id_users')),
    sa.ForeignKeyConstraint(['revoked_by_id'], ['users.id'], name=op.f('fk_portal_invitations_revoked_by_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_portal_invitations')),
    sa.UniqueConstraint('token_hash', name=op.f('uq_portal_invitations_token_hash'))
    )
    op.create_index(op.f('ix_portal_invitations_account_id'), 'portal_invitations', ['account_id'], unique=False)
    op.create_table('portal_sessions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('account_id', sa.Integer(), nullable=False),
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('created_at', UTCDateTime(), nullable=False),
    sa.Column('last_seen_at', UTCDateTime(), nullable=False),
    sa.Column('ended_at', UTCDateTime(), nullable=True),
    sa.Column('end_reason', sa.String(length=20), nullable=True),
    sa.Column('stage', sa.String(length=10), nullable=False),
    sa.Column('enrolling', sa.String(length=10), nullable=True),
    sa.Column('code_failures', sa.Integer(), nullable=False),
    sa.Column('email_code_hash', sa.String(length=64), nullable=True),
    sa.Column('email_code_expires_at', UTCDateTime(), nullable=True),
    sa.Column('email_codes_sent', sa.Integer(), nullable=False),
    sa.Column('ip', sa.String(length=45), nullable=True),
    sa.Column('user_agent', sa.String(length=200), nullable=True),
    sa.CheckConstraint("stage IN ('signed_in', 'code', 'enrol')", name=op.f('ck_portal_sessions_known_stage')),
    sa.ForeignKeyConstraint(['account_id'], ['portal_accounts.id'],
                            name=op.f('fk_portal_sessions_account_id_portal_accounts')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_portal_sessions')),
    sa.UniqueConstraint('token_hash', name=op.f('uq_portal_sessions_token_hash'))
    )
    op.create_index(op.f('ix_portal_sessions_account_id'), 'portal_sessions', ['account_id'], unique=False)
    op.create_table('portal_kept_text',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('account_id', sa.Integer(), nullable=False),
    sa.Column('path', sa.String(length=200), nullable=False),
    sa.Column('form', sa.JSON(), nullable=False),
    sa.Column('submitted_at', UTCDateTime(), nullable=False),
    sa.Column('recovered_at', UTCDateTime(), nullable=True),
    sa.ForeignKeyConstraint(['account_id'], ['portal_accounts.id'],
                            name=op.f('fk_portal_kept_text_account_id_portal_accounts')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_portal_kept_text'))
    )
    op.create_index(op.f('ix_portal_kept_text_account_id'), 'portal_kept_text', ['account_id'], unique=False)
    op.add_column('audit_events', sa.Column('portal_account_id', sa.Integer(), nullable=True))
    op.create_index(op.f('ix_audit_events_portal_account_id'), 'audit_events', ['portal_account_id'], unique=False)


def downgrade():
    op.drop_index(op.f('ix_audit_events_portal_account_id'), table_name='audit_events')
    op.drop_column('audit_events', 'portal_account_id')
    op.drop_index(op.f('ix_portal_kept_text_account_id'), table_name='portal_kept_text')
    op.drop_table('portal_kept_text')
    op.drop_index(op.f('ix_portal_sessions_account_id'), table_name='portal_sessions')
    op.drop_table('portal_sessions')
    op.drop_index(op.f('ix_portal_invitations_account_id'), table_name='portal_invitations')
    op.drop_table('portal_invitations')
    op.drop_table('portal_accounts')
