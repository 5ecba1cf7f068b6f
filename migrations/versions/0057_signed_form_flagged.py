"""signed forms keep how many answers they flag, so the prescriber's waiting list finds them by a column

Revision ID: 0057_signed_form_flagged
Revises: 0056_signed_forms
Create Date: 2026-12-06 01:00:00

Issue 26 (integrity and efficiency review, point 13). The waiting list found flagged answers with
LIKE '"flag_reason":"' over every signed document: a scan of the documents, and a reading of the JSON
text that rested on its exact layout. A signed form now keeps `flagged_count`, written at signing from
its document; `flask signatures verify` recounts it from the document.

Existing rows are counted here, in Python and in batches, from their documents (a question whose
`flag_reason` is set), and only those with flags are written. The table is append-only (migration
0056: a trigger refusing every UPDATE and DELETE); the trigger is lifted for the backfill and put back
as it was, within the migration's transaction, so the new column is frozen with the rest of the row.
The counting is written out here, not imported, so this migration reads the same whatever the app
later becomes.
"""
import json

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0057_signed_form_flagged'
down_revision = '0056_signed_forms'
branch_labels = None
depends_on = None

TABLE = "signed_forms"
MESSAGE = f"{TABLE} rows are append-only"
#: rows read per batch
BATCH = 500


def _flag_count(document: str) -> int:
    """The answers a signed document (migration 0056's schema 1) flags."""
    return sum(1 for section in json.loads(document)["sections"] for q in section["questions"]
               if q["flag_reason"])


def _counts(bind):
    """(id, flagged answers) of each signed form that has any, read in batches by id."""
    after = 0
    while True:
        rows = bind.execute(sa.text(f"SELECT id, document FROM {TABLE} WHERE id > :after ORDER BY id LIMIT {BATCH}"),
                            {"after": after}).all()
        if not rows:
            return
        yield from ((row_id, _flag_count(document)) for row_id, document in rows if _flag_count(document))
        after = rows[-1][0]


def _lift_guard(bind) -> None:
    if bind.dialect.name == "postgresql":
        op.execute(f"ALTER TABLE {TABLE} DISABLE TRIGGER {TABLE}_append_only")
    else:
        op.execute(f"DROP TRIGGER IF EXISTS {TABLE}_append_only_update")


def _restore_guard(bind) -> None:
    """Migration 0056's guard, as it made it."""
    if bind.dialect.name == "postgresql":
        op.execute(f"ALTER TABLE {TABLE} ENABLE TRIGGER {TABLE}_append_only")
    else:
        op.execute(f"CREATE TRIGGER {TABLE}_append_only_update BEFORE UPDATE ON {TABLE} "
                   f"BEGIN SELECT RAISE(ABORT, '{MESSAGE}'); END")


def upgrade():
    op.add_column(TABLE, sa.Column("flagged_count", sa.Integer(), nullable=False, server_default="0"))
    bind = op.get_bind()
    counts = list(_counts(bind))
    if not counts:
        return
    _lift_guard(bind)
    update = sa.text(f"UPDATE {TABLE} SET flagged_count = :count WHERE id = :id")
    for start in range(0, len(counts), BATCH):
        bind.execute(update, [{"id": row_id, "count": count} for row_id, count in counts[start:start + BATCH]])
    _restore_guard(bind)


def downgrade():
    op.drop_column(TABLE, "flagged_count")
