"""techniques in notes: the techniques an integration note used from the clinic's vocabulary, each
with its rationale, and the patient's response to each as a later note records it

Revision ID: 0046_technique_use
Revises: 0044_portal_account_admin
Create Date: 2026-12-05 00:00:00

Issue 24, point 2. `note_techniques` holds a note's techniques: the vocabulary key and the name at
the time (so history reads the same if the vocabulary files change) and the rationale, required.
`technique_responses` holds, on a later note, how the patient responded to one of them (helpful,
mixed, not helpful, too early to tell) with a comment. Both are frozen with their note once it is
signed, and a discarded draft gains none, by the same trigger functions as the note's themes
(migrations 0007 and 0027; on SQLite the same triggers spelt per table). Older notes keep their
free-text techniques in `session_notes.content`, untouched.
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0046_technique_use'
down_revision = '0044_portal_account_admin'
branch_labels = None
depends_on = None

TABLES = ("note_techniques", "technique_responses")
SIGNED = "the content of a signed note cannot change"
DISCARDED = "a discarded draft gains no content"


def _create_tables() -> None:
    op.create_table(
        'note_techniques',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('note_id', sa.Integer(), nullable=False),
        sa.Column('technique_key', sa.String(length=60), nullable=False),
        sa.Column('technique_name', sa.String(length=120), nullable=False),
        sa.Column('rationale', sa.String(length=500), nullable=False),
        sa.CheckConstraint("rationale <> ''", name=op.f('ck_note_techniques_with_rationale')),
        sa.ForeignKeyConstraint(['note_id'], ['session_notes.id'], name=op.f('fk_note_techniques_note_id_session_notes')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_note_techniques')))
    op.create_index(op.f('ix_note_techniques_note_id'), 'note_techniques', ['note_id'], unique=False)
    op.create_table(
        'technique_responses',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('note_id', sa.Integer(), nullable=False),
        sa.Column('note_technique_id', sa.Integer(), nullable=False),
        sa.Column('response', sa.String(length=20), nullable=False),
        sa.Column('comment', sa.String(length=500), nullable=True),
        sa.CheckConstraint("response IN ('helpful', 'mixed', 'not_helpful', 'too_early')",
                           name=op.f('ck_technique_responses_known_response')),
        sa.ForeignKeyConstraint(['note_id'], ['session_notes.id'],
                                name=op.f('fk_technique_responses_note_id_session_notes')),
        sa.ForeignKeyConstraint(['note_technique_id'], ['note_techniques.id'],
                                name=op.f('fk_technique_responses_note_technique_id_note_techniques')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_technique_responses')),
        sa.UniqueConstraint('note_id', 'note_technique_id',
                            name=op.f('uq_technique_responses_note_id_note_technique_id')))
    op.create_index(op.f('ix_technique_responses_note_id'), 'technique_responses', ['note_id'], unique=False)
    op.create_index(op.f('ix_technique_responses_note_technique_id'), 'technique_responses',
                    ['note_technique_id'], unique=False)


def _postgres_statements():
    for table in TABLES:
        yield (f"CREATE TRIGGER {table}_signed_locked BEFORE INSERT OR UPDATE OR DELETE ON {table} "
               "FOR EACH ROW EXECUTE FUNCTION note_children_signed_locked()")
        yield (f"CREATE TRIGGER {table}_discarded_locked BEFORE INSERT OR UPDATE ON {table} "
               "FOR EACH ROW EXECUTE FUNCTION note_children_discarded_locked()")


def _sqlite_statements():
    raise_ = "BEGIN SELECT RAISE(ABORT, '{}'); END"
    for table in TABLES:
        for name, when, row in (("insert", "INSERT", "NEW"), ("update", "UPDATE", "OLD"),
                                ("move", "UPDATE", "NEW"), ("delete", "DELETE", "OLD")):
            yield (f"CREATE TRIGGER {table}_signed_no_{name} BEFORE {when} ON {table} "
                   f"WHEN (SELECT status FROM session_notes WHERE id = {row}.note_id) = 'signed' "
                   + raise_.format(SIGNED))
        for name, when in (("insert", "INSERT"), ("update", "UPDATE")):
            yield (f"CREATE TRIGGER {table}_discarded_no_{name} BEFORE {when} ON {table} "
                   "WHEN (SELECT discarded_at FROM session_notes WHERE id = NEW.note_id) IS NOT NULL "
                   + raise_.format(DISCARDED))


def upgrade():
    dialect = op.get_bind().dialect.name
    _create_tables()
    statements = _postgres_statements() if dialect == "postgresql" else \
        _sqlite_statements() if dialect == "sqlite" else ()
    for statement in statements:
        op.execute(statement)


def downgrade():
    # the triggers go with their tables on both engines; the shared trigger functions stay (0007, 0027)
    op.drop_index(op.f('ix_technique_responses_note_technique_id'), table_name='technique_responses')
    op.drop_index(op.f('ix_technique_responses_note_id'), table_name='technique_responses')
    op.drop_table('technique_responses')
    op.drop_index(op.f('ix_note_techniques_note_id'), table_name='note_techniques')
    op.drop_table('note_techniques')
