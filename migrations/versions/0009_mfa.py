"""two-step sign-in: authenticators, recovery codes, login session stage

Revision ID: 0009_mfa
Revises: 0008_coordination
Create Date: 2026-11-21 14:47:36.192452

"""
from alembic import op
import sqlalchemy as sa

from ketamine_integration.db_types import UTCDateTime  # noqa: F401


# revision identifiers, used by Alembic.
revision = '0009_mfa'
down_revision = '0008_coordination'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('authenticators',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('secret_sealed', sa.String(length=255), nullable=False),
    sa.Column('created_at', UTCDateTime(), nullable=False),
    sa.Column('confirmed_at', UTCDateTime(), nullable=True),
    sa.Column('last_used_step', sa.BigInteger(), nullable=True),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_authenticators_user_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_authenticators')),
    sa.UniqueConstraint('user_id', name=op.f('uq_authenticators_user_id'))
    )
    op.create_table('recovery_codes',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('code_hash', sa.String(length=64), nullable=False),
    sa.Column('created_at', UTCDateTime(), nullable=False),
    sa.Column('used_at', UTCDateTime(), nullable=True),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_recovery_codes_user_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_recovery_codes')),
    sa.UniqueConstraint('code_hash', name=op.f('uq_recovery_codes_code_hash'))
    )
    with op.batch_alter_table('recovery_codes', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_recovery_codes_user_id'), ['user_id'], unique=False)

    # Sessions open at upgrade time stay signed in (until their idle or absolute limit); every
    # sign-in from now on takes the second step, or enrolment where the role requires it.
    with op.batch_alter_table('login_sessions', schema=None) as batch_op:
        batch_op.add_column(sa.Column('stage', sa.String(length=10), server_default='signed_in', nullable=False))
        batch_op.add_column(sa.Column('code_failures', sa.Integer(), server_default='0', nullable=False))
        batch_op.create_check_constraint(op.f('ck_login_sessions_known_stage'),
                                         "stage IN ('signed_in', 'code', 'enrol')")


def downgrade():
    with op.batch_alter_table('login_sessions', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_login_sessions_known_stage'), type_='check')
        batch_op.drop_column('code_failures')
        batch_op.drop_column('stage')

    with op.batch_alter_table('recovery_codes', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_recovery_codes_user_id'))

    op.drop_table('recovery_codes')
    op.drop_table('authenticators')
