"""database guards: signed dosing sessions and protocol snapshots never change

Revision ID: 0003_immutable_records
Revises: 0002_courses_dosing
Create Date: 2026-11-21 10:40:00

The application refuses these changes already; the database refuses them too, whatever
code path (or console) tries. Signed dosing sessions may still record their REMS
submission; their vitals and adverse events are frozen with them.
"""
from alembic import op

revision = '0003_immutable_records'
down_revision = '0002_courses_dosing'
branch_labels = None
depends_on = None

#: dosing_sessions columns a signature freezes (all but the REMS submission and bookkeeping)
FROZEN = ("course_id", "sequence", "status", "planned_start", "spacing_override_reason", "started_at",
          "ended_at", "route", "medication", "dose_mg", "dose_mg_per_kg", "weight_kg", "lot_number",
          "administered_by_id", "monitored_by_id", "sedation", "dissociation",
          "concomitant_sedating_medications", "monitoring_minutes", "discharged_at", "discharge_ready",
          "ready_to_leave_at", "vitals_acceptable_before_dosing", "vitals_acceptable_before_discharge",
          "cancel_reason", "signed_at", "signed_by_id", "content_digest", "created_at")
CHILDREN = ("vital_signs", "adverse_events")

POSTGRES = [
    """CREATE FUNCTION protocol_versions_immutable() RETURNS trigger AS $$
       BEGIN RAISE EXCEPTION 'protocol_versions rows are immutable snapshots'; END; $$ LANGUAGE plpgsql""",
    """CREATE TRIGGER protocol_versions_no_change BEFORE UPDATE OR DELETE ON protocol_versions
       FOR EACH ROW EXECUTE FUNCTION protocol_versions_immutable()""",
    f"""CREATE FUNCTION dosing_sessions_signed_locked() RETURNS trigger AS $$
       BEGIN
         IF TG_OP = 'DELETE' AND OLD.status = 'signed' THEN
           RAISE EXCEPTION 'a signed dosing session cannot be deleted';
         END IF;
         IF TG_OP = 'UPDATE' AND OLD.status = 'signed' AND
            ({' OR '.join(f'NEW.{c} IS DISTINCT FROM OLD.{c}' for c in FROZEN)}) THEN
           RAISE EXCEPTION 'a signed dosing session cannot change; add an addendum';
         END IF;
         RETURN COALESCE(NEW, OLD);
       END; $$ LANGUAGE plpgsql""",
    """CREATE TRIGGER dosing_sessions_signed_locked BEFORE UPDATE OR DELETE ON dosing_sessions
       FOR EACH ROW EXECUTE FUNCTION dosing_sessions_signed_locked()""",
    """CREATE FUNCTION dosing_children_signed_locked() RETURNS trigger AS $$
       BEGIN
         IF (SELECT status FROM dosing_sessions
             WHERE id = COALESCE(NEW.dosing_session_id, OLD.dosing_session_id)) = 'signed' THEN
           RAISE EXCEPTION 'the vitals and adverse events of a signed dosing session cannot change';
         END IF;
         RETURN COALESCE(NEW, OLD);
       END; $$ LANGUAGE plpgsql""",
] + [f"""CREATE TRIGGER {t}_signed_locked BEFORE INSERT OR UPDATE OR DELETE ON {t}
         FOR EACH ROW EXECUTE FUNCTION dosing_children_signed_locked()""" for t in CHILDREN]


def _sqlite_statements():
    raise_ = "BEGIN SELECT RAISE(ABORT, '{}'); END"
    yield ("CREATE TRIGGER protocol_versions_no_update BEFORE UPDATE ON protocol_versions "
           + raise_.format("protocol_versions rows are immutable snapshots"))
    yield ("CREATE TRIGGER protocol_versions_no_delete BEFORE DELETE ON protocol_versions "
           + raise_.format("protocol_versions rows are immutable snapshots"))
    changed = " OR ".join(f"NEW.{c} IS NOT OLD.{c}" for c in FROZEN)
    yield (f"CREATE TRIGGER dosing_sessions_signed_no_update BEFORE UPDATE ON dosing_sessions "
           f"WHEN OLD.status = 'signed' AND ({changed}) "
           + raise_.format("a signed dosing session cannot change; add an addendum"))
    yield ("CREATE TRIGGER dosing_sessions_signed_no_delete BEFORE DELETE ON dosing_sessions "
           "WHEN OLD.status = 'signed' " + raise_.format("a signed dosing session cannot be deleted"))
    for table in CHILDREN:
        for when, row in (("INSERT", "NEW"), ("UPDATE", "OLD"), ("DELETE", "OLD")):
            yield (f"CREATE TRIGGER {table}_signed_no_{when.lower()} BEFORE {when} ON {table} "
                   f"WHEN (SELECT status FROM dosing_sessions WHERE id = {row}.dosing_session_id) = 'signed' "
                   + raise_.format("the vitals and adverse events of a signed dosing session cannot change"))


def upgrade():
    dialect = op.get_bind().dialect.name
    statements = POSTGRES if dialect == "postgresql" else list(_sqlite_statements()) if dialect == "sqlite" else []
    for statement in statements:
        op.execute(statement)


def downgrade():
    dialect = op.get_bind().dialect.name
    if dialect == "postgresql":
        for table in CHILDREN:
            op.execute(f"DROP TRIGGER IF EXISTS {table}_signed_locked ON {table}")
        op.execute("DROP TRIGGER IF EXISTS dosing_sessions_signed_locked ON dosing_sessions")
        op.execute("DROP TRIGGER IF EXISTS protocol_versions_no_change ON protocol_versions")
        for function in ("dosing_children_signed_locked", "dosing_sessions_signed_locked",
                         "protocol_versions_immutable"):
            op.execute(f"DROP FUNCTION IF EXISTS {function}()")
    elif dialect == "sqlite":
        names = ["protocol_versions_no_update", "protocol_versions_no_delete", "dosing_sessions_signed_no_update",
                 "dosing_sessions_signed_no_delete"] + [f"{t}_signed_no_{w}" for t in CHILDREN
                                                          for w in ("insert", "update", "delete")]
        for name in names:
            op.execute(f"DROP TRIGGER IF EXISTS {name}")
