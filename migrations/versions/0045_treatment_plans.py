"""treatment plans: signed revisions per course with SMART objectives and planned techniques, their
addenda, and the course's decision-map stage history

Revision ID: 0045_treatment_plans
Revises: 0044_portal_account_admin
Create Date: 2026-12-05 00:00:00

Issue 24, point 1. A signed revision of `treatment_plans`, its `plan_objectives` and `plan_techniques`
never change (triggers below, as migration 0007 for notes); `plan_addenda` and `course_stage_changes`
are append-only (as migration 0039).
"""
from alembic import op
import sqlalchemy as sa

from ketamine_integration.db.types import UTCDateTime


# revision identifiers, used by Alembic.
revision = '0045_treatment_plans'
down_revision = '0046_technique_use'
branch_labels = None
depends_on = None

STAGES = ("stabilise", "clarify", "target", "deepen", "consolidate")
#: treatment_plans columns a signature freezes (all but bookkeeping)
FROZEN = ("id", "course_id", "patient_id", "revision", "author_id", "status", "content", "pathway", "host_theory",
          "stage", "review_on", "no_change", "based_on_id", "created_at", "signed_at", "content_digest")
CHILDREN = ("plan_objectives", "plan_techniques")
APPEND_ONLY = ("plan_addenda", "course_stage_changes")


