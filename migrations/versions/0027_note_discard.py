"""note discard and window exceptions: a draft its author discarded; a note serving a window that
does not include its date, with the reason

Revision ID: 0027_note_discard
Revises: 0025_response_history
Create Date: 2026-12-03 10:00:00

Review of issue 20 (points 5 and 6). "Start a note" made a draft at once and nothing could remove
it, so blank drafts sat in "My unsigned notes": a draft can now be discarded by its author. The
row stays (nothing is deleted: the record shows a note was started and given up, by whom and
when), its text is cleared. Triggers on both engines hold the rule whatever code path tries:
only a draft is discarded, only by its author, only with its text cleared; a discarded draft
never changes again, is never deleted, and gains no themes, steps, check-ins or links.

A note's dosing links may name a window that does not include the session's date only as a
stated exception (`note_dosing_links.exception_reason`); frozen with the note once signed, like
the rest of the link (migration 0007's triggers).

Plain ALTER TABLE on SQLite: a table rebuild would drop the guards of 0007.
"""
from alembic import op
import sqlalchemy as sa

from ketamine_integration.db_types import UTCDateTime


# revision identifiers, used by Alembic.
revision = '0027_note_discard'
down_revision = '0025_response_history'
branch_labels = None
depends_on = None

DISCARD_RULE = "only a draft is discarded, by its author, with its text cleared"
DISCARDED_LOCKED = "a discarded draft never changes and is kept"
CHILD_LOCKED = "a discarded draft gains no content"
#: session_notes columns a discard freezes (all but bookkeeping)
FROZEN = ("course_id", "patient_id", "kind", "session_date", "author_id", "status", "content", "signed_at",
          "content_digest", "discarded_at", "discarded_by_id")
#: the tables of a note's content, each naming its note in note_id
CHILDREN = ("note_themes", "action_steps", "action_check_ins", "note_dosing_links")


def _add_discarded_by(dialect: str) -> None:
    name = "fk_session_notes_discarded_by_id_users"
    if dialect == "sqlite":  # a column's own REFERENCES clause: no rebuild
        op.execute(f"ALTER TABLE session_notes ADD COLUMN discarded_by_id INTEGER CONSTRAINT {name} "
                   "REFERENCES users (id)")
    else:
        op.add_column("session_notes", sa.Column("discarded_by_id", sa.Integer(), nullable=True))
        op.create_foreign_key(name, "session_notes", "users", ["discarded_by_id"], ["id"])


def _postgres_statements():
    frozen = " OR ".join(f"NEW.{c}::text IS DISTINCT FROM OLD.{c}::text" for c in FROZEN)
    yield f"""CREATE FUNCTION session_notes_discard_rules() RETURNS trigger AS $$
       BEGIN
         IF TG_OP = 'DELETE' THEN
           IF OLD.discarded_at IS NOT NULL THEN
             RAISE EXCEPTION '{DISCARDED_LOCKED}';
           END IF;
           RETURN OLD;
         END IF;
         IF OLD.discarded_at IS NOT NULL AND ({frozen}) THEN
           RAISE EXCEPTION '{DISCARDED_LOCKED}';
         END IF;
         IF (NEW.discarded_by_id IS NOT NULL AND NEW.discarded_at IS NULL) OR
            (OLD.discarded_at IS NULL AND NEW.discarded_at IS NOT NULL AND
             (OLD.status <> 'draft' OR NEW.status <> 'draft' OR NEW.discarded_by_id IS DISTINCT FROM OLD.author_id
              OR NEW.content::text <> '{{}}')) THEN
           RAISE EXCEPTION '{DISCARD_RULE}';
         END IF;
         RETURN NEW;
       END; $$ LANGUAGE plpgsql"""
    yield ("CREATE TRIGGER session_notes_discard_rules BEFORE UPDATE OR DELETE ON session_notes "
           "FOR EACH ROW EXECUTE FUNCTION session_notes_discard_rules()")
    yield f"""CREATE FUNCTION note_children_discarded_locked() RETURNS trigger AS $$
       BEGIN
         IF (SELECT discarded_at FROM session_notes WHERE id = NEW.note_id) IS NOT NULL THEN
           RAISE EXCEPTION '{CHILD_LOCKED}';
         END IF;
         RETURN NEW;
       END; $$ LANGUAGE plpgsql"""
    for table in CHILDREN:
        yield (f"CREATE TRIGGER {table}_discarded_locked BEFORE INSERT OR UPDATE ON {table} "
               "FOR EACH ROW EXECUTE FUNCTION note_children_discarded_locked()")


