"""the plan in every note: the plan revision an integration note followed, progress per objective,
and SMART action steps (the objective served, a success criterion, why it should help)

Revision ID: 0050_note_plan_progress
Revises: 0045_treatment_plans
Create Date: 2026-12-05 01:00:00

Issue 24, point 3. `session_notes.plan_id` names the signed treatment-plan revision a note was
written against; `note_objective_progress` holds a note's progress on each objective of that plan,
keyed by the objective's lineage so its history survives plan revisions; `action_steps` gains
`objective_lineage_id`, `success_criterion` and `mechanism` (nullable: the steps agreed before stay
valid; the application asks new ones for a criterion). All of it is frozen once the note is signed,
and a discarded draft gains no progress, by the trigger functions of migrations 0007 and 0027 (on
SQLite the same triggers spelt per table), plus two triggers for the new columns of existing tables.
A stage move a note asks for is kept in its content (already frozen) and recorded in
`course_stage_changes` (migration 0045, with its note) when the note is signed.
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0050_note_plan_progress'
down_revision = '0047_safety_plans'
branch_labels = None
depends_on = None

TABLE = "note_objective_progress"
PLAN_FK = "fk_session_notes_plan_id_treatment_plans"
STEP_COLUMNS = (("objective_lineage_id", 32), ("success_criterion", 300), ("mechanism", 500))
SIGNED = "the content of a signed note cannot change"
DISCARDED = "a discarded draft gains no content"
PLAN_FIXED = "the plan a signed note followed never changes"
STEP_FIXED = "an action step agreed in a signed note cannot change"


def _create_table() -> None:
    op.create_table(
        TABLE,
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('note_id', sa.Integer(), nullable=False),
        sa.Column('lineage_id', sa.String(length=32), nullable=False),
        sa.Column('plan_objective_id', sa.Integer(), nullable=False),
        sa.Column('progress', sa.String(length=20), nullable=False),
        sa.Column('comment', sa.String(length=500), nullable=True),
        sa.CheckConstraint("progress IN ('not_started', 'some', 'achieved', 'setback')",
                           name=op.f('ck_note_objective_progress_known_progress')),
        sa.ForeignKeyConstraint(['note_id'], ['session_notes.id'],
                                name=op.f('fk_note_objective_progress_note_id_session_notes')),
        sa.ForeignKeyConstraint(['plan_objective_id'], ['plan_objectives.id'],
                                name=op.f('fk_note_objective_progress_plan_objective_id_plan_objectives')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_note_objective_progress')),
        sa.UniqueConstraint('note_id', 'lineage_id', name=op.f('uq_note_objective_progress_note_id_lineage_id')))
    op.create_index(op.f('ix_note_objective_progress_note_id'), TABLE, ['note_id'], unique=False)
    op.create_index(op.f('ix_note_objective_progress_lineage_id'), TABLE, ['lineage_id'], unique=False)


def _step_changed(new: str, old: str, distinct: str) -> str:
    return " OR ".join(f"{new}.{c} {distinct} {old}.{c}" for c, _ in STEP_COLUMNS)


def _postgres_statements():
    yield (f"CREATE TRIGGER {TABLE}_signed_locked BEFORE INSERT OR UPDATE OR DELETE ON {TABLE} "
           "FOR EACH ROW EXECUTE FUNCTION note_children_signed_locked()")
    yield (f"CREATE TRIGGER {TABLE}_discarded_locked BEFORE INSERT OR UPDATE ON {TABLE} "
           "FOR EACH ROW EXECUTE FUNCTION note_children_discarded_locked()")
    yield f"""CREATE FUNCTION session_notes_plan_fixed() RETURNS trigger AS $$
       BEGIN
         IF OLD.status = 'signed' AND NEW.plan_id IS DISTINCT FROM OLD.plan_id THEN
           RAISE EXCEPTION '{PLAN_FIXED}';
         END IF;
         RETURN NEW;
       END; $$ LANGUAGE plpgsql"""
    yield ("CREATE TRIGGER session_notes_plan_fixed BEFORE UPDATE ON session_notes "
           "FOR EACH ROW EXECUTE FUNCTION session_notes_plan_fixed()")
    yield f"""CREATE FUNCTION action_steps_plan_fixed() RETURNS trigger AS $$
       BEGIN
         IF (SELECT status FROM session_notes WHERE id = OLD.note_id) = 'signed'
            AND ({_step_changed('NEW', 'OLD', 'IS DISTINCT FROM')}) THEN
           RAISE EXCEPTION '{STEP_FIXED}';
         END IF;
         RETURN NEW;
       END; $$ LANGUAGE plpgsql"""
    yield ("CREATE TRIGGER action_steps_plan_fixed BEFORE UPDATE ON action_steps "
           "FOR EACH ROW EXECUTE FUNCTION action_steps_plan_fixed()")


def _sqlite_statements():
    raise_ = "BEGIN SELECT RAISE(ABORT, '{}'); END"
    for name, when, row in (("insert", "INSERT", "NEW"), ("update", "UPDATE", "OLD"),
                            ("move", "UPDATE", "NEW"), ("delete", "DELETE", "OLD")):
        yield (f"CREATE TRIGGER {TABLE}_signed_no_{name} BEFORE {when} ON {TABLE} "
               f"WHEN (SELECT status FROM session_notes WHERE id = {row}.note_id) = 'signed' "
               + raise_.format(SIGNED))
    for name, when in (("insert", "INSERT"), ("update", "UPDATE")):
        yield (f"CREATE TRIGGER {TABLE}_discarded_no_{name} BEFORE {when} ON {TABLE} "
               "WHEN (SELECT discarded_at FROM session_notes WHERE id = NEW.note_id) IS NOT NULL "
               + raise_.format(DISCARDED))
    yield ("CREATE TRIGGER session_notes_plan_fixed BEFORE UPDATE ON session_notes "
           "WHEN OLD.status = 'signed' AND NEW.plan_id IS NOT OLD.plan_id " + raise_.format(PLAN_FIXED))
    yield ("CREATE TRIGGER action_steps_plan_fixed BEFORE UPDATE ON action_steps "
           "WHEN (SELECT status FROM session_notes WHERE id = OLD.note_id) = 'signed' "
           f"AND ({_step_changed('NEW', 'OLD', 'IS NOT')}) " + raise_.format(STEP_FIXED))


def upgrade():
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        # ADD COLUMN keeps the table and its triggers (a batch copy would drop them)
        op.execute(f"ALTER TABLE session_notes ADD COLUMN plan_id INTEGER CONSTRAINT {PLAN_FK} "
                   "REFERENCES treatment_plans (id)")
    else:
        op.add_column("session_notes", sa.Column("plan_id", sa.Integer(), nullable=True))
        op.create_foreign_key(PLAN_FK, "session_notes", "treatment_plans", ["plan_id"], ["id"])
    for column, length in STEP_COLUMNS:
        op.add_column("action_steps", sa.Column(column, sa.String(length=length), nullable=True))
    _create_table()
    statements = _postgres_statements() if dialect == "postgresql" else \
        _sqlite_statements() if dialect == "sqlite" else ()
    for statement in statements:
        op.execute(statement)


def downgrade():
    # the progress table's triggers go with it; the shared trigger functions stay (0007, 0027)
    dialect = op.get_bind().dialect.name
    op.drop_index(op.f('ix_note_objective_progress_lineage_id'), table_name=TABLE)
    op.drop_index(op.f('ix_note_objective_progress_note_id'), table_name=TABLE)
    op.drop_table(TABLE)
    if dialect == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS session_notes_plan_fixed ON session_notes")
        op.execute("DROP TRIGGER IF EXISTS action_steps_plan_fixed ON action_steps")
        op.execute("DROP FUNCTION IF EXISTS session_notes_plan_fixed()")
        op.execute("DROP FUNCTION IF EXISTS action_steps_plan_fixed()")
        op.drop_constraint(PLAN_FK, "session_notes", type_="foreignkey")
    else:
        op.execute("DROP TRIGGER IF EXISTS session_notes_plan_fixed")
        op.execute("DROP TRIGGER IF EXISTS action_steps_plan_fixed")
    # ALTER TABLE DROP COLUMN (SQLite 3.35+) keeps the tables and their triggers; SQLite refuses to drop
    # a column a constraint names, so there the plan column's foreign key goes with the column itself
    for column, _ in reversed(STEP_COLUMNS):
        op.execute(f"ALTER TABLE action_steps DROP COLUMN {column}")
    op.execute("ALTER TABLE session_notes DROP COLUMN plan_id")
