"""a clinic tablet's signing session is ended once and otherwise never changes, nor is deleted

Revision ID: 0058_forms_integrity
Revises: 0057_signed_form_flagged
Create Date: 2026-12-06 02:00:00

Issue 26, attack finding 4. Migration 0056 left tablet_signings unguarded, as the session of a device:
raw SQL could set an ended session's ended_at back to NULL or push its expiry to 2099 (the tablet in
the waiting room signs for the patient again), change who handed it over, or delete the session and
with it the record of who let the patient sign on the clinic's device. The application only ever
inserts a session and ends it once (completed, ended by staff, or expired: ended_at and ended_reason
set together). Triggers on both engines now refuse every DELETE and every UPDATE but that one.
As in 0016, row-level triggers do not fire on restore, and inserts stay free.
"""
from alembic import op

# revision identifiers, used by Alembic.
revision = '0058_forms_integrity'
down_revision = '0057_signed_form_flagged'
branch_labels = None
depends_on = None

TABLE = "tablet_signings"
MESSAGE = f"{TABLE} rows are append-only"
#: columns frozen once written
FROZEN = ("id", "patient_id", "course_id", "started_by_id", "token_hash", "started_at", "expires_at")
#: columns set once, together: how the session ended
ONE_WAY = ("ended_at", "ended_reason")
ALLOWED = ("OLD.ended_at IS NULL AND OLD.ended_reason IS NULL AND NEW.ended_at IS NOT NULL "
           "AND NEW.ended_reason IS NOT NULL")


def _changed(columns, dialect: str) -> str:
    if dialect == "postgresql":
        return " OR ".join(f"NEW.{c} IS DISTINCT FROM OLD.{c}" for c in columns)
    return " OR ".join(f"NEW.{c} IS NOT OLD.{c}" for c in columns)


def _refused(dialect: str) -> str:
    """The condition on an UPDATE that the guard refuses."""
    return f"{_changed(FROZEN, dialect)} OR (({_changed(ONE_WAY, dialect)}) AND NOT ({ALLOWED}))"


def upgrade():
    dialect = op.get_bind().dialect.name
    if dialect == "postgresql":
        op.execute(f"""CREATE FUNCTION {TABLE}_append_only() RETURNS trigger AS $$
           BEGIN
             IF TG_OP = 'DELETE' OR {_refused(dialect)} THEN
               RAISE EXCEPTION '{MESSAGE}';
             END IF;
             RETURN NEW;
           END; $$ LANGUAGE plpgsql""")
        op.execute(f"CREATE TRIGGER {TABLE}_append_only BEFORE UPDATE OR DELETE ON {TABLE} "
                   f"FOR EACH ROW EXECUTE FUNCTION {TABLE}_append_only()")
    elif dialect == "sqlite":
        raise_ = f"BEGIN SELECT RAISE(ABORT, '{MESSAGE}'); END"
        op.execute(f"CREATE TRIGGER {TABLE}_append_only_update BEFORE UPDATE ON {TABLE} WHEN {_refused(dialect)} "
                   + raise_)
        op.execute(f"CREATE TRIGGER {TABLE}_append_only_delete BEFORE DELETE ON {TABLE} " + raise_)


def downgrade():
    dialect = op.get_bind().dialect.name
    if dialect == "postgresql":
        op.execute(f"DROP TRIGGER IF EXISTS {TABLE}_append_only ON {TABLE}")
        op.execute(f"DROP FUNCTION IF EXISTS {TABLE}_append_only()")
    elif dialect == "sqlite":
        op.execute(f"DROP TRIGGER IF EXISTS {TABLE}_append_only_update")
        op.execute(f"DROP TRIGGER IF EXISTS {TABLE}_append_only_delete")
