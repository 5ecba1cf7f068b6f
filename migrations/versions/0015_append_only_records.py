"""append-only records: addenda, measures, formulation history, alert acknowledgements,
releases of information and unsaved work; digests of addenda, measures and releases

Revision ID: 0015_append_only_records
Revises: 0014_draft_notes_index
Create Date: 2026-11-22 09:00:00

The application never changed these rows, but the database let any path do it (issue 17,
point 3). Triggers on both engines now refuse every UPDATE and DELETE except the one-way
change each record has:
- a measure is voided once, with a reason;
- a safety alert is acknowledged once;
- a release is revoked, or its revocation brought forward (never pushed back or withdrawn);
- unsaved work has its text cleared when it is recovered or superseded, then nothing.
Addenda, measures and releases get a SHA-256 of their content (`flask signatures verify`),
filled here for earlier rows with the app's own canonical form. Text kept for recovery
that was already recovered is cleared before the guard goes on (issue 17, point 5).
Row-level triggers do not fire on restore (SQLite copies pages; pg_restore loads data
before it creates triggers), and only UPDATE and DELETE are guarded: inserts stay free.
"""
from alembic import op
import sqlalchemy as sa

from ketamine_integration.append_only import digest
from ketamine_integration.db_types import UTCDateTime


# revision identifiers, used by Alembic.
revision = '0015_append_only_records'
down_revision = '0014_draft_notes_index'
branch_labels = None
depends_on = None

#: table -> (columns frozen once written, one-way columns, SQL condition allowing their change)
GUARDS = {
    "note_addenda": (("id", "note_id", "author_id", "created_at", "body", "content_digest"), (), None),
    "dosing_addenda": (("id", "dosing_session_id", "author_id", "created_at", "body", "content_digest"), (), None),
    "case_formulations": (("id", "course_id", "revision", "content", "author_id", "saved_at"), (), None),
    "measure_responses": (
        ("id", "patient_id", "course_id", "measure", "administered_on", "answers", "difficulty", "total", "band",
         "entered_by_id", "created_at", "content_digest"),
        ("voided_at", "void_reason"), "OLD.voided_at IS NULL AND NEW.voided_at IS NOT NULL"),
    "safety_alerts": (
        ("id", "patient_id", "course_id", "measure_response_id", "item_score", "raised_at"),
        ("acknowledged_at", "acknowledged_by_id", "acknowledgement"),
        "OLD.acknowledged_at IS NULL AND NEW.acknowledged_at IS NOT NULL"),
    "releases_of_information": (
        ("id", "patient_id", "recipient_user_id", "recipient_name", "categories", "purpose", "effective_on",
         "expires_on", "created_by_id", "created_at", "content_digest"),
        ("revoked_on", "revoked_by_id"),
        "NEW.revoked_on IS NOT NULL AND (OLD.revoked_on IS NULL OR NEW.revoked_on < OLD.revoked_on)"),
    "unsaved_work": (
        ("id", "user_id", "path", "submitted_at"), ("form", "recovered_at"),
        "OLD.recovered_at IS NULL AND NEW.recovered_at IS NOT NULL AND CAST(NEW.form AS TEXT) = '{}'"),
}

#: table -> the columns its digest covers (ketamine_integration.append_only.DIGESTED at this revision)
DIGESTED = {
    "note_addenda": (("note_id", sa.Integer()), ("author_id", sa.Integer()), ("created_at", UTCDateTime()),
                     ("body", sa.Text())),
    "dosing_addenda": (("dosing_session_id", sa.Integer()), ("author_id", sa.Integer()),
                       ("created_at", UTCDateTime()), ("body", sa.Text())),
    "measure_responses": (("patient_id", sa.Integer()), ("course_id", sa.Integer()), ("measure", sa.String()),
                          ("administered_on", sa.Date()), ("answers", sa.JSON()), ("difficulty", sa.String()),
                          ("total", sa.Integer()), ("band", sa.String()), ("entered_by_id", sa.Integer()),
                          ("created_at", UTCDateTime())),
    "releases_of_information": (("patient_id", sa.Integer()), ("recipient_user_id", sa.Integer()),
                                ("recipient_name", sa.String()), ("categories", sa.JSON()),
                                ("purpose", sa.String()), ("effective_on", sa.Date()), ("expires_on", sa.Date()),
                                ("created_by_id", sa.Integer()), ("created_at", UTCDateTime())),
}