def _sqlite_statements():
    raise_ = "BEGIN SELECT RAISE(ABORT, '{}'); END"
    frozen = " OR ".join(f"NEW.{c} IS NOT OLD.{c}" for c in FROZEN)
    yield ("CREATE TRIGGER session_notes_discard_rules BEFORE UPDATE ON session_notes "
           "WHEN (NEW.discarded_by_id IS NOT NULL AND NEW.discarded_at IS NULL) OR "
           "(OLD.discarded_at IS NULL AND NEW.discarded_at IS NOT NULL AND (OLD.status IS NOT 'draft' OR "
           "NEW.status IS NOT 'draft' OR NEW.discarded_by_id IS NOT OLD.author_id OR NEW.content IS NOT '{}')) "
           + raise_.format(DISCARD_RULE))
    yield ("CREATE TRIGGER session_notes_discarded_no_update BEFORE UPDATE ON session_notes "
           f"WHEN OLD.discarded_at IS NOT NULL AND ({frozen}) " + raise_.format(DISCARDED_LOCKED))
    yield ("CREATE TRIGGER session_notes_discarded_no_delete BEFORE DELETE ON session_notes "
           "WHEN OLD.discarded_at IS NOT NULL " + raise_.format(DISCARDED_LOCKED))
    for table in CHILDREN:
        for name, when in (("insert", "INSERT"), ("update", "UPDATE")):
            yield (f"CREATE TRIGGER {table}_discarded_no_{name} BEFORE {when} ON {table} "
                   "WHEN (SELECT discarded_at FROM session_notes WHERE id = NEW.note_id) IS NOT NULL "
                   + raise_.format(CHILD_LOCKED))


def upgrade():
    dialect = op.get_bind().dialect.name
    op.add_column("session_notes", sa.Column("discarded_at", UTCDateTime(), nullable=True))
    _add_discarded_by(dialect)
    op.add_column("note_dosing_links", sa.Column("exception_reason", sa.Text(), nullable=True))
    statements = _postgres_statements() if dialect == "postgresql" else \
        _sqlite_statements() if dialect == "sqlite" else ()
    for statement in statements:
        op.execute(statement)


def downgrade():
    dialect = op.get_bind().dialect.name
    if dialect == "postgresql":
        for table in CHILDREN:
            op.execute(f"DROP TRIGGER IF EXISTS {table}_discarded_locked ON {table}")
        op.execute("DROP TRIGGER IF EXISTS session_notes_discard_rules ON session_notes")
        op.execute("DROP FUNCTION IF EXISTS note_children_discarded_locked()")
        op.execute("DROP FUNCTION IF EXISTS session_notes_discard_rules()")
        op.drop_constraint("fk_session_notes_discarded_by_id_users", "session_notes", type_="foreignkey")
    elif dialect == "sqlite":
        names = ["session_notes_discard_rules", "session_notes_discarded_no_update",
                 "session_notes_discarded_no_delete"] + [f"{t}_discarded_no_{w}" for t in CHILDREN
                                                         for w in ("insert", "update")]
        for name in names:
            op.execute(f"DROP TRIGGER IF EXISTS {name}")
    # ALTER TABLE DROP COLUMN (SQLite 3.35+) keeps the table and its triggers
    op.drop_column("note_dosing_links", "exception_reason")
    op.drop_column("session_notes", "discarded_by_id")
    op.drop_column("session_notes", "discarded_at")
