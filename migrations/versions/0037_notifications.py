"""staff notifications: each user's daily summary email time, and the day last looked at

Revision ID: 0037_notifications
Revises: 0035_contact_consent
Create Date: 2026-12-10 09:00:00

Issue 22, point 6. A user chooses, on their own notifications page, whether a daily summary of
what waits on them is emailed and at what clinic time (`users.digest_at`, a time of day in the
clinic's zone; NULL: off, as every existing user starts). `users.digest_last_day` is the clinic
date whose summary was last looked at, sent or with nothing to report, so that the periodic job
looks at each user once a day. The clinic's on-call address for urgent safety alerts is a
clinic_settings key and needs no schema.
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0037_notifications'
down_revision = '0035_contact_consent'
branch_labels = None
depends_on = None


def upgrade():
    op.add_column("users", sa.Column("digest_at", sa.Time(), nullable=True))
    op.add_column("users", sa.Column("digest_last_day", sa.Date(), nullable=True))


def downgrade():
    op.drop_column("users", "digest_last_day")
    op.drop_column("users", "digest_at")
