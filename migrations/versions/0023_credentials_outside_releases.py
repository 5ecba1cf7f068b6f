"""credentials outside releases: users carry a licence type and number; a release records
whether it covers a recipient outside the patient's care team

Revision ID: 0023_credentials_outside
Revises: 0022_safety_history
Create Date: 2026-12-02 15:00:00

Issue 19, points 3 and 8. A dosing record, the REMS form and the coordination report name each
person with their licence type ("A. Example, RN"); the admin sets it, and optionally the
licence number, on the user form. Credentials typed before as exactly one known licence type
("MD", "rn") become that licence type; anything else stays in `credentials`, shown after it.
No CHECK lists the licence types: adding one to `users` would need a table rebuild that the
foreign keys pointing at users refuse inside a migration (see 0018); the service checks them.

Coordination within the care team needs no release (45 CFR 164.506(c)); sharing with a
recipient outside it does, and each release now says whether it covers one. Earlier releases
say no (false): those to a named outside clinic still count as covering one (the model's
`covers_outside_recipient`), so nothing stored is rewritten and no digest changes (the digest
covers the new column only when it is true). The append-only guard of migration 0015 is
rebuilt on releases with the new column frozen too.
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0023_credentials_outside'  # alembic_version holds 32 characters
down_revision = '0022_safety_history'
branch_labels = None
depends_on = None

#: the licence types of domain/credentials.py at this revision
LICENCE_TYPES = ("MD", "DO", "NP", "PA", "RN", "LPN", "LCSW", "LMFT", "LPC", "PhD", "PsyD")

RELEASES = "releases_of_information"
#: the columns migration 0015 froze on a release, and those it lets change one way
FROZEN = ("id", "patient_id", "recipient_user_id", "recipient_name", "categories", "purpose", "effective_on",
          "expires_on", "created_by_id", "created_at", "content_digest")
ONE_WAY = ("revoked_on", "revoked_by_id")
ALLOWED = "NEW.revoked_on IS NOT NULL AND (OLD.revoked_on IS NULL OR NEW.revoked_on < OLD.revoked_on)"
MESSAGE = f"{RELEASES} rows are append-only"


def _changed(columns, dialect: str) -> str:
    if dialect == "postgresql":  # json has no equality operator: compare the text
        return " OR ".join(f"NEW.{c}::text IS DISTINCT FROM OLD.{c}::text" for c in columns)
    return " OR ".join(f"NEW.{c} IS NOT OLD.{c}" for c in columns)


def _guard(frozen: tuple[str, ...]) -> None:
    """Replace the release update guard of migration 0015 with one freezing `frozen`."""
    dialect = op.get_bind().dialect.name
    refused = f"{_changed(frozen, dialect)} OR (({_changed(ONE_WAY, dialect)}) AND NOT ({ALLOWED}))"
    if dialect == "postgresql":
        op.execute(f"""CREATE OR REPLACE FUNCTION {RELEASES}_append_only() RETURNS trigger AS $$
           BEGIN
             IF TG_OP = 'DELETE' OR {refused} THEN
               RAISE EXCEPTION '{MESSAGE}';
             END IF;
             RETURN NEW;
           END; $$ LANGUAGE plpgsql""")
    elif dialect == "sqlite":
        op.execute(f"DROP TRIGGER IF EXISTS {RELEASES}_append_only_update")
        op.execute(f"CREATE TRIGGER {RELEASES}_append_only_update BEFORE UPDATE ON {RELEASES} WHEN {refused} "
                   f"BEGIN SELECT RAISE(ABORT, '{MESSAGE}'); END")


def upgrade():
    op.add_column("users", sa.Column("licence_type", sa.String(length=10), nullable=True))
    op.add_column("users", sa.Column("licence_number", sa.String(length=40), nullable=True))
    for code in LICENCE_TYPES:
        op.execute(f"UPDATE users SET licence_type = '{code}', credentials = NULL "
                   f"WHERE LOWER(TRIM(credentials)) = '{code.lower()}'")
    op.add_column(RELEASES, sa.Column("outside_care_team", sa.Boolean(), nullable=False,
                                      server_default=sa.false()))
    _guard(FROZEN + ("outside_care_team",))


def downgrade():
    _guard(FROZEN)
    # SQLite drops a column by rebuilding the table, which the foreign keys and triggers of
    # these tables refuse; ALTER TABLE DROP COLUMN (SQLite 3.35+) does it in place.
    op.execute(f"ALTER TABLE {RELEASES} DROP COLUMN outside_care_team")
    op.execute("UPDATE users SET credentials = licence_type WHERE credentials IS NULL AND licence_type IS NOT NULL")
    op.execute("ALTER TABLE users DROP COLUMN licence_number")
    op.execute("ALTER TABLE users DROP COLUMN licence_type")
