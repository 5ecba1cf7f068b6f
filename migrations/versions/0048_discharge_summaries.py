"""discharge summaries: the signed document written when a course ends, its addenda, and the copies
sent to prescribers

Revision ID: 0048_discharge_summaries
Revises: 0046_technique_use
Create Date: 2026-12-05 00:00:00

Issue 24, point 6. A summary is signed and locked like a session note (migration 0007): once signed,
its content, what it froze and its signature never change, and no summary is ever deleted (a draft
is kept as written; the course it belongs to is archived, never deleted). Addenda and the copies
sent to prescribers are append-only (as migration 0039's tables).
"""
from alembic import op
import sqlalchemy as sa

from ketamine_integration.db.types import UTCDateTime


# revision identifiers, used by Alembic.
revision = '0048_discharge_summaries'
down_revision = '0045_treatment_plans'
branch_labels = None
depends_on = None

#: discharge_summaries columns a signature freezes (all but bookkeeping: updated_at, version)
FROZEN = ("id", "course_id", "patient_id", "author_id", "status", "written", "computed", "created_at", "signed_at",
          "signed_by_id", "content_digest")
APPEND_ONLY = ("discharge_addenda", "discharge_copies")


def upgrade():
    op.create_table('discharge_summaries',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('course_id', sa.Integer(), nullable=False),
    sa.Column('patient_id', sa.Integer(), nullable=False),
    sa.Column('author_id', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=10), nullable=False),
    sa.Column('written', sa.JSON(), nullable=False),
    sa.Column('computed', sa.JSON(), nullable=True),
    sa.Column('created_at', UTCDateTime(), nullable=False),
    sa.Column('updated_at', UTCDateTime(), nullable=False),
    sa.Column('signed_at', UTCDateTime(), nullable=True),
    sa.Column('signed_by_id', sa.Integer(), nullable=True),
    sa.Column('content_digest', sa.String(length=64), nullable=True),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.CheckConstraint("status IN ('draft', 'signed')", name=op.f('ck_discharge_summaries_known_status')),
    sa.CheckConstraint("status = 'draft' OR (computed IS NOT NULL AND signed_at IS NOT NULL "
                       "AND signed_by_id IS NOT NULL AND content_digest IS NOT NULL)",
                       name=op.f('ck_discharge_summaries_signed_is_complete')),
    sa.ForeignKeyConstraint(['author_id'], ['users.id'], name=op.f('fk_discharge_summaries_author_id_users')),
    sa.ForeignKeyConstraint(['course_id'], ['treatment_courses.id'],
                            name=op.f('fk_discharge_summaries_course_id_treatment_courses')),
    sa.ForeignKeyConstraint(['patient_id'], ['patients.id'], name=op.f('fk_discharge_summaries_patient_id_patients')),
    sa.ForeignKeyConstraint(['signed_by_id'], ['users.id'], name=op.f('fk_discharge_summaries_signed_by_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_discharge_summaries')),
    sa.UniqueConstraint('course_id', name=op.f('uq_discharge_summaries_course_id'))
    )
    op.create_index(op.f('ix_discharge_summaries_patient_id'), 'discharge_summaries', ['patient_id'])
    op.create_table('discharge_addenda',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('summary_id', sa.Integer(), nullable=False),
    sa.Column('author_id', sa.Integer(), nullable=False),
    sa.Column('created_at', UTCDateTime(), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('content_digest', sa.String(length=64), nullable=True),
    sa.ForeignKeyConstraint(['author_id'], ['users.id'], name=op.f('fk_discharge_addenda_author_id_users')),
    sa.ForeignKeyConstraint(['summary_id'], ['discharge_summaries.id'],
                            name=op.f('fk_discharge_addenda_summary_id_discharge_summaries')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_discharge_addenda'))
    )
    op.create_index(op.f('ix_discharge_addenda_summary_id'), 'discharge_addenda', ['summary_id'])
    op.create_table('discharge_copies',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('summary_id', sa.Integer(), nullable=False),
    sa.Column('patient_id', sa.Integer(), nullable=False),
    sa.Column('course_id', sa.Integer(), nullable=False),
    sa.Column('recipient_id', sa.Integer(), nullable=False),
    sa.Column('release_ids', sa.JSON(), nullable=False),
    sa.Column('categories', sa.JSON(), nullable=False),
    sa.Column('created_by_id', sa.Integer(), nullable=False),
    sa.Column('created_at', UTCDateTime(), nullable=False),
    sa.Column('pdf', sa.LargeBinary(), nullable=False),
    sa.Column('content_hash', sa.String(length=64), nullable=False),
    sa.ForeignKeyConstraint(['course_id'], ['treatment_courses.id'],
                            name=op.f('fk_discharge_copies_course_id_treatment_courses')),
    sa.ForeignKeyConstraint(['created_by_id'], ['users.id'], name=op.f('fk_discharge_copies_created_by_id_users')),
    sa.ForeignKeyConstraint(['patient_id'], ['patients.id'], name=op.f('fk_discharge_copies_patient_id_patients')),
    sa.ForeignKeyConstraint(['recipient_id'], ['users.id'], name=op.f('fk_discharge_copies_recipient_id_users')),
    sa.ForeignKeyConstraint(['summary_id'], ['discharge_summaries.id'],
                            name=op.f('fk_discharge_copies_summary_id_discharge_summaries')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_discharge_copies'))
    )
    for column in ("summary_id", "patient_id", "course_id", "recipient_id"):
        op.create_index(op.f(f'ix_discharge_copies_{column}'), 'discharge_copies', [column])
    _guard(op.get_bind().dialect.name)


def _guard(dialect: str) -> None:
    """A signed summary never changes and no summary is deleted; addenda and copies are append-only."""
    if dialect == "postgresql":
        changed = " OR ".join(f"NEW.{c}::text IS DISTINCT FROM OLD.{c}::text" for c in FROZEN)
        op.execute(f"""CREATE FUNCTION discharge_summaries_signed_locked() RETURNS trigger AS $$
           BEGIN
             IF TG_OP = 'DELETE' THEN
               RAISE EXCEPTION 'a discharge summary is never deleted';
             END IF;
             IF OLD.status = 'signed' AND ({changed}) THEN
               RAISE EXCEPTION 'a signed discharge summary cannot change; add an addendum';
             END IF;
             RETURN NEW;
           END; $$ LANGUAGE plpgsql""")
        op.execute("CREATE TRIGGER discharge_summaries_signed_locked BEFORE UPDATE OR DELETE ON discharge_summaries "
                   "FOR EACH ROW EXECUTE FUNCTION discharge_summaries_signed_locked()")
        for table in APPEND_ONLY:
            op.execute(f"""CREATE FUNCTION {table}_append_only() RETURNS trigger AS $$
               BEGIN
                 RAISE EXCEPTION '{table} rows are append-only';
               END; $$ LANGUAGE plpgsql""")
            op.execute(f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
                       f"FOR EACH ROW EXECUTE FUNCTION {table}_append_only()")
    elif dialect == "sqlite":
        changed = " OR ".join(f"NEW.{c} IS NOT OLD.{c}" for c in FROZEN)
        op.execute("CREATE TRIGGER discharge_summaries_signed_no_update BEFORE UPDATE ON discharge_summaries "
                   f"WHEN OLD.status = 'signed' AND ({changed}) "
                   "BEGIN SELECT RAISE(ABORT, 'a signed discharge summary cannot change; add an addendum'); END")
        op.execute("CREATE TRIGGER discharge_summaries_no_delete BEFORE DELETE ON discharge_summaries "
                   "BEGIN SELECT RAISE(ABORT, 'a discharge summary is never deleted'); END")
        for table in APPEND_ONLY:
            for when in ("UPDATE", "DELETE"):
                op.execute(f"CREATE TRIGGER {table}_append_only_{when.lower()} BEFORE {when} ON {table} "
                           f"BEGIN SELECT RAISE(ABORT, '{table} rows are append-only'); END")


def downgrade():
    dialect = op.get_bind().dialect.name
    if dialect == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS discharge_summaries_signed_locked ON discharge_summaries")
        op.execute("DROP FUNCTION IF EXISTS discharge_summaries_signed_locked()")
        for table in APPEND_ONLY:
            op.execute(f"DROP TRIGGER IF EXISTS {table}_append_only ON {table}")
            op.execute(f"DROP FUNCTION IF EXISTS {table}_append_only()")
    op.drop_table('discharge_copies')
    op.drop_table('discharge_addenda')
    op.drop_table('discharge_summaries')
