"""session notes, themes, action steps, process notes, formulations, measures, safety alerts,
unsaved work kept across a timed-out session

Revision ID: 0007_session_notes
Revises: 0006_calendars
Create Date: 2026-11-21 12:45:18.304507

"""
from alembic import op
import sqlalchemy as sa

from ketamine_integration.db_types import UTCDateTime  # noqa: F401


# revision identifiers, used by Alembic.
revision = '0007_session_notes'
down_revision = '0006_calendars'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('unsaved_work',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('path', sa.String(length=200), nullable=False),
    sa.Column('form', sa.JSON(), nullable=False),
    sa.Column('submitted_at', UTCDateTime(), nullable=False),
    sa.Column('recovered_at', UTCDateTime(), nullable=True),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_unsaved_work_user_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_unsaved_work'))
    )
    with op.batch_alter_table('unsaved_work', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_unsaved_work_user_id'), ['user_id'], unique=False)

    op.create_table('themes',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=80), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_themes')),
    sa.UniqueConstraint('name', name=op.f('uq_themes_name'))
    )
    op.create_table('case_formulations',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('course_id', sa.Integer(), nullable=False),
    sa.Column('revision', sa.Integer(), nullable=False),
    sa.Column('content', sa.JSON(), nullable=False),
    sa.Column('author_id', sa.Integer(), nullable=False),
    sa.Column('saved_at', UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['author_id'], ['users.id'], name=op.f('fk_case_formulations_author_id_users')),
    sa.ForeignKeyConstraint(['course_id'], ['treatment_courses.id'], name=op.f('fk_case_formulations_course_id_treatment_courses')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_case_formulations')),
    sa.UniqueConstraint('course_id', 'revision', name=op.f('uq_case_formulations_course_id_revision'))
    )
    with op.batch_alter_table('case_formulations', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_case_formulations_course_id'), ['course_id'], unique=False)

    op.create_table('measure_responses',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('patient_id', sa.Integer(), nullable=False),
    sa.Column('course_id', sa.Integer(), nullable=False),
    sa.Column('measure', sa.String(length=10), nullable=False),
    sa.Column('administered_on', sa.Date(), nullable=False),
    sa.Column('answers', sa.JSON(), nullable=False),
    sa.Column('difficulty', sa.String(length=12), nullable=True),
    sa.Column('total', sa.Integer(), nullable=False),
    sa.Column('band', sa.String(length=30), nullable=False),
    sa.Column('entered_by_id', sa.Integer(), nullable=False),
    sa.Column('created_at', UTCDateTime(), nullable=False),
    sa.Column('voided_at', UTCDateTime(), nullable=True),
    sa.Column('void_reason', sa.String(length=300), nullable=True),
    sa.CheckConstraint("measure IN ('phq9', 'gad7')", name=op.f('ck_measure_responses_known_measure')),
    sa.ForeignKeyConstraint(['course_id'], ['treatment_courses.id'], name=op.f('fk_measure_responses_course_id_treatment_courses')),
    sa.ForeignKeyConstraint(['entered_by_id'], ['users.id'], name=op.f('fk_measure_responses_entered_by_id_users')),
    sa.ForeignKeyConstraint(['patient_id'], ['patients.id'], name=op.f('fk_measure_responses_patient_id_patients')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_measure_responses'))
    )
    with op.batch_alter_table('measure_responses', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_measure_responses_course_id'), ['course_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_measure_responses_patient_id'), ['patient_id'], unique=False)

    op.create_table('session_notes',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('course_id', sa.Integer(), nullable=False),
    sa.Column('patient_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('session_date', sa.Date(), nullable=False),
    sa.Column('author_id', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=10), nullable=False),
    sa.Column('content', sa.JSON(), nullable=False),
    sa.Column('created_at', UTCDateTime(), nullable=False),
    sa.Column('updated_at', UTCDateTime(), nullable=False),
    sa.Column('signed_at', UTCDateTime(), nullable=True),
    sa.Column('content_digest', sa.String(length=64), nullable=True),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.CheckConstraint("kind IN ('preparation', 'integration')", name=op.f('ck_session_notes_known_kind')),
    sa.CheckConstraint("status IN ('draft', 'signed')", name=op.f('ck_session_notes_known_status')),
    sa.ForeignKeyConstraint(['author_id'], ['users.id'], name=op.f('fk_session_notes_author_id_users')),
    sa.ForeignKeyConstraint(['course_id'], ['treatment_courses.id'], name=op.f('fk_session_notes_course_id_treatment_courses')),
    sa.ForeignKeyConstraint(['patient_id'], ['patients.id'], name=op.f('fk_session_notes_patient_id_patients')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_session_notes'))
    )
    with op.batch_alter_table('session_notes', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_session_notes_author_id'), ['author_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_session_notes_course_id'), ['course_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_session_notes_patient_id'), ['patient_id'], unique=False)

    op.create_table('action_steps',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('course_id', sa.Integer(), nullable=False),
    sa.Column('note_id', sa.Integer(), nullable=False),
    sa.Column('what', sa.String(length=300), nullable=False),
    sa.Column('how_often', sa.String(length=120), nullable=False),
    sa.Column('starts_on', sa.Date(), nullable=False),
    sa.Column('review_on', sa.Date(), nullable=False),
    sa.Column('linked_insight', sa.String(length=300), nullable=True),
    sa.Column('status', sa.String(length=10), nullable=False),
    sa.CheckConstraint("status IN ('open', 'stopped')", name=op.f('ck_action_steps_known_status')),
    sa.ForeignKeyConstraint(['course_id'], ['treatment_courses.id'], name=op.f('fk_action_steps_course_id_treatment_courses')),
    sa.ForeignKeyConstraint(['note_id'], ['session_notes.id'], name=op.f('fk_action_steps_note_id_session_notes')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_action_steps'))
    )
    with op.batch_alter_table('action_steps', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_action_steps_course_id'), ['course_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_action_steps_note_id'), ['note_id'], unique=False)

    op.create_table('note_addenda',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('note_id', sa.Integer(), nullable=False),
    sa.Column('author_id', sa.Integer(), nullable=False),
    sa.Column('created_at', UTCDateTime(), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(['author_id'], ['users.id'], name=op.f('fk_note_addenda_author_id_users')),
    sa.ForeignKeyConstraint(['note_id'], ['session_notes.id'], name=op.f('fk_note_addenda_note_id_session_notes')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_note_addenda'))
    )
    with op.batch_alter_table('note_addenda', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_note_addenda_note_id'), ['note_id'], unique=False)

    op.create_table('note_dosing_links',
    sa.Column('note_id', sa.Integer(), nullable=False),
    sa.Column('dosing_session_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['dosing_session_id'], ['dosing_sessions.id'], name=op.f('fk_note_dosing_links_dosing_session_id_dosing_sessions')),
    sa.ForeignKeyConstraint(['note_id'], ['session_notes.id'], name=op.f('fk_note_dosing_links_note_id_session_notes')),
    sa.PrimaryKeyConstraint('note_id', 'dosing_session_id', name=op.f('pk_note_dosing_links'))
    )
    op.create_table('note_themes',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('note_id', sa.Integer(), nullable=False),
    sa.Column('theme_id', sa.Integer(), nullable=True),
    sa.Column('free_theme', sa.String(length=80), nullable=True),
    sa.Column('patient_words', sa.String(length=500), nullable=True),
    sa.CheckConstraint('theme_id IS NOT NULL OR free_theme IS NOT NULL', name=op.f('ck_note_themes_named')),
    sa.ForeignKeyConstraint(['note_id'], ['session_notes.id'], name=op.f('fk_note_themes_note_id_session_notes')),
    sa.ForeignKeyConstraint(['theme_id'], ['themes.id'], name=op.f('fk_note_themes_theme_id_themes')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_note_themes'))
    )
    with op.batch_alter_table('note_themes', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_note_themes_note_id'), ['note_id'], unique=False)

    op.create_table('process_notes',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('note_id', sa.Integer(), nullable=False),
    sa.Column('author_id', sa.Integer(), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('updated_at', UTCDateTime(), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['author_id'], ['users.id'], name=op.f('fk_process_notes_author_id_users')),
    sa.ForeignKeyConstraint(['note_id'], ['session_notes.id'], name=op.f('fk_process_notes_note_id_session_notes')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_process_notes')),
    sa.UniqueConstraint('note_id', name=op.f('uq_process_notes_note_id'))
    )
    op.create_table('safety_alerts',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('patient_id', sa.Integer(), nullable=False),
    sa.Column('course_id', sa.Integer(), nullable=False),
    sa.Column('measure_response_id', sa.Integer(), nullable=False),
    sa.Column('item_score', sa.Integer(), nullable=False),
    sa.Column('raised_at', UTCDateTime(), nullable=False),
    sa.Column('acknowledged_at', UTCDateTime(), nullable=True),
    sa.Column('acknowledged_by_id', sa.Integer(), nullable=True),
    sa.Column('acknowledgement', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['acknowledged_by_id'], ['users.id'], name=op.f('fk_safety_alerts_acknowledged_by_id_users')),
    sa.ForeignKeyConstraint(['course_id'], ['treatment_courses.id'], name=op.f('fk_safety_alerts_course_id_treatment_courses')),
    sa.ForeignKeyConstraint(['measure_response_id'], ['measure_responses.id'], name=op.f('fk_safety_alerts_measure_response_id_measure_responses')),
    sa.ForeignKeyConstraint(['patient_id'], ['patients.id'], name=op.f('fk_safety_alerts_patient_id_patients')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_safety_alerts')),
    sa.UniqueConstraint('measure_response_id', name=op.f('uq_safety_alerts_measure_response_id'))
    )
    with op.batch_alter_table('safety_alerts', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_safety_alerts_patient_id'), ['patient_id'], unique=False)

    op.create_table('action_check_ins',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('note_id', sa.Integer(), nullable=False),
    sa.Column('action_step_id', sa.Integer(), nullable=False),
    sa.Column('progress', sa.String(length=10), nullable=False),
    sa.Column('obstacles', sa.String(length=500), nullable=True),
    sa.Column('decision', sa.String(length=10), nullable=False),
    sa.Column('adjustment', sa.String(length=300), nullable=True),
    sa.CheckConstraint("decision IN ('continue', 'adjust', 'stop')", name=op.f('ck_action_check_ins_known_decision')),
    sa.CheckConstraint("progress IN ('done', 'partly', 'not')", name=op.f('ck_action_check_ins_known_progress')),
    sa.ForeignKeyConstraint(['action_step_id'], ['action_steps.id'], name=op.f('fk_action_check_ins_action_step_id_action_steps')),
    sa.ForeignKeyConstraint(['note_id'], ['session_notes.id'], name=op.f('fk_action_check_ins_note_id_session_notes')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_action_check_ins')),
    sa.UniqueConstraint('note_id', 'action_step_id', name=op.f('uq_action_check_ins_note_id_action_step_id'))
    )
    with op.batch_alter_table('action_check_ins', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_action_check_ins_action_step_id'), ['action_step_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_action_check_ins_note_id'), ['note_id'], unique=False)

    add_guards()

def downgrade():
    drop_guards()
    with op.batch_alter_table('unsaved_work', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_unsaved_work_user_id'))

    op.drop_table('unsaved_work')
    with op.batch_alter_table('action_check_ins', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_action_check_ins_note_id'))
        batch_op.drop_index(batch_op.f('ix_action_check_ins_action_step_id'))

    op.drop_table('action_check_ins')
    with op.batch_alter_table('safety_alerts', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_safety_alerts_patient_id'))

    op.drop_table('safety_alerts')
    op.drop_table('process_notes')
    with op.batch_alter_table('note_themes', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_note_themes_note_id'))

    op.drop_table('note_themes')
    op.drop_table('note_dosing_links')
    with op.batch_alter_table('note_addenda', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_note_addenda_note_id'))

    op.drop_table('note_addenda')
    with op.batch_alter_table('action_steps', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_action_steps_note_id'))
        batch_op.drop_index(batch_op.f('ix_action_steps_course_id'))

    op.drop_table('action_steps')
    with op.batch_alter_table('session_notes', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_session_notes_patient_id'))
        batch_op.drop_index(batch_op.f('ix_session_notes_course_id'))
        batch_op.drop_index(batch_op.f('ix_session_notes_author_id'))

    op.drop_table('session_notes')
    with op.batch_alter_table('measure_responses', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_measure_responses_patient_id'))
        batch_op.drop_index(batch_op.f('ix_measure_responses_course_id'))

    op.drop_table('measure_responses')
    with op.batch_alter_table('case_formulations', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_case_formulations_course_id'))

    op.drop_table('case_formulations')
    op.drop_table('themes')


# -- database guards: a signed note and what it contains never change -------------------------
# session_notes columns a signature freezes (all but bookkeeping)
FROZEN = ("id", "course_id", "patient_id", "kind", "session_date", "author_id", "status", "content", "created_at",
          "signed_at", "content_digest")
#: child tables frozen with their note, and the column naming the note
CHILDREN = ("note_themes", "action_check_ins", "note_dosing_links")
#: action_steps columns frozen once their note is signed (status still changes by later check-ins)
STEP_FROZEN = ("course_id", "note_id", "what", "how_often", "starts_on", "review_on", "linked_insight")

POSTGRES = [
    f"""CREATE FUNCTION session_notes_signed_locked() RETURNS trigger AS $$
       BEGIN
         IF TG_OP = 'DELETE' AND OLD.status = 'signed' THEN
           RAISE EXCEPTION 'a signed note cannot be deleted';
         END IF;
         IF TG_OP = 'UPDATE' AND OLD.status = 'signed' AND
            ({' OR '.join(f'NEW.{c}::text IS DISTINCT FROM OLD.{c}::text' for c in FROZEN)}) THEN
           RAISE EXCEPTION 'a signed note cannot change; add an addendum';
         END IF;
         RETURN COALESCE(NEW, OLD);
       END; $$ LANGUAGE plpgsql""",
    """CREATE TRIGGER session_notes_signed_locked BEFORE UPDATE OR DELETE ON session_notes
       FOR EACH ROW EXECUTE FUNCTION session_notes_signed_locked()""",
    """CREATE FUNCTION note_children_signed_locked() RETURNS trigger AS $$
       BEGIN
         IF (SELECT status FROM session_notes WHERE id = COALESCE(NEW.note_id, OLD.note_id)) = 'signed'
            OR (TG_OP = 'UPDATE' AND (SELECT status FROM session_notes WHERE id = OLD.note_id) = 'signed') THEN
           RAISE EXCEPTION 'the content of a signed note cannot change';
         END IF;
         RETURN COALESCE(NEW, OLD);
       END; $$ LANGUAGE plpgsql""",
    f"""CREATE FUNCTION action_steps_signed_locked() RETURNS trigger AS $$
       BEGIN
         IF ((SELECT status FROM session_notes WHERE id = OLD.note_id) = 'signed' AND (TG_OP = 'DELETE' OR
             {' OR '.join(f'NEW.{c} IS DISTINCT FROM OLD.{c}' for c in STEP_FROZEN)}))
            OR (TG_OP = 'UPDATE' AND NEW.note_id IS DISTINCT FROM OLD.note_id
                AND (SELECT status FROM session_notes WHERE id = NEW.note_id) = 'signed') THEN
           RAISE EXCEPTION 'an action step agreed in a signed note cannot change';
         END IF;
         RETURN COALESCE(NEW, OLD);
       END; $$ LANGUAGE plpgsql""",
    """CREATE TRIGGER action_steps_signed_locked BEFORE UPDATE OR DELETE ON action_steps
       FOR EACH ROW EXECUTE FUNCTION action_steps_signed_locked()""",
    """CREATE FUNCTION action_steps_insert_locked() RETURNS trigger AS $$
       BEGIN
         IF (SELECT status FROM session_notes WHERE id = NEW.note_id) = 'signed' THEN
           RAISE EXCEPTION 'a signed note cannot gain action steps';
         END IF;
         RETURN NEW;
       END; $$ LANGUAGE plpgsql""",
    """CREATE TRIGGER action_steps_insert_locked BEFORE INSERT ON action_steps
       FOR EACH ROW EXECUTE FUNCTION action_steps_insert_locked()""",
] + [f"""CREATE TRIGGER {t}_signed_locked BEFORE INSERT OR UPDATE OR DELETE ON {t}
         FOR EACH ROW EXECUTE FUNCTION note_children_signed_locked()""" for t in CHILDREN]


def _sqlite_statements():
    raise_ = "BEGIN SELECT RAISE(ABORT, '{}'); END"
    changed = " OR ".join(f"NEW.{c} IS NOT OLD.{c}" for c in FROZEN)
    yield (f"CREATE TRIGGER session_notes_signed_no_update BEFORE UPDATE ON session_notes "
           f"WHEN OLD.status = 'signed' AND ({changed}) " + raise_.format("a signed note cannot change; add an addendum"))
    yield ("CREATE TRIGGER session_notes_signed_no_delete BEFORE DELETE ON session_notes "
           "WHEN OLD.status = 'signed' " + raise_.format("a signed note cannot be deleted"))
    for table in CHILDREN:
        for name, when, row in (("insert", "INSERT", "NEW"), ("update", "UPDATE", "OLD"),
                                ("move", "UPDATE", "NEW"), ("delete", "DELETE", "OLD")):
            yield (f"CREATE TRIGGER {table}_signed_no_{name} BEFORE {when} ON {table} "
                   f"WHEN (SELECT status FROM session_notes WHERE id = {row}.note_id) = 'signed' "
                   + raise_.format("the content of a signed note cannot change"))
    step_changed = " OR ".join(f"NEW.{c} IS NOT OLD.{c}" for c in STEP_FROZEN)
    yield ("CREATE TRIGGER action_steps_signed_no_update BEFORE UPDATE ON action_steps "
           f"WHEN (SELECT status FROM session_notes WHERE id = OLD.note_id) = 'signed' AND ({step_changed}) "
           + raise_.format("an action step agreed in a signed note cannot change"))
    yield ("CREATE TRIGGER action_steps_signed_no_move BEFORE UPDATE ON action_steps "
           "WHEN NEW.note_id IS NOT OLD.note_id AND (SELECT status FROM session_notes WHERE id = NEW.note_id) = 'signed' "
           + raise_.format("an action step agreed in a signed note cannot change"))
    yield ("CREATE TRIGGER action_steps_signed_no_delete BEFORE DELETE ON action_steps "
           "WHEN (SELECT status FROM session_notes WHERE id = OLD.note_id) = 'signed' "
           + raise_.format("an action step agreed in a signed note cannot change"))
    yield ("CREATE TRIGGER action_steps_signed_no_insert BEFORE INSERT ON action_steps "
           "WHEN (SELECT status FROM session_notes WHERE id = NEW.note_id) = 'signed' "
           + raise_.format("a signed note cannot gain action steps"))


def add_guards():
    dialect = op.get_bind().dialect.name
    statements = POSTGRES if dialect == "postgresql" else list(_sqlite_statements()) if dialect == "sqlite" else []
    for statement in statements:
        op.execute(statement)


def drop_guards():
    dialect = op.get_bind().dialect.name
    if dialect == "postgresql":
        for table in CHILDREN:
            op.execute(f"DROP TRIGGER IF EXISTS {table}_signed_locked ON {table}")
        op.execute("DROP TRIGGER IF EXISTS action_steps_signed_locked ON action_steps")
        op.execute("DROP TRIGGER IF EXISTS action_steps_insert_locked ON action_steps")
        op.execute("DROP TRIGGER IF EXISTS session_notes_signed_locked ON session_notes")
        for function in ("note_children_signed_locked", "action_steps_signed_locked", "action_steps_insert_locked",
                         "session_notes_signed_locked"):
            op.execute(f"DROP FUNCTION IF EXISTS {function}()")
    elif dialect == "sqlite":
        names = ["session_notes_signed_no_update", "session_notes_signed_no_delete", "action_steps_signed_no_update",
                 "action_steps_signed_no_move", "action_steps_signed_no_delete", "action_steps_signed_no_insert"] + [
            f"{t}_signed_no_{w}" for t in CHILDREN for w in ("insert", "update", "move", "delete")]
        for name in names:
            op.execute(f"DROP TRIGGER IF EXISTS {name}")
