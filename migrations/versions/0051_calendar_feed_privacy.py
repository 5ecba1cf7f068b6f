"""calendar feeds: "session type only" is the default; a stored "initials" stays only where an admin chose it

Revision ID: 0051_calendar_feed_privacy
Revises: 0054_clinician_contact
Create Date: 2026-12-05 03:30:00

Issue 25, point 5. Feed events carried the patient's initials unless an admin chose "session type
only"; the default is now "session type only", and initials are an explicit choice made after a
warning. No schema changes: the setting is the `feed_identity` row of `clinic_settings` (absent:
the built-in default, now "none"); the calendar's name is a new key there, absent until set.

What counts as explicit for the rows stored before: the settings form used to open with "initials"
selected, so a row saying "initials" may be an admin who only pressed Save on the form as it
opened. A row saying "initials" is kept only when the audit trail shows the admin moved to it from
"session type only" (a successful `settings.calendar` whose detail is "none" before the last one,
which chose "initials"): that was a change away from what the form showed, so a choice. Every other
"initials" row, including one the trail says nothing about, is removed, and the clinic falls to the
new default; a row saying "none" stays. The admin sees the setting on /calendars/ and can choose
initials again, ticking the warning's box. Downgrading changes no row: the code before this revision
reads a clinic without a row as "initials", so choose on its settings page after a downgrade.
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0051_calendar_feed_privacy'
down_revision = '0054_clinician_contact'
branch_labels = None
depends_on = None


def chosen_over_another(details: list[str]) -> bool:
    """Whether the audited settings saves (their details, oldest first) show "initials" chosen after
    "none": the last save chose initials and an earlier one chose none."""
    initials = [n for n, detail in enumerate(details) if detail.startswith("initials")]
    return bool(initials) and any(detail.startswith("none") for detail in details[:initials[-1]])


def upgrade():
    bind = op.get_bind()
    stored = bind.execute(sa.text("SELECT value FROM clinic_settings WHERE key = 'feed_identity'")).scalar()
    if stored != "initials":
        return
    details = bind.execute(sa.text(
        "SELECT detail FROM audit_events WHERE action = 'settings.calendar' AND outcome = 'success' "
        "AND detail IS NOT NULL ORDER BY chain_position, id")).scalars().all()
    if not chosen_over_another(list(details)):
        bind.execute(sa.text("DELETE FROM clinic_settings WHERE key = 'feed_identity'"))


def downgrade():
    pass  # see the docstring: no row is restored
