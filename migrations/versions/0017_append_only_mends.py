"""append-only mends: formulation revisions and preparation entries get a content digest, which
their guards freeze

Revision ID: 0017_append_only_mends
Revises: 0016_history_records
Create Date: 2026-11-24 09:00:00

A second attack on issue 17, point 3 lifted the triggers as the database owner and rewrote a
formulation revision and a preparation entry; `flask signatures verify` had no digest to
recheck either. Both now get a SHA-256 of their content, filled here for earlier rows with the
app's own canonical form, and their guards (migrations 0015 and 0016) are remade so that the
digest is frozen with the rest. The other mends of that attack need no schema: one-way changes
carry their digest in the audit row, and REPLACE meets the delete triggers through a
connection setting (recursive_triggers).
"""
from alembic import op
import sqlalchemy as sa

from ketamine_integration.append_only import digest
from ketamine_integration.db_types import UTCDateTime


# revision identifiers, used by Alembic.
revision = '0017_append_only_mends'
down_revision = '0016_history_records'
branch_labels = None
depends_on = None

FORMULATION = ("id", "course_id", "revision", "content", "author_id", "saved_at")
PREPARATION = ("id", "course_id", "item", "completed_on", "note", "recorded_at", "recorded_by_id")
PREPARATION_VOID = (("voided_at", "voided_by_id", "void_reason"),
                    "OLD.voided_at IS NULL AND NEW.voided_at IS NOT NULL AND NEW.voided_by_id IS NOT NULL "
                    "AND NEW.void_reason IS NOT NULL")

#: table -> (columns frozen once written, one-way columns, SQL condition allowing their change),
#: before (0015, 0016) and after this revision
GUARDS_BEFORE = {"case_formulations": (FORMULATION, (), None), "preparation_records": (PREPARATION, *PREPARATION_VOID)}
GUARDS_AFTER = {"case_formulations": ((*FORMULATION, "content_digest"), (), None),
                "preparation_records": ((*PREPARATION, "content_digest"), *PREPARATION_VOID)}

#: table -> the columns its digest covers (ketamine_integration.append_only.DIGESTED at this revision)
DIGESTED = {
    "case_formulations": (("course_id", sa.Integer()), ("revision", sa.Integer()), ("content", sa.JSON()),
                          ("author_id", sa.Integer()), ("saved_at", UTCDateTime())),
    "preparation_records": (("course_id", sa.Integer()), ("item", sa.String()), ("completed_on", sa.Date()),
                            ("note", sa.String()), ("recorded_by_id", sa.Integer()), ("recorded_at", UTCDateTime())),
}


def _message(table: str) -> str:
    return f"{table} rows are append-only"


def _changed(columns, dialect: str) -> str:
    if dialect == "postgresql":  # json has no equality operator: compare the text
        return " OR ".join(f"NEW.{c}::text IS DISTINCT FROM OLD.{c}::text" for c in columns)
    return " OR ".join(f"NEW.{c} IS NOT OLD.{c}" for c in columns)


def _refused(guard, dialect: str) -> str:
    frozen, one_way, allowed = guard
    condition = _changed(frozen, dialect)
    if one_way:
        condition += f" OR (({_changed(one_way, dialect)}) AND NOT ({allowed}))"
    return condition


def _remake_guards(guards) -> None:
    """Replace the UPDATE guard of each table (the DELETE guard stays as it is)."""
    dialect = op.get_bind().dialect.name
    for table, guard in guards.items():
        if dialect == "postgresql":  # the trigger calls the function by name: replacing it is enough
            op.execute(f"""CREATE OR REPLACE FUNCTION {table}_append_only() RETURNS trigger AS $$
               BEGIN
                 IF TG_OP = 'DELETE' OR {_refused(guard, dialect)} THEN
                   RAISE EXCEPTION '{_message(table)}';
                 END IF;
                 RETURN NEW;
               END; $$ LANGUAGE plpgsql""")
        elif dialect == "sqlite":
            op.execute(f"DROP TRIGGER IF EXISTS {table}_append_only_update")
            op.execute(f"CREATE TRIGGER {table}_append_only_update BEFORE UPDATE ON {table} "
                       f"WHEN {_refused(guard, dialect)} BEGIN SELECT RAISE(ABORT, '{_message(table)}'); END")


def _fill_digests(bind) -> None:
    for name, columns in DIGESTED.items():
        table = sa.table(name, sa.column("id", sa.Integer()), sa.column("content_digest", sa.String()),
                         *(sa.column(c, type_) for c, type_ in columns))
        rows = bind.execute(sa.select(table).order_by(table.c.id)).all()
        update = table.update().where(table.c.id == sa.bindparam("row_id")).values(
            content_digest=sa.bindparam("new_digest"))
        covered = tuple(c for c, _ in columns)
        if rows:
            bind.execute(update, [{"row_id": row.id, "new_digest": digest(name, row._mapping, covered)}
                                  for row in rows])


def upgrade():
    # The old guards do not know the new column, so it can be filled before they are remade.
    for table in DIGESTED:
        op.add_column(table, sa.Column("content_digest", sa.String(length=64), nullable=True))
    _fill_digests(op.get_bind())
    _remake_guards(GUARDS_AFTER)


def downgrade():
    _remake_guards(GUARDS_BEFORE)  # first: SQLite cannot drop a column a trigger names
    for table in DIGESTED:
        op.drop_column(table, "content_digest")
