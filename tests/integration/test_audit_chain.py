"""The HMAC chain over the audit trail: chained at commit, one writer at a time, verified by
`flask audit verify`, and on PostgreSQL unchangeable by the application's own role."""
import re
import threading
import time
from pathlib import Path

import psycopg
import pytest
from sqlalchemy import func, select, text
from sqlalchemy.engine import make_url

from ketamine_integration import create_app, extensions
from ketamine_integration.audit import chain
from ketamine_integration.audit import services as audit
from ketamine_integration.audit.chain import AuditChainBroken
from ketamine_integration.audit.models import AuditChainHead, AuditEvent
from ketamine_integration.extensions import db
from ketamine_integration.patients.models import Patient
from ketamine_integration.db.locking import lock_row
from tests.databases import app_settings

# On SQLite and PostgreSQL: upserts, row locks, triggers, roles and threads per engine.
pytestmark = pytest.mark.both_engines

ROLES_DOC = Path(__file__).resolve().parents[2] / "docs" / "postgresql-roles.md"


def verify(app) -> tuple[int, str]:
    result = app.test_cli_runner().invoke(args=["audit", "verify"])
    return result.exit_code, result.output


def positions(make) -> list[int]:
    return [row.chain_position for row in make.audit_rows()]


def _count(make, model=AuditEvent) -> int:
    return make.query(lambda: db.session.scalar(select(func.count()).select_from(model)))


def test_requests_extend_one_chain_that_verifies(make, auth, client, app):
    make.user("staff", username="desk")
    patient = make.patient()
    auth.login("desk", "a wrong password here")
    auth.login("desk")
    client.get("/patients/")
    client.get(f"/patients/{patient}")
    rows = make.audit_rows()
    assert [r.action for r in rows] == ["login.failure", "login.mfa_due", "login.mfa_success",
                                        "login.success", "patient.list", "patient.view"]
    assert positions(make) == [1, 2, 3, 4, 5, 6]
    assert len({r.mac for r in rows}) == 6 and all(re.fullmatch(r"[0-9a-f]{64}", r.mac) for r in rows)
    code, output = verify(app)
    assert code == 0 and "Audit chain intact: 6 rows verified." in output
    head = make.query(lambda: db.session.get(AuditChainHead, 1))
    assert (head.position, head.mac) == (6, rows[-1].mac) and f"mac {head.mac}" in output


def test_an_empty_trail_verifies(app):
    code, output = verify(app)
    assert code == 0 and "Audit chain intact: 0 rows verified." in output


def test_rows_are_written_at_commit_not_when_recorded(app, make):
    with app.app_context():
        audit.record("audit.view", detail="first")
        db.session.flush()
        assert db.session.scalar(select(func.count()).select_from(AuditEvent)) == 0  # queued, no chain lock yet
        db.session.commit()
    assert positions(make) == [1]


def test_rows_recorded_inside_a_rolled_back_savepoint_or_transaction_are_dropped(app, make):
    with app.app_context():
        audit.record("audit.view", detail="kept")
        try:
            with db.session.begin_nested():
                audit.record("audit.view", detail="inside a refused operation")
                raise RuntimeError("refused")
        except RuntimeError:
            pass
        with db.session.begin_nested():
            audit.record("audit.view", detail="inside a released savepoint")
        db.session.commit()
        audit.record("audit.view", detail="rolled back")
        db.session.rollback()
        db.session.commit()
    assert [(r.detail, r.chain_position) for r in make.audit_rows()] == [("kept", 1),
                                                                          ("inside a released savepoint", 2)]
    assert verify(app)[0] == 0


def test_a_denied_request_keeps_its_durable_row_in_the_chain(make, auth, client, app):
    make.user("therapist", username="ther")
    auth.login("ther")
    assert client.get("/audit/").status_code == 403  # rolled back; the denial is written again
    assert [r.action for r in make.audit_rows()] == ["login.mfa_due", "login.mfa_success", "login.success",
                                                     "access.denied"]
    assert positions(make) == [1, 2, 3, 4] and verify(app)[0] == 0


def test_another_key_does_not_verify(app, make, auth):
    make.user("staff", username="desk")
    auth.login("desk")
    other = create_app({**app_settings(app.config["SQLALCHEMY_DATABASE_URI"]),
                        "AUDIT_HMAC_KEY": "another-key-entirely-0123456789-abcdefgh"})
    try:
        code, output = verify(other)
    finally:
        with other.app_context():
            db.engine.dispose()
    assert code == 1 and "BROKEN at chain position 1 (audit row id 1)" in output
    assert "most likely AUDIT_HMAC_KEY is not the key this trail was written with" in output


