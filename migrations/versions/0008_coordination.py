"""releases of information, coordination notes and reports

Revision ID: 0008_coordination
Revises: 0007_session_notes
Create Date: 2026-11-21 13:11:25.571026

"""
from alembic import op
import sqlalchemy as sa

from ketamine_integration.db_types import UTCDateTime  # noqa: F401


# revision identifiers, used by Alembic.
revision = '0008_coordination'
down_revision = '0007_session_notes'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('releases_of_information',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('patient_id', sa.Integer(), nullable=False),
    sa.Column('recipient_user_id', sa.Integer(), nullable=True),
    sa.Column('recipient_name', sa.String(length=200), nullable=True),
    sa.Column('categories', sa.JSON(), nullable=False),
    sa.Column('purpose', sa.String(length=300), nullable=False),
    sa.Column('effective_on', sa.Date(), nullable=False),
    sa.Column('expires_on', sa.Date(), nullable=True),
    sa.Column('revoked_on', sa.Date(), nullable=True),
    sa.Column('revoked_by_id', sa.Integer(), nullable=True),
    sa.Column('created_by_id', sa.Integer(), nullable=False),
    sa.Column('created_at', UTCDateTime(), nullable=False),
    sa.CheckConstraint('expires_on IS NULL OR expires_on >= effective_on', name=op.f('ck_releases_of_information_expires_after_effective')),
    sa.CheckConstraint('recipient_user_id IS NOT NULL OR recipient_name IS NOT NULL', name=op.f('ck_releases_of_information_has_recipient')),
    sa.ForeignKeyConstraint(['created_by_id'], ['users.id'], name=op.f('fk_releases_of_information_created_by_id_users')),
    sa.ForeignKeyConstraint(['patient_id'], ['patients.id'], name=op.f('fk_releases_of_information_patient_id_patients')),
    sa.ForeignKeyConstraint(['recipient_user_id'], ['users.id'], name=op.f('fk_releases_of_information_recipient_user_id_users')),
    sa.ForeignKeyConstraint(['revoked_by_id'], ['users.id'], name=op.f('fk_releases_of_information_revoked_by_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_releases_of_information'))
    )
    with op.batch_alter_table('releases_of_information', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_releases_of_information_patient_id'), ['patient_id'], unique=False)

    op.create_table('coordination_notes',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('patient_id', sa.Integer(), nullable=False),
    sa.Column('course_id', sa.Integer(), nullable=False),
    sa.Column('author_id', sa.Integer(), nullable=False),
    sa.Column('recipient_id', sa.Integer(), nullable=False),
    sa.Column('priority', sa.String(length=10), nullable=False),
    sa.Column('category', sa.String(length=20), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('follows_id', sa.Integer(), nullable=True),
    sa.Column('sent_at', UTCDateTime(), nullable=False),
    sa.Column('acknowledged_at', UTCDateTime(), nullable=True),
    sa.Column('reply', sa.Text(), nullable=True),
    sa.CheckConstraint("category IN ('response', 'adverse_effects', 'safety', 'scheduling', 'other')", name=op.f('ck_coordination_notes_known_category')),
    sa.CheckConstraint("priority IN ('routine', 'urgent')", name=op.f('ck_coordination_notes_known_priority')),
    sa.ForeignKeyConstraint(['author_id'], ['users.id'], name=op.f('fk_coordination_notes_author_id_users')),
    sa.ForeignKeyConstraint(['course_id'], ['treatment_courses.id'], name=op.f('fk_coordination_notes_course_id_treatment_courses')),
    sa.ForeignKeyConstraint(['follows_id'], ['coordination_notes.id'], name=op.f('fk_coordination_notes_follows_id_coordination_notes')),
    sa.ForeignKeyConstraint(['patient_id'], ['patients.id'], name=op.f('fk_coordination_notes_patient_id_patients')),
    sa.ForeignKeyConstraint(['recipient_id'], ['users.id'], name=op.f('fk_coordination_notes_recipient_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_coordination_notes'))
    )
    with op.batch_alter_table('coordination_notes', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_coordination_notes_course_id'), ['course_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_coordination_notes_patient_id'), ['patient_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_coordination_notes_recipient_id'), ['recipient_id'], unique=False)

    op.create_table('coordination_reports',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('patient_id', sa.Integer(), nullable=False),
    sa.Column('course_id', sa.Integer(), nullable=False),
    sa.Column('recipient_id', sa.Integer(), nullable=False),
    sa.Column('release_ids', sa.JSON(), nullable=False),
    sa.Column('categories', sa.JSON(), nullable=False),
    sa.Column('created_by_id', sa.Integer(), nullable=False),
    sa.Column('created_at', UTCDateTime(), nullable=False),
    sa.Column('pdf', sa.LargeBinary(), nullable=False),
    sa.Column('content_hash', sa.String(length=64), nullable=False),
    sa.ForeignKeyConstraint(['course_id'], ['treatment_courses.id'], name=op.f('fk_coordination_reports_course_id_treatment_courses')),
    sa.ForeignKeyConstraint(['created_by_id'], ['users.id'], name=op.f('fk_coordination_reports_created_by_id_users')),
    sa.ForeignKeyConstraint(['patient_id'], ['patients.id'], name=op.f('fk_coordination_reports_patient_id_patients')),
    sa.ForeignKeyConstraint(['recipient_id'], ['users.id'], name=op.f('fk_coordination_reports_recipient_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_coordination_reports'))
    )
    with op.batch_alter_table('coordination_reports', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_coordination_reports_course_id'), ['course_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_coordination_reports_patient_id'), ['patient_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_coordination_reports_recipient_id'), ['recipient_id'], unique=False)
    add_guards()

def downgrade():
    drop_guards()
    with op.batch_alter_table('coordination_reports', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_coordination_reports_recipient_id'))
        batch_op.drop_index(batch_op.f('ix_coordination_reports_patient_id'))
        batch_op.drop_index(batch_op.f('ix_coordination_reports_course_id'))

    op.drop_table('coordination_reports')
    with op.batch_alter_table('coordination_notes', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_coordination_notes_recipient_id'))
        batch_op.drop_index(batch_op.f('ix_coordination_notes_patient_id'))
        batch_op.drop_index(batch_op.f('ix_coordination_notes_course_id'))

    op.drop_table('coordination_notes')
    with op.batch_alter_table('releases_of_information', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_releases_of_information_patient_id'))

    op.drop_table('releases_of_information')


# -- database guards: reports are kept exactly as sent; a sent note changes only by its one
# acknowledgement ---------------------------------------------------------------------------------
NOTE_FROZEN = ("patient_id", "course_id", "author_id", "recipient_id", "priority", "category", "body",
               "follows_id", "sent_at")

POSTGRES = [
    """CREATE FUNCTION coordination_reports_immutable() RETURNS trigger AS $$
       BEGIN RAISE EXCEPTION 'a coordination report is kept exactly as sent'; END; $$ LANGUAGE plpgsql""",
    """CREATE TRIGGER coordination_reports_no_change BEFORE UPDATE OR DELETE ON coordination_reports
       FOR EACH ROW EXECUTE FUNCTION coordination_reports_immutable()""",
    f"""CREATE FUNCTION coordination_notes_sent() RETURNS trigger AS $$
       BEGIN
         IF TG_OP = 'DELETE' OR {' OR '.join(f'NEW.{c} IS DISTINCT FROM OLD.{c}' for c in NOTE_FROZEN)}
            OR (OLD.acknowledged_at IS NOT NULL AND (NEW.acknowledged_at IS DISTINCT FROM OLD.acknowledged_at
                                                     OR NEW.reply IS DISTINCT FROM OLD.reply)) THEN
           RAISE EXCEPTION 'a sent coordination note never changes; send a follow-up';
         END IF;
         RETURN COALESCE(NEW, OLD);
       END; $$ LANGUAGE plpgsql""",
    """CREATE TRIGGER coordination_notes_sent BEFORE UPDATE OR DELETE ON coordination_notes
       FOR EACH ROW EXECUTE FUNCTION coordination_notes_sent()""",
]


def _sqlite_statements():
    raise_ = "BEGIN SELECT RAISE(ABORT, '{}'); END"
    yield ("CREATE TRIGGER coordination_reports_no_update BEFORE UPDATE ON coordination_reports "
           + raise_.format("a coordination report is kept exactly as sent"))
    yield ("CREATE TRIGGER coordination_reports_no_delete BEFORE DELETE ON coordination_reports "
           + raise_.format("a coordination report is kept exactly as sent"))
    changed = " OR ".join(f"NEW.{c} IS NOT OLD.{c}" for c in NOTE_FROZEN)
    yield ("CREATE TRIGGER coordination_notes_no_update BEFORE UPDATE ON coordination_notes "
           f"WHEN {changed} OR (OLD.acknowledged_at IS NOT NULL AND (NEW.acknowledged_at IS NOT OLD.acknowledged_at "
           "OR NEW.reply IS NOT OLD.reply)) " + raise_.format("a sent coordination note never changes; send a follow-up"))
    yield ("CREATE TRIGGER coordination_notes_no_delete BEFORE DELETE ON coordination_notes "
           + raise_.format("a sent coordination note never changes; send a follow-up"))


def add_guards():
    dialect = op.get_bind().dialect.name
    for statement in POSTGRES if dialect == "postgresql" else list(_sqlite_statements()) if dialect == "sqlite" else []:
        op.execute(statement)


def drop_guards():
    dialect = op.get_bind().dialect.name
    if dialect == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS coordination_reports_no_change ON coordination_reports")
        op.execute("DROP TRIGGER IF EXISTS coordination_notes_sent ON coordination_notes")
        op.execute("DROP FUNCTION IF EXISTS coordination_reports_immutable()")
        op.execute("DROP FUNCTION IF EXISTS coordination_notes_sent()")
    elif dialect == "sqlite":
        for name in ("coordination_reports_no_update", "coordination_reports_no_delete",
                     "coordination_notes_no_update", "coordination_notes_no_delete"):
            op.execute(f"DROP TRIGGER IF EXISTS {name}")
