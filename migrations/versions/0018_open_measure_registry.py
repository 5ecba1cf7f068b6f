"""open measure registry: measure_responses.measure loses its CHECK of the known keys

Revision ID: 0018_open_measure_registry
Revises: 0017_append_only_mends
Create Date: 2026-11-25 09:00:00

The measures are registry entries (ketamine_integration/domain/measures.py, issue 18 point 4):
a new measure is one more entry, and the key stored with each response is checked against the
registry by the service. A CHECK listing today's keys would need a migration per measure, so
it goes.

SQLite cannot drop a constraint in place, and a table rebuild (batch mode) cannot be used
here: it drops the old table while safety_alerts rows point at it, which the foreign keys
refuse, and they can only be switched off outside the migration's transaction. Removing a
CHECK changes nothing stored, so SQLite's documented procedure for it applies instead
(sqlite.org/lang_altertable.html, "Making Other Kinds Of Table Schema Changes"): the table's
CREATE statement is edited in the schema table and the schema version bumped, in the
migration's transaction. Data, indexes and the append-only triggers of migration 0015 are not
touched.

The downgrade puts the CHECK back; it refuses (changing nothing) while responses of other
measures are stored, since they cannot be deleted (append-only) and the CHECK would refuse them.
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0018_open_measure_registry'
down_revision = '0017_append_only_mends'
branch_labels = None
depends_on = None

TABLE = "measure_responses"
CONSTRAINT = "ck_measure_responses_known_measure"
#: the keys the CHECK of migration 0007 allowed (the downgrade's target)
KNOWN_BEFORE = ("phq9", "gad7")
KNOWN_CONDITION = "measure IN (" + ", ".join(f"'{key}'" for key in KNOWN_BEFORE) + ")"


#: the clause of migration 0007's CREATE TABLE, and the one it follows
CLAUSE = f"CONSTRAINT {CONSTRAINT} CHECK ({KNOWN_CONDITION}), \n\t"
ANCHOR = "CONSTRAINT pk_measure_responses PRIMARY KEY (id), \n\t"


def _edit_sqlite_schema(old: str, new: str) -> None:
    """Replace `old` (found exactly once) by `new` in the table's CREATE statement."""
    bind = op.get_bind()
    sql = bind.execute(sa.text("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = :t"),
                       {"t": TABLE}).scalar_one()
    if sql.count(old) != 1:
        raise RuntimeError(f"{TABLE} is not as migration 0007 created it; its CHECK was not changed.")
    version = bind.execute(sa.text("PRAGMA schema_version")).scalar_one()
    bind.execute(sa.text("PRAGMA writable_schema = ON"))
    bind.execute(sa.text("UPDATE sqlite_master SET sql = :sql WHERE type = 'table' AND name = :t"),
                 {"sql": sql.replace(old, new), "t": TABLE})
    bind.execute(sa.text(f"PRAGMA schema_version = {version + 1}"))
    bind.execute(sa.text("PRAGMA writable_schema = OFF"))
    problems = bind.execute(sa.text("PRAGMA quick_check")).scalars().all()
    if problems != ["ok"]:
        raise RuntimeError(f"{TABLE}: quick_check after the schema edit: {'; '.join(problems)}")


def upgrade():
    if op.get_bind().dialect.name == "sqlite":
        _edit_sqlite_schema(ANCHOR + CLAUSE, ANCHOR)
    else:
        op.drop_constraint(op.f(CONSTRAINT), TABLE, type_="check")


def downgrade():
    bind = op.get_bind()
    others = bind.execute(sa.text(f"SELECT DISTINCT measure FROM {TABLE} WHERE NOT ({KNOWN_CONDITION}) "
                                  "ORDER BY measure")).scalars().all()
    if others:
        raise RuntimeError(f"{TABLE} holds responses of measures the earlier schema does not know "
                           f"({', '.join(others)}); they are append-only, so this downgrade stops here.")
    if bind.dialect.name == "sqlite":
        _edit_sqlite_schema(ANCHOR, ANCHOR + CLAUSE)
    else:
        op.create_check_constraint("known_measure", TABLE, KNOWN_CONDITION)