def _message(table: str) -> str:
    return f"{table} rows are append-only"


def _changed(columns, dialect: str) -> str:
    if dialect == "postgresql":  # json has no equality operator: compare the text
        return " OR ".join(f"NEW.{c}::text IS DISTINCT FROM OLD.{c}::text" for c in columns)
    return " OR ".join(f"NEW.{c} IS NOT OLD.{c}" for c in columns)


def _refused(table: str, dialect: str) -> str:
    """The condition on an UPDATE that the guard refuses."""
    frozen, one_way, allowed = GUARDS[table]
    condition = _changed(frozen, dialect)
    if one_way:
        condition += f" OR (({_changed(one_way, dialect)}) AND NOT ({allowed}))"
    return condition


def _postgres_statements():
    for table in GUARDS:
        yield f"""CREATE FUNCTION {table}_append_only() RETURNS trigger AS $$
           BEGIN
             IF TG_OP = 'DELETE' OR {_refused(table, 'postgresql')} THEN
               RAISE EXCEPTION '{_message(table)}';
             END IF;
             RETURN NEW;
           END; $$ LANGUAGE plpgsql"""
        yield f"""CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table}
           FOR EACH ROW EXECUTE FUNCTION {table}_append_only()"""


def _sqlite_statements():
    raise_ = "BEGIN SELECT RAISE(ABORT, '{}'); END"
    for table in GUARDS:
        yield (f"CREATE TRIGGER {table}_append_only_update BEFORE UPDATE ON {table} "
               f"WHEN {_refused(table, 'sqlite')} " + raise_.format(_message(table)))
        yield f"CREATE TRIGGER {table}_append_only_delete BEFORE DELETE ON {table} " + raise_.format(_message(table))


def _fill_digests(bind) -> None:
    for name, columns in DIGESTED.items():
        table = sa.table(name, sa.column("id", sa.Integer()), sa.column("content_digest", sa.String()),
                         *(sa.column(c, type_) for c, type_ in columns))
        rows = bind.execute(sa.select(table).order_by(table.c.id)).all()
        update = table.update().where(table.c.id == sa.bindparam("row_id")).values(
            content_digest=sa.bindparam("new_digest"))
        if rows:
            bind.execute(update, [{"row_id": row.id, "new_digest": digest(name, row._mapping)} for row in rows])


def upgrade():
    bind = op.get_bind()
    for table in DIGESTED:
        op.add_column(table, sa.Column("content_digest", sa.String(length=64), nullable=True))
    _fill_digests(bind)
    # Text kept for recovery and already recovered: delete it before the guard allows no rewrite.
    op.execute("UPDATE unsaved_work SET form = '{}' WHERE recovered_at IS NOT NULL")
    dialect = bind.dialect.name
    statements = _postgres_statements() if dialect == "postgresql" else _sqlite_statements() \
        if dialect == "sqlite" else ()
    for statement in statements:
        op.execute(statement)


def downgrade():
    dialect = op.get_bind().dialect.name
    for table in GUARDS:
        if dialect == "postgresql":
            op.execute(f"DROP TRIGGER IF EXISTS {table}_append_only ON {table}")
            op.execute(f"DROP FUNCTION IF EXISTS {table}_append_only()")
        elif dialect == "sqlite":
            op.execute(f"DROP TRIGGER IF EXISTS {table}_append_only_update")
            op.execute(f"DROP TRIGGER IF EXISTS {table}_append_only_delete")
    for table in DIGESTED:
        op.drop_column(table, "content_digest")