def test_a_rewritten_head_stops_the_chain_growing(app, make, auth):
    make.user("staff", username="desk")
    auth.login("desk")
    # the head's trigger lets it move forward only; rewriting its seal is not moving it back
    make.run(lambda: db.session.execute(text("UPDATE audit_chain_head SET seal = :s"), {"s": "0" * 64}))
    with app.app_context():
        audit.record("audit.view")
        with pytest.raises(AuditChainBroken, match="rewritten"):
            db.session.commit()
        db.session.rollback()
    code, output = verify(app)
    assert code == 1 and "the head row was rewritten" in output


def test_the_head_cannot_be_deleted_or_moved_back(app, make, auth):
    make.user("staff", username="desk")
    auth.login("desk")
    for statement in ("DELETE FROM audit_chain_head", "UPDATE audit_chain_head SET position = 0"):
        with pytest.raises(Exception, match="audit chain head"):
            make.run(lambda: db.session.execute(text(statement)))
    assert verify(app)[0] == 0


def test_parallel_writers_keep_one_gap_free_chain(app, make):
    """Eight threads, each with its own session, commit 15 rows each at the same time."""
    threads_count, per_thread, start, errors = 8, 15, threading.Barrier(8), []

    def write(n):
        try:
            with app.app_context():
                start.wait(30)
                for i in range(per_thread):
                    audit.record("audit.view", detail=f"writer {n} row {i}")
                    if i % 3 == 2:
                        audit.record("audit.view", detail=f"writer {n} row {i} (second in the commit)")
                    db.session.commit()
                db.session.remove()
        except Exception as err:  # reported below; a thread's exception is otherwise lost
            errors.append(repr(err))
    threads = [threading.Thread(target=write, args=(n,)) for n in range(threads_count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert errors == []
    total = threads_count * (per_thread + per_thread // 3)
    assert sorted(positions(make)) == list(range(1, total + 1))
    code, output = verify(app)
    assert code == 0 and f"{total} rows verified" in output


def test_verify_while_the_app_keeps_writing_sees_no_false_break(app, make):
    make.user("staff", username="desk")
    stop, errors = threading.Event(), []

    def keep_writing():
        try:
            with app.app_context():
                while not stop.is_set():
                    audit.record("audit.view", detail="meanwhile")
                    db.session.commit()
                db.session.remove()
        except Exception as err:
            errors.append(repr(err))
    writer = threading.Thread(target=keep_writing)
    writer.start()
    try:
        results = [verify(app) for _ in range(5)]
    finally:
        stop.set()
        writer.join(60)
    assert errors == [] and [code for code, _ in results] == [0] * 5, results


def test_a_locked_patient_row_does_not_deadlock_the_chain(app, make):
    """A holds a patient row FOR UPDATE; B commits an audit row about that patient; then A
    commits. B must wait for A's lock before it takes the chain, or A's commit (waiting for
    the chain) and B (holding the chain, waiting for the patient) would deadlock."""
    patient_id = make.patient()
    a_locked, errors = threading.Event(), []

    def a():
        try:
            with app.app_context():
                lock_row(db.session.get(Patient, patient_id))
                audit.record("patient.view", object_type="patient", object_id=patient_id, patient_id=patient_id)
                a_locked.set()
                time.sleep(1.0)  # B is committing meanwhile
                db.session.commit()
                db.session.remove()
        except Exception as err:
            errors.append(f"A: {err!r}")

    def b():
        try:
            with app.app_context():
                a_locked.wait(30)
                audit.record("patient.update", object_type="patient", object_id=patient_id, patient_id=patient_id)
                db.session.commit()
                db.session.remove()
        except Exception as err:
            errors.append(f"B: {err!r}")
    threads = [threading.Thread(target=a), threading.Thread(target=b)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert errors == []
    assert sorted(positions(make)) == [1, 2] and verify(app)[0] == 0


def test_the_migration_chains_existing_rows_in_id_order(app, make):
    from flask_migrate import downgrade, upgrade

    with app.app_context():
        downgrade(revision="0010_login_throttle")
        with db.engine.begin() as conn:
            for n, stamp in enumerate(["2026-03-02 09:00:00.000001", "2026-03-01 08:00:00", "2026-03-03 10:30:00"]):
                conn.execute(text("INSERT INTO audit_events (occurred_at, action, outcome, detail, ip) "
                                  "VALUES (:at, 'audit.view', 'success', :d, '10.0.0.1')"),
                             {"at": stamp, "d": f"before the chain {n}"})
        upgrade()
    rows = make.audit_rows()
    assert [(r.id, r.chain_position) for r in rows] == [(1, 1), (2, 2), (3, 3)]
    assert verify(app)[0] == 0
    with app.app_context():  # and the chain continues from there
        audit.record("audit.view", detail="after the upgrade")
        db.session.commit()
    assert positions(make) == [1, 2, 3, 4] and verify(app)[0] == 0


def _doc_sql(heading: str) -> str:
    """The SQL block under a heading of docs/postgresql-roles.md: the test runs what the doc says."""
    doc = ROLES_DOC.read_text()
    section = doc[doc.index(heading):]
    return re.search(r"```sql\n(.*?)```", section, re.S).group(1)


def test_the_app_role_can_insert_but_never_change_audit_rows(app, make, auth, databases):
    if databases.name != "postgresql":
        pytest.skip("roles and privileges are PostgreSQL's")
    make.user("staff", username="desk")
    auth.login("desk")
    url = make_url(app.config["SQLALCHEMY_DATABASE_URI"])
    role = f"ki_app_test_{url.database[-10:]}"
    sql = _doc_sql("## The application role") + _doc_sql("### Its grants")
    grants = sql.replace("ki_app", role).replace("DATABASE ketamine_integration", f'DATABASE "{url.database}"') \
        .replace("PASSWORD 'change-me'", "")
    admin = url.set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(grants)
    try:
        as_app = url.set(drivername="postgresql", username=role, password=None).render_as_string(hide_password=False)
        with psycopg.connect(as_app, autocommit=True) as conn:
            before = conn.execute("SELECT count(*) FROM audit_events").fetchone()[0]  # the sign-in's rows
            conn.execute("INSERT INTO audit_events (occurred_at, action, outcome, chain_position, mac) "
                         "VALUES (now(), 'audit.view', 'success', 99, repeat('0', 64))")
            assert conn.execute("SELECT count(*) FROM audit_events").fetchone()[0] == before + 1
            conn.execute("UPDATE audit_chain_head SET seal = seal")  # the head moves with every commit
            for statement in ("UPDATE audit_events SET detail = 'edited'", "DELETE FROM audit_events",
                              "TRUNCATE audit_events", "DELETE FROM audit_chain_head", "TRUNCATE audit_chain_head",
                              "ALTER TABLE audit_events DISABLE TRIGGER USER", "DROP TABLE audit_events"):
                with pytest.raises(psycopg.errors.InsufficientPrivilege):
                    conn.execute(statement)
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f"DROP OWNED BY {role}")
            conn.execute(f"DROP ROLE {role}")
    assert _count(make) == before + 1


def test_verify_on_sqlite_lets_requests_write_while_it_walks(app, make, auth, databases, monkeypatch):
    """Every request writes an audit row: a verify holding SQLite's write lock for its whole walk
    (seconds on a long trail) would make them fail with "database is locked"."""
    if databases.name != "sqlite":
        pytest.skip("PostgreSQL's verify reads a REPEATABLE READ snapshot, which never blocks writers")
    make.user("staff", username="desk")
    auth.login("desk")
    walk = chain._walk

    def slow_walk(rows, key):  # stands in for a long trail
        time.sleep(1.5)
        return walk(rows, key)

    monkeypatch.setattr(chain, "_walk", slow_walk)
    monkeypatch.setattr(extensions, "SQLITE_BUSY_TIMEOUT_MS", 300)  # far shorter than the walk
    with app.app_context():
        db.engine.dispose()  # new connections take the short busy timeout
    results = []
    verifier = threading.Thread(target=lambda: results.append(app.test_cli_runner().invoke(args=["audit", "verify"])))
    verifier.start()
    time.sleep(0.5)  # the walk is under way
    try:
        with app.app_context():
            audit.record("audit.view")
            db.session.commit()  # what every request does at its end: must not wait out the walk
    finally:
        verifier.join()
    assert results[0].exit_code == 0, results[0].output


def test_verify_prints_the_head_to_keep_outside_the_database(make, auth, app):
    """SECURITY.md asks operators to record the Head: line; it must be the head the trail holds."""
    make.user("therapist", username="ther")
    auth.login("ther")
    code, output = verify(app)
    head = make.query(lambda: db.session.execute(select(AuditChainHead.position, AuditChainHead.mac)).one())
    assert code == 0 and f"Head: position {head.position}, mac {head.mac}" in output
    assert head.position == len(make.audit_rows()) and len(head.mac) == 64


def test_a_removed_head_stops_the_chain_growing(app, make, auth):
    """With its guard lifted (as a database owner could), the head is deleted: the next write
    must not start a fresh chain over the existing rows."""
    from tests.security.test_audit_tampering import as_database_owner
    make.user("staff", username="desk")
    auth.login("desk")
    with as_database_owner(app) as conn:
        conn.execute(text("DELETE FROM audit_chain_head"))
    with app.app_context():
        audit.record("audit.view")
        with pytest.raises(AuditChainBroken, match="head row is missing"):
            db.session.commit()
        db.session.rollback()
        assert db.session.scalar(select(func.count()).select_from(AuditChainHead)) == 0
