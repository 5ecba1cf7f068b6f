"""provisional windows: the planned dose an integration session was booked for

Revision ID: 0029_provisional_windows
Revises: 0028_attendance
Create Date: 2026-12-08 10:00:00

Issue 20, point 1. An integration session may be booked inside the provisional window of a dose
only planned (worked out from its planned time, never stored). `appointments.booked_for_dose_id`
names that dose, so that once it is signed, moved or cancelled the booking is checked against the
window it then has: a booking left outside is on the staff worklist until it is moved. Existing
appointments were all booked inside real windows: the column starts empty.

Plain ALTER TABLE on SQLite, the foreign key the column's own REFERENCES clause: no table rebuild.
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0029_provisional_windows'
down_revision = '0028_attendance'
branch_labels = None
depends_on = None

NAME = "fk_appointments_booked_for_dose_id_dosing_sessions"


def upgrade():
    if op.get_bind().dialect.name == "sqlite":
        op.execute(f"ALTER TABLE appointments ADD COLUMN booked_for_dose_id INTEGER CONSTRAINT {NAME} "
                   "REFERENCES dosing_sessions (id)")
    else:
        op.add_column("appointments", sa.Column("booked_for_dose_id", sa.Integer(), nullable=True))
        op.create_foreign_key(op.f(NAME), "appointments", "dosing_sessions", ["booked_for_dose_id"], ["id"])


def downgrade():
    if op.get_bind().dialect.name == "postgresql":
        op.drop_constraint(op.f(NAME), "appointments", type_="foreignkey")
    # ALTER TABLE DROP COLUMN (SQLite 3.35+) keeps the table and its triggers; the column's own
    # REFERENCES clause goes with it
    op.drop_column("appointments", "booked_for_dose_id")
