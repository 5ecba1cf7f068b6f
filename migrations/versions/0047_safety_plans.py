"""safety plans: a patient's safety plan revisions (signed like notes), their addenda and signed reviews

Revision ID: 0047_safety_plans
Revises: 0045_treatment_plans
Create Date: 2026-12-05 00:00:00

Issue 24, point 4. `safety_plan_revisions` holds each version of a patient's safety plan (kept per
patient: it outlives a course): a draft is edited until it is signed, a signed one never changes and
no revision is ever deleted (triggers on both engines, as migration 0007 for notes). Addenda and
reviews are append-only: every UPDATE and DELETE refused (as migration 0039).
"""
from alembic import op
import sqlalchemy as sa

from ketamine_integration.db.types import UTCDateTime


# revision identifiers, used by Alembic.
revision = '0047_safety_plans'
down_revision = '0048_discharge_summaries'
branch_labels = None
depends_on = None

APPEND_ONLY = ("safety_plan_addenda", "safety_plan_reviews")
#: the columns a signature freezes (all of them)
FROZEN = ("id", "patient_id", "revision", "status", "content", "author_id", "created_at", "updated_at", "saves",
          "signed_at", "signed_by_id", "signature_digest")


def upgrade():
    op.create_table('safety_plan_revisions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('patient_id', sa.Integer(), nullable=False),
    sa.Column('revision', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=10), nullable=False),
    sa.Column('content', sa.JSON(), nullable=False),
    sa.Column('author_id', sa.Integer(), nullable=False),
    sa.Column('created_at', UTCDateTime(), nullable=False),
    sa.Column('updated_at', UTCDateTime(), nullable=False),
    sa.Column('saves', sa.Integer(), nullable=False),
    sa.Column('signed_at', UTCDateTime(), nullable=True),
    sa.Column('signed_by_id', sa.Integer(), nullable=True),
    sa.Column('signature_digest', sa.String(length=64), nullable=True),
    sa.CheckConstraint("status IN ('draft', 'signed')", name=op.f('ck_safety_plan_revisions_known_status')),
    sa.CheckConstraint("(status = 'signed') = (signed_at IS NOT NULL AND signed_by_id IS NOT NULL "
                       "AND signature_digest IS NOT NULL)", name=op.f('ck_safety_plan_revisions_signed_by_someone')),
    sa.ForeignKeyConstraint(['author_id'], ['users.id'], name=op.f('fk_safety_plan_revisions_author_id_users')),
    sa.ForeignKeyConstraint(['patient_id'], ['patients.id'], name=op.f('fk_safety_plan_revisions_patient_id_patients')),
    sa.ForeignKeyConstraint(['signed_by_id'], ['users.id'], name=op.f('fk_safety_plan_revisions_signed_by_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_safety_plan_revisions')),
    sa.UniqueConstraint('patient_id', 'revision', name=op.f('uq_safety_plan_revisions_patient_id_revision'))
    )
    op.create_index(op.f('ix_safety_plan_revisions_patient_id'), 'safety_plan_revisions', ['patient_id'])
    op.create_table('safety_plan_addenda',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('revision_id', sa.Integer(), nullable=False),
    sa.Column('author_id', sa.Integer(), nullable=False),
    sa.Column('created_at', UTCDateTime(), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('content_digest', sa.String(length=64), nullable=True),
    sa.ForeignKeyConstraint(['author_id'], ['users.id'], name=op.f('fk_safety_plan_addenda_author_id_users')),
    sa.ForeignKeyConstraint(['revision_id'], ['safety_plan_revisions.id'],
                            name=op.f('fk_safety_plan_addenda_revision_id_safety_plan_revisions')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_safety_plan_addenda'))
    )
    op.create_index(op.f('ix_safety_plan_addenda_revision_id'), 'safety_plan_addenda', ['revision_id'])
    op.create_table('safety_plan_reviews',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('patient_id', sa.Integer(), nullable=False),
    sa.Column('revision_id', sa.Integer(), nullable=False),
    sa.Column('reviewed_on', sa.Date(), nullable=False),
    sa.Column('reviewed_by_id', sa.Integer(), nullable=False),
    sa.Column('with_patient', sa.Boolean(), nullable=False),
    sa.Column('changes', sa.String(length=10), nullable=False),
    sa.Column('comment', sa.String(length=2000), nullable=True),
    sa.Column('created_at', UTCDateTime(), nullable=False),
    sa.Column('content_digest', sa.String(length=64), nullable=True),
    sa.CheckConstraint("changes IN ('none', 'revised')", name=op.f('ck_safety_plan_reviews_known_changes')),
    sa.ForeignKeyConstraint(['patient_id'], ['patients.id'], name=op.f('fk_safety_plan_reviews_patient_id_patients')),
    sa.ForeignKeyConstraint(['reviewed_by_id'], ['users.id'], name=op.f('fk_safety_plan_reviews_reviewed_by_id_users')),
    sa.ForeignKeyConstraint(['revision_id'], ['safety_plan_revisions.id'],
                            name=op.f('fk_safety_plan_reviews_revision_id_safety_plan_revisions')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_safety_plan_reviews'))
    )
    op.create_index(op.f('ix_safety_plan_reviews_patient_id'), 'safety_plan_reviews', ['patient_id'])
    dialect = op.get_bind().dialect.name
    for statement in (_postgres_statements() if dialect == "postgresql" else _sqlite_statements()):
        op.execute(statement)


def _postgres_statements():
    changed = " OR ".join(f"NEW.{c}::text IS DISTINCT FROM OLD.{c}::text" for c in FROZEN)
    yield f"""CREATE FUNCTION safety_plan_revisions_signed_locked() RETURNS trigger AS $$
       BEGIN
         IF TG_OP = 'DELETE' THEN
           RAISE EXCEPTION 'a safety plan revision is never deleted';
         END IF;
         IF OLD.status = 'signed' AND ({changed}) THEN
           RAISE EXCEPTION 'a signed safety plan revision cannot change; add an addendum or a new revision';
         END IF;
         RETURN NEW;
       END; $$ LANGUAGE plpgsql"""
    yield ("CREATE TRIGGER safety_plan_revisions_signed_locked BEFORE UPDATE OR DELETE ON safety_plan_revisions "
           "FOR EACH ROW EXECUTE FUNCTION safety_plan_revisions_signed_locked()")
    for table in APPEND_ONLY:
        yield f"""CREATE FUNCTION {table}_append_only() RETURNS trigger AS $$
           BEGIN
             RAISE EXCEPTION '{table} rows are append-only';
           END; $$ LANGUAGE plpgsql"""
        yield (f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
               f"FOR EACH ROW EXECUTE FUNCTION {table}_append_only()")


def _sqlite_statements():
    raise_ = "BEGIN SELECT RAISE(ABORT, '{}'); END"
    changed = " OR ".join(f"NEW.{c} IS NOT OLD.{c}" for c in FROZEN)
    yield ("CREATE TRIGGER safety_plan_revisions_signed_no_update BEFORE UPDATE ON safety_plan_revisions "
           f"WHEN OLD.status = 'signed' AND ({changed}) "
           + raise_.format("a signed safety plan revision cannot change; add an addendum or a new revision"))
    yield ("CREATE TRIGGER safety_plan_revisions_no_delete BEFORE DELETE ON safety_plan_revisions "
           + raise_.format("a safety plan revision is never deleted"))
    for table in APPEND_ONLY:
        for when in ("UPDATE", "DELETE"):
            yield (f"CREATE TRIGGER {table}_append_only_{when.lower()} BEFORE {when} ON {table} "
                   + raise_.format(f"{table} rows are append-only"))


def downgrade():
    if op.get_bind().dialect.name == "postgresql":
        for table in APPEND_ONLY:
            op.execute(f"DROP TRIGGER IF EXISTS {table}_append_only ON {table}")
            op.execute(f"DROP FUNCTION IF EXISTS {table}_append_only()")
        op.execute("DROP TRIGGER IF EXISTS safety_plan_revisions_signed_locked ON safety_plan_revisions")
        op.execute("DROP FUNCTION IF EXISTS safety_plan_revisions_signed_locked()")
    op.drop_index(op.f('ix_safety_plan_reviews_patient_id'), table_name='safety_plan_reviews')
    op.drop_table('safety_plan_reviews')
    op.drop_index(op.f('ix_safety_plan_addenda_revision_id'), table_name='safety_plan_addenda')
    op.drop_table('safety_plan_addenda')
    op.drop_index(op.f('ix_safety_plan_revisions_patient_id'), table_name='safety_plan_revisions')
    op.drop_table('safety_plan_revisions')
