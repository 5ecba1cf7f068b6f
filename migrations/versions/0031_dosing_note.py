"""dosing-session note: a session note of kind "dosing" names the one dosing session it documents

Revision ID: 0031_dosing_note
Revises: 0029_provisional_windows
Create Date: 2026-12-03 12:00:00

Issue 20, point 9: where the protocol has a therapist present at each dose (ketamine-assisted
psychotherapy, `experience.therapist_present`), the therapist writes a note for the dosing session
itself. It is a session note like the others (drafts, "Sign and lock", addenda, discard) of a third
kind, `dosing`, linked to its dosing record by `session_notes.dosing_session_id`:

- the kind CHECK of migration 0007 lists the new kind;
- a CHECK pairs them: a dosing-session note names its dosing session, no other note names one;
- a partial unique index keeps one such note per dosing session (a discarded draft gives way);
- a trigger on both engines refuses any change of the dosing session a note names, draft or not:
  the note documents that session from the moment it is started.

SQLite cannot change a CHECK in place, and a table rebuild would drop the triggers of migrations
0007 and 0027 (and is refused while other tables' rows point at session_notes). The column is added
with plain ALTER TABLE (its own REFERENCES clause); the CHECK clauses are changed by SQLite's
documented procedure for constraints every stored row already meets, as migration 0018 did
(sqlite.org/lang_altertable.html, "Making Other Kinds Of Table Schema Changes"): the CREATE
statement is edited in the schema table and the schema version bumped, in the migration's
transaction, then `PRAGMA quick_check` confirms every row meets the new CHECKs. Data, indexes and
the existing triggers are not touched.

The downgrade refuses (changing nothing) while any dosing-session note is stored: notes are never
deleted, and the earlier CHECK would refuse them.
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0031_dosing_note'
down_revision = '0029_provisional_windows'
branch_labels = None
depends_on = None

TABLE = "session_notes"
COLUMN = "dosing_session_id"
FOREIGN_KEY = "fk_session_notes_dosing_session_id_dosing_sessions"
INDEX = "uq_session_notes_dosing_session_id"
TRIGGER = "session_notes_dosing_session_fixed"
FIXED = "the dosing session a note documents never changes"

KINDS_BEFORE = "kind IN ('preparation', 'integration')"
KINDS_AFTER = "kind IN ('preparation', 'integration', 'dosing')"
PAIRED = (f"(kind = 'dosing' AND {COLUMN} IS NOT NULL) OR (kind <> 'dosing' AND {COLUMN} IS NULL)")
PAIRED_NAME = "dosing_note_names_its_session"

#: the kind clause as migration 0007 created it, and what replaces it on SQLite
KIND_CLAUSE = f"CONSTRAINT ck_session_notes_known_kind CHECK ({KINDS_BEFORE})"
NEW_CLAUSES = (f"CONSTRAINT ck_session_notes_known_kind CHECK ({KINDS_AFTER}), \n\t"
               f"CONSTRAINT ck_session_notes_{PAIRED_NAME} CHECK ({PAIRED})")


def _edit_sqlite_schema(old: str, new: str) -> None:
    """Replace `old` (found exactly once) by `new` in the table's CREATE statement; then check
    that every row meets the statement's constraints."""
    bind = op.get_bind()
    sql = bind.execute(sa.text("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = :t"),
                       {"t": TABLE}).scalar_one()
    if sql.count(old) != 1:
        raise RuntimeError(f"{TABLE} is not as migrations 0007 and 0027 left it; its CHECK was not changed.")
    version = bind.execute(sa.text("PRAGMA schema_version")).scalar_one()
    bind.execute(sa.text("PRAGMA writable_schema = ON"))
    bind.execute(sa.text("UPDATE sqlite_master SET sql = :sql WHERE type = 'table' AND name = :t"),
                 {"sql": sql.replace(old, new), "t": TABLE})
    bind.execute(sa.text(f"PRAGMA schema_version = {version + 1}"))
    bind.execute(sa.text("PRAGMA writable_schema = OFF"))
    problems = bind.execute(sa.text(f"PRAGMA quick_check({TABLE})")).scalars().all()
    if problems != ["ok"]:
        raise RuntimeError(f"{TABLE}: quick_check after the schema edit: {'; '.join(problems)}")


