"""telehealth links: a clinician's own video room, and a random code per session

Revision ID: 0034_telehealth
Revises: 0033_deliveries
Create Date: 2026-12-09 09:00:00

Issue 22, point 5. A telehealth session carries a video link: the clinician's own room
(`users.video_room_url`) or, when they have none, the clinic's address template filled in with
the session's code (`appointments.video_token`). The code is random (128 bits), not the id: a
link built from ids could be guessed, and a guessed link is a seat in someone else's session.
Every new appointment gets one (the model's default); the existing telehealth appointments get
theirs here, one random code each. The settings (template, links in feeds) are clinic_settings
rows: no schema.
"""
import secrets

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0034_telehealth'
down_revision = '0033_deliveries'
branch_labels = None
depends_on = None

INDEX = "ix_appointments_video_token"


def upgrade():
    op.add_column("users", sa.Column("video_room_url", sa.String(length=200), nullable=True))
    op.add_column("appointments", sa.Column("video_token", sa.String(length=32), nullable=True))
    appointments = sa.table("appointments", sa.column("id", sa.Integer()), sa.column("modality", sa.String()),
                            sa.column("video_token", sa.String()))
    bind = op.get_bind()
    ids = bind.execute(sa.select(appointments.c.id).where(appointments.c.modality == "telehealth")).scalars().all()
    if ids:
        bind.execute(appointments.update().where(appointments.c.id == sa.bindparam("row_id"))
                     .values(video_token=sa.bindparam("token")),
                     [{"row_id": i, "token": secrets.token_urlsafe(16)} for i in ids])
    op.create_index(INDEX, "appointments", ["video_token"], unique=True)


def downgrade():
    op.drop_index(INDEX, table_name="appointments")
    op.drop_column("appointments", "video_token")
    op.drop_column("users", "video_room_url")