def upgrade():
    known = ", ".join(f"'{s}'" for s in STAGES)
    op.create_table('treatment_plans',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('course_id', sa.Integer(), nullable=False),
    sa.Column('patient_id', sa.Integer(), nullable=False),
    sa.Column('revision', sa.Integer(), nullable=False),
    sa.Column('author_id', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=10), nullable=False),
    sa.Column('content', sa.JSON(), nullable=False),
    sa.Column('pathway', sa.String(length=30), nullable=True),
    sa.Column('host_theory', sa.String(length=30), nullable=True),
    sa.Column('stage', sa.String(length=20), nullable=True),
    sa.Column('review_on', sa.Date(), nullable=True),
    sa.Column('no_change', sa.Boolean(), nullable=False),
    sa.Column('based_on_id', sa.Integer(), nullable=True),
    sa.Column('created_at', UTCDateTime(), nullable=False),
    sa.Column('updated_at', UTCDateTime(), nullable=False),
    sa.Column('signed_at', UTCDateTime(), nullable=True),
    sa.Column('content_digest', sa.String(length=64), nullable=True),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.CheckConstraint("status IN ('draft', 'signed')", name=op.f('ck_treatment_plans_known_status')),
    sa.CheckConstraint(f"stage IS NULL OR stage IN ({known})", name=op.f('ck_treatment_plans_known_stage')),
    sa.ForeignKeyConstraint(['author_id'], ['users.id'], name=op.f('fk_treatment_plans_author_id_users')),
    sa.ForeignKeyConstraint(['based_on_id'], ['treatment_plans.id'],
                            name=op.f('fk_treatment_plans_based_on_id_treatment_plans')),
    sa.ForeignKeyConstraint(['course_id'], ['treatment_courses.id'],
                            name=op.f('fk_treatment_plans_course_id_treatment_courses')),
    sa.ForeignKeyConstraint(['patient_id'], ['patients.id'], name=op.f('fk_treatment_plans_patient_id_patients')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_treatment_plans')),
    sa.UniqueConstraint('course_id', 'revision', name=op.f('uq_treatment_plans_course_id_revision'))
    )
    op.create_index(op.f('ix_treatment_plans_course_id'), 'treatment_plans', ['course_id'])
    op.create_index(op.f('ix_treatment_plans_patient_id'), 'treatment_plans', ['patient_id'])
    op.create_table('plan_objectives',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('plan_id', sa.Integer(), nullable=False),
    sa.Column('lineage_id', sa.String(length=32), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('goal', sa.String(length=300), nullable=False),
    sa.Column('target', sa.String(length=500), nullable=False),
    sa.Column('criterion', sa.String(length=500), nullable=False),
    sa.Column('by_when', sa.Date(), nullable=False),
    sa.Column('mechanism', sa.String(length=1000), nullable=False),
    sa.Column('measure', sa.String(length=10), nullable=True),
    sa.ForeignKeyConstraint(['plan_id'], ['treatment_plans.id'], name=op.f('fk_plan_objectives_plan_id_treatment_plans')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_plan_objectives')),
    sa.UniqueConstraint('plan_id', 'lineage_id', name=op.f('uq_plan_objectives_plan_id_lineage_id'))
    )
    op.create_index(op.f('ix_plan_objectives_plan_id'), 'plan_objectives', ['plan_id'])
    op.create_index(op.f('ix_plan_objectives_lineage_id'), 'plan_objectives', ['lineage_id'])
    op.create_table('plan_techniques',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('plan_id', sa.Integer(), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('technique_key', sa.String(length=60), nullable=False),
    sa.Column('technique_name', sa.String(length=120), nullable=False),
    sa.Column('rationale', sa.String(length=1000), nullable=False),
    sa.ForeignKeyConstraint(['plan_id'], ['treatment_plans.id'], name=op.f('fk_plan_techniques_plan_id_treatment_plans')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_plan_techniques'))
    )
    op.create_index(op.f('ix_plan_techniques_plan_id'), 'plan_techniques', ['plan_id'])
    op.create_table('plan_addenda',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('plan_id', sa.Integer(), nullable=False),
    sa.Column('author_id', sa.Integer(), nullable=False),
    sa.Column('created_at', UTCDateTime(), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('content_digest', sa.String(length=64), nullable=True),
    sa.ForeignKeyConstraint(['author_id'], ['users.id'], name=op.f('fk_plan_addenda_author_id_users')),
    sa.ForeignKeyConstraint(['plan_id'], ['treatment_plans.id'], name=op.f('fk_plan_addenda_plan_id_treatment_plans')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_plan_addenda'))
    )
    op.create_index(op.f('ix_plan_addenda_plan_id'), 'plan_addenda', ['plan_id'])
    op.create_table('course_stage_changes',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('course_id', sa.Integer(), nullable=False),
    sa.Column('patient_id', sa.Integer(), nullable=False),
    sa.Column('stage', sa.String(length=20), nullable=False),
    sa.Column('previous_stage', sa.String(length=20), nullable=True),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('changed_at', UTCDateTime(), nullable=False),
    sa.Column('changed_by_id', sa.Integer(), nullable=False),
    sa.Column('plan_id', sa.Integer(), nullable=True),
    sa.Column('note_id', sa.Integer(), nullable=True),
    sa.CheckConstraint(f"stage IN ({known})", name=op.f('ck_course_stage_changes_known_stage')),
    sa.ForeignKeyConstraint(['changed_by_id'], ['users.id'], name=op.f('fk_course_stage_changes_changed_by_id_users')),
    sa.ForeignKeyConstraint(['course_id'], ['treatment_courses.id'],
                            name=op.f('fk_course_stage_changes_course_id_treatment_courses')),
    sa.ForeignKeyConstraint(['note_id'], ['session_notes.id'], name=op.f('fk_course_stage_changes_note_id_session_notes')),
    sa.ForeignKeyConstraint(['patient_id'], ['patients.id'], name=op.f('fk_course_stage_changes_patient_id_patients')),
    sa.ForeignKeyConstraint(['plan_id'], ['treatment_plans.id'],
                            name=op.f('fk_course_stage_changes_plan_id_treatment_plans')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_course_stage_changes'))
    )
    op.create_index(op.f('ix_course_stage_changes_course_id'), 'course_stage_changes', ['course_id'])
    dialect = op.get_bind().dialect.name
    for statement in (POSTGRES if dialect == "postgresql" else list(_sqlite()) if dialect == "sqlite" else []):
        op.execute(statement)


POSTGRES = [
    f"""CREATE FUNCTION treatment_plans_signed_locked() RETURNS trigger AS $$
       BEGIN
         IF TG_OP = 'DELETE' AND OLD.status = 'signed' THEN
           RAISE EXCEPTION 'a signed plan revision cannot be deleted';
         END IF;
         IF TG_OP = 'UPDATE' AND OLD.status = 'signed' AND
            ({' OR '.join(f'NEW.{c}::text IS DISTINCT FROM OLD.{c}::text' for c in FROZEN)}) THEN
           RAISE EXCEPTION 'a signed plan revision cannot change; add an addendum';
         END IF;
         RETURN COALESCE(NEW, OLD);
       END; $$ LANGUAGE plpgsql""",
    """CREATE TRIGGER treatment_plans_signed_locked BEFORE UPDATE OR DELETE ON treatment_plans
       FOR EACH ROW EXECUTE FUNCTION treatment_plans_signed_locked()""",
    """CREATE FUNCTION plan_children_signed_locked() RETURNS trigger AS $$
       BEGIN
         IF (SELECT status FROM treatment_plans WHERE id = COALESCE(NEW.plan_id, OLD.plan_id)) = 'signed'
            OR (TG_OP = 'UPDATE' AND (SELECT status FROM treatment_plans WHERE id = OLD.plan_id) = 'signed') THEN
           RAISE EXCEPTION 'the content of a signed plan revision cannot change';
         END IF;
         RETURN COALESCE(NEW, OLD);
       END; $$ LANGUAGE plpgsql""",
] + [f"""CREATE TRIGGER {t}_signed_locked BEFORE INSERT OR UPDATE OR DELETE ON {t}
         FOR EACH ROW EXECUTE FUNCTION plan_children_signed_locked()""" for t in CHILDREN] + [
    statement for table in APPEND_ONLY for statement in (
        f"""CREATE FUNCTION {table}_append_only() RETURNS trigger AS $$
           BEGIN
             RAISE EXCEPTION '{table} rows are append-only';
           END; $$ LANGUAGE plpgsql""",
        f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
        f"FOR EACH ROW EXECUTE FUNCTION {table}_append_only()")]


def _sqlite():
    raise_ = "BEGIN SELECT RAISE(ABORT, '{}'); END"
    changed = " OR ".join(f"NEW.{c} IS NOT OLD.{c}" for c in FROZEN)
    yield ("CREATE TRIGGER treatment_plans_signed_no_update BEFORE UPDATE ON treatment_plans "
           f"WHEN OLD.status = 'signed' AND ({changed}) "
           + raise_.format("a signed plan revision cannot change; add an addendum"))
    yield ("CREATE TRIGGER treatment_plans_signed_no_delete BEFORE DELETE ON treatment_plans "
           "WHEN OLD.status = 'signed' " + raise_.format("a signed plan revision cannot be deleted"))
    for table in CHILDREN:
        for name, when, row in (("insert", "INSERT", "NEW"), ("update", "UPDATE", "OLD"),
                                ("move", "UPDATE", "NEW"), ("delete", "DELETE", "OLD")):
            yield (f"CREATE TRIGGER {table}_signed_no_{name} BEFORE {when} ON {table} "
                   f"WHEN (SELECT status FROM treatment_plans WHERE id = {row}.plan_id) = 'signed' "
                   + raise_.format("the content of a signed plan revision cannot change"))
    for table in APPEND_ONLY:
        for when in ("UPDATE", "DELETE"):
            yield (f"CREATE TRIGGER {table}_append_only_{when.lower()} BEFORE {when} ON {table} "
                   + raise_.format(f"{table} rows are append-only"))


def downgrade():
    dialect = op.get_bind().dialect.name
    if dialect == "postgresql":
        for table in CHILDREN:
            op.execute(f"DROP TRIGGER IF EXISTS {table}_signed_locked ON {table}")
        op.execute("DROP TRIGGER IF EXISTS treatment_plans_signed_locked ON treatment_plans")
        for table in APPEND_ONLY:
            op.execute(f"DROP TRIGGER IF EXISTS {table}_append_only ON {table}")
            op.execute(f"DROP FUNCTION IF EXISTS {table}_append_only()")
        op.execute("DROP FUNCTION IF EXISTS plan_children_signed_locked()")
        op.execute("DROP FUNCTION IF EXISTS treatment_plans_signed_locked()")
    op.drop_index(op.f('ix_course_stage_changes_course_id'), table_name='course_stage_changes')
    op.drop_table('course_stage_changes')
    op.drop_index(op.f('ix_plan_addenda_plan_id'), table_name='plan_addenda')
    op.drop_table('plan_addenda')
    op.drop_index(op.f('ix_plan_techniques_plan_id'), table_name='plan_techniques')
    op.drop_table('plan_techniques')
    op.drop_index(op.f('ix_plan_objectives_lineage_id'), table_name='plan_objectives')
    op.drop_index(op.f('ix_plan_objectives_plan_id'), table_name='plan_objectives')
    op.drop_table('plan_objectives')
    op.drop_index(op.f('ix_treatment_plans_patient_id'), table_name='treatment_plans')
    op.drop_index(op.f('ix_treatment_plans_course_id'), table_name='treatment_plans')
    op.drop_table('treatment_plans')