def _upgrade_sqlite() -> None:
    op.execute(f"ALTER TABLE {TABLE} ADD COLUMN {COLUMN} INTEGER CONSTRAINT {FOREIGN_KEY} "
               "REFERENCES dosing_sessions (id)")
    _edit_sqlite_schema(KIND_CLAUSE, NEW_CLAUSES)
    op.execute(f"CREATE TRIGGER {TRIGGER} BEFORE UPDATE ON {TABLE} "
               f"WHEN NEW.{COLUMN} IS NOT OLD.{COLUMN} BEGIN SELECT RAISE(ABORT, '{FIXED}'); END")


def _upgrade_postgresql() -> None:
    op.add_column(TABLE, sa.Column(COLUMN, sa.Integer(), nullable=True))
    op.create_foreign_key(FOREIGN_KEY, TABLE, "dosing_sessions", [COLUMN], ["id"])
    op.drop_constraint(op.f("ck_session_notes_known_kind"), TABLE, type_="check")
    op.create_check_constraint("known_kind", TABLE, KINDS_AFTER)
    op.create_check_constraint(PAIRED_NAME, TABLE, PAIRED)
    op.execute(f"""CREATE FUNCTION {TRIGGER}() RETURNS trigger AS $$
       BEGIN
         IF NEW.{COLUMN} IS DISTINCT FROM OLD.{COLUMN} THEN
           RAISE EXCEPTION '{FIXED}';
         END IF;
         RETURN NEW;
       END; $$ LANGUAGE plpgsql""")
    op.execute(f"CREATE TRIGGER {TRIGGER} BEFORE UPDATE ON {TABLE} FOR EACH ROW EXECUTE FUNCTION {TRIGGER}()")


def upgrade():
    if op.get_bind().dialect.name == "sqlite":
        _upgrade_sqlite()
    else:
        _upgrade_postgresql()
    op.create_index(INDEX, TABLE, [COLUMN], unique=True, sqlite_where=sa.text("discarded_at IS NULL"),
                    postgresql_where=sa.text("discarded_at IS NULL"))


def downgrade():
    bind = op.get_bind()
    kept = bind.execute(sa.text(f"SELECT count(*) FROM {TABLE} WHERE kind = 'dosing'")).scalar_one()
    if kept:
        raise RuntimeError(f"{TABLE} holds {kept} dosing-session note(s); notes are never deleted, and the earlier "
                           "schema does not know them, so this downgrade stops here.")
    op.drop_index(INDEX, table_name=TABLE)
    if bind.dialect.name == "sqlite":
        op.execute(f"DROP TRIGGER IF EXISTS {TRIGGER}")
        _edit_sqlite_schema(NEW_CLAUSES, KIND_CLAUSE)
        # ALTER TABLE DROP COLUMN (SQLite 3.35+) keeps the table and its triggers
        op.execute(f"ALTER TABLE {TABLE} DROP COLUMN {COLUMN}")
        return
    op.execute(f"DROP TRIGGER IF EXISTS {TRIGGER} ON {TABLE}")
    op.execute(f"DROP FUNCTION IF EXISTS {TRIGGER}()")
    op.drop_constraint(op.f(f"ck_session_notes_{PAIRED_NAME}"), TABLE, type_="check")
    op.drop_constraint(op.f("ck_session_notes_known_kind"), TABLE, type_="check")
    op.create_check_constraint("known_kind", TABLE, KINDS_BEFORE)
    op.drop_constraint(FOREIGN_KEY, TABLE, type_="foreignkey")
    op.drop_column(TABLE, COLUMN)
