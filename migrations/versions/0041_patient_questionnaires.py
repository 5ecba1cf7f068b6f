"""patient questionnaires: a measure response says whether the patient completed it (in the portal)
and which moment of the protocol's schedule it answered

Revision ID: 0041_patient_questionnaires
Revises: 0040_journal
Create Date: 2026-12-12 09:00:00

Issue 23, point 3. `measure_responses.completed_by_patient` (false for every earlier row: a
clinician entered it) and `measure_responses.moment` (the key of the schedule's moment the patient
answered, domain/questionnaires.py; NULL for a clinician's entry). A response the patient completed
has no staff user behind it, so `entered_by_id` loses NOT NULL, and a CHECK ties the two together:
a clinician's entry names who entered it, a patient's names no user.

SQLite cannot change NULL-ness in place, and rebuilding the table is refused while safety_alerts
point at it (migration 0018 says why): the table's CREATE statement is edited in the schema table
instead, as 0018 did, within the migration's transaction. Existing rows all meet the new CHECK
(each names its clinician). The append-only guard of migration 0015 is made again so that it
freezes the two new columns as well (SQLite: the triggers; PostgreSQL: the trigger function).

The downgrade refuses while patient-completed responses exist: they are append-only, and the
earlier schema cannot hold a response without a clinician.
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0041_patient_questionnaires'
down_revision = '0040_journal'
branch_labels = None
depends_on = None

TABLE = "measure_responses"
BEFORE = ("id", "patient_id", "course_id", "measure", "administered_on", "answers", "difficulty", "total", "band",
          "entered_by_id", "created_at", "content_digest")
AFTER = (*BEFORE, "completed_by_patient", "moment")
ONE_WAY = ("voided_at", "void_reason")
ALLOWED = "OLD.voided_at IS NULL AND NEW.voided_at IS NOT NULL"
CHECK_NAME = "ck_measure_responses_who_completed"
CHECK = ("(completed_by_patient AND entered_by_id IS NULL) OR "
         "(NOT completed_by_patient AND entered_by_id IS NOT NULL)")
#: SQLite: the column as migration 0007 made it, and as it is now
NOT_NULL, NULLABLE = "entered_by_id INTEGER NOT NULL, \n", "entered_by_id INTEGER, \n"
#: SQLite: the table constraint that follows the primary key
ANCHOR = "CONSTRAINT pk_measure_responses PRIMARY KEY (id), \n\t"
CLAUSE = f"CONSTRAINT {CHECK_NAME} CHECK ({CHECK}), \n\t"


def _message() -> str:
    return f"{TABLE} rows are append-only"


def _changed(columns, dialect: str) -> str:
    if dialect == "postgresql":  # json has no equality operator: compare the text
        return " OR ".join(f"NEW.{c}::text IS DISTINCT FROM OLD.{c}::text" for c in columns)
    return " OR ".join(f"NEW.{c} IS NOT OLD.{c}" for c in columns)


def _refused(frozen, dialect: str) -> str:
    return f"{_changed(frozen, dialect)} OR (({_changed(ONE_WAY, dialect)}) AND NOT ({ALLOWED}))"


def _guard(frozen) -> None:
    """The append-only guard of migration 0015, freezing `frozen`."""
    dialect = op.get_bind().dialect.name
    if dialect == "postgresql":
        op.execute(f"""CREATE OR REPLACE FUNCTION {TABLE}_append_only() RETURNS trigger AS $$
           BEGIN
             IF TG_OP = 'DELETE' OR {_refused(frozen, dialect)} THEN
               RAISE EXCEPTION '{_message()}';
             END IF;
             RETURN NEW;
           END; $$ LANGUAGE plpgsql""")
    elif dialect == "sqlite":
        raise_ = f"BEGIN SELECT RAISE(ABORT, '{_message()}'); END"
        op.execute(f"DROP TRIGGER IF EXISTS {TABLE}_append_only_update")
        op.execute(f"DROP TRIGGER IF EXISTS {TABLE}_append_only_delete")
        op.execute(f"CREATE TRIGGER {TABLE}_append_only_update BEFORE UPDATE ON {TABLE} "
                   f"WHEN {_refused(frozen, dialect)} {raise_}")
        op.execute(f"CREATE TRIGGER {TABLE}_append_only_delete BEFORE DELETE ON {TABLE} {raise_}")


def _edit_sqlite_schema(*replacements: tuple[str, str]) -> None:
    """Replace each `old` (found exactly once) by its `new` in the table's CREATE statement."""
    bind = op.get_bind()
    sql = bind.execute(sa.text("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = :t"),
                       {"t": TABLE}).scalar_one()
    for old, new in replacements:
        if sql.count(old) != 1:
            raise RuntimeError(f"{TABLE} is not as the earlier migrations left it; it was not changed.")
        sql = sql.replace(old, new)
    version = bind.execute(sa.text("PRAGMA schema_version")).scalar_one()
    bind.execute(sa.text("PRAGMA writable_schema = ON"))
    bind.execute(sa.text("UPDATE sqlite_master SET sql = :sql WHERE type = 'table' AND name = :t"),
                 {"sql": sql, "t": TABLE})
    bind.execute(sa.text(f"PRAGMA schema_version = {version + 1}"))
    bind.execute(sa.text("PRAGMA writable_schema = OFF"))
    problems = bind.execute(sa.text("PRAGMA quick_check")).scalars().all()
    if problems != ["ok"]:
        raise RuntimeError(f"{TABLE}: quick_check after the schema edit: {'; '.join(problems)}")


def upgrade():
    op.add_column(TABLE, sa.Column("completed_by_patient", sa.Boolean(), server_default=sa.false(), nullable=False))
    op.add_column(TABLE, sa.Column("moment", sa.String(length=60), nullable=True))
    if op.get_bind().dialect.name == "sqlite":
        _edit_sqlite_schema((NOT_NULL, NULLABLE), (ANCHOR, ANCHOR + CLAUSE))
    else:
        op.alter_column(TABLE, "entered_by_id", existing_type=sa.Integer(), nullable=True)
        op.create_check_constraint("who_completed", TABLE, CHECK)
    _guard(AFTER)


def downgrade():
    bind = op.get_bind()
    patients = bind.execute(sa.text(f"SELECT count(*) FROM {TABLE} WHERE completed_by_patient")).scalar_one()
    if patients:
        raise RuntimeError(f"{TABLE} holds {patients} responses patients completed; they are append-only and the "
                           "earlier schema cannot hold them, so this downgrade stops here.")
    _guard(BEFORE)  # first: the guard must not name the columns that go
    if bind.dialect.name == "sqlite":
        _edit_sqlite_schema((NULLABLE, NOT_NULL), (ANCHOR + CLAUSE, ANCHOR))
    else:
        op.drop_constraint(op.f(CHECK_NAME), TABLE, type_="check")
        op.alter_column(TABLE, "entered_by_id", existing_type=sa.Integer(), nullable=False)
    op.drop_column(TABLE, "moment")
    op.drop_column(TABLE, "completed_by_patient")
