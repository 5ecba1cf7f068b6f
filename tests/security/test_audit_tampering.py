"""Tampering with the audit trail directly in the database: `flask audit verify` must catch it.

The attacker modelled here has the database owner's rights but not AUDIT_HMAC_KEY (which
lives only in the app servers' environment). The application's own role could do none of
this (docs/postgresql-roles.md; tests/integration/test_audit_chain.py), and the append-only
triggers refuse it even to the owner, so each case first lifts those triggers, as such an
attacker could (PostgreSQL: ALTER TABLE ... DISABLE TRIGGER USER; SQLite: DROP TRIGGER),
then tampers, then puts them back. Every case runs on a fresh chain (the trail emptied, then
rebuilt through real requests and real commits; built once per engine and worker and loaded
from a snapshot for each case) and must be caught at the row where it happened.
"""
from contextlib import contextmanager
from datetime import datetime, timedelta

import pytest
from sqlalchemy import text

from ketamine_integration.audit import services as audit
from ketamine_integration.audit.chain import head_seal, link_mac
from ketamine_integration.extensions import db
from tests.conftest import reused_world
from tests.figures import sized

# On SQLite and PostgreSQL: raw SQL tampering behind the triggers.
pytestmark = pytest.mark.both_engines

GUESSED_KEY = b"the attacker's best guess at the key"
GUARDED = ("audit_events", "audit_chain_head")
FIELDS = "occurred_at, user_id, action, object_type, object_id, patient_id, ip, outcome, detail"


@contextmanager
def as_database_owner(app):
    """One transaction with the append-only triggers lifted, as a database owner could."""
    with app.app_context(), db.engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            for table in GUARDED:
                conn.execute(text(f"ALTER TABLE {table} DISABLE TRIGGER USER"))
            yield conn
            for table in GUARDED:
                conn.execute(text(f"ALTER TABLE {table} ENABLE TRIGGER USER"))
        else:
            triggers = conn.execute(text("SELECT name, sql FROM sqlite_master WHERE type = 'trigger' AND tbl_name IN "
                                         "('audit_events', 'audit_chain_head')")).all()
            for name, _ in triggers:
                conn.execute(text(f"DROP TRIGGER {name}"))
            yield conn
            for _, sql in triggers:
                conn.execute(text(sql))


def row(conn, position):
    return conn.execute(text(f"SELECT id, chain_position, mac, {FIELDS} FROM audit_events "
                             "WHERE chain_position = :p"), {"p": position}).one()._asdict()


def set_row(conn, position, **values):
    assignments = ", ".join(f"{column} = :{column}" for column in values)
    conn.execute(text(f"UPDATE audit_events SET {assignments} WHERE chain_position = :where_position"),
                 {**values, "where_position": position})


def delete_rows(conn, *positions):
    for position in positions:
        conn.execute(text("DELETE FROM audit_events WHERE chain_position = :p"), {"p": position})


def renumber(conn, from_position, by):
    """Shift positions from `from_position` on by `by` (through negatives: positions are unique)."""
    conn.execute(text("UPDATE audit_events SET chain_position = -(chain_position + :by) WHERE chain_position >= :p"),
                 {"by": by, "p": from_position})
    conn.execute(text("UPDATE audit_events SET chain_position = -chain_position WHERE chain_position < 0"))


def insert_row(conn, values):
    conn.execute(text(f"INSERT INTO audit_events (chain_position, mac, {FIELDS}) VALUES (:chain_position, :mac, "
                      + ", ".join(f":{f.strip()}" for f in FIELDS.split(",")) + ")"), values)


def guessed_mac(conn, position, values):
    previous = row(conn, position - 1)["mac"] if position > 1 else "0" * 64
    return link_mac(GUESSED_KEY, previous, position, values)


def stamp(value) -> datetime:
    """occurred_at as read back raw (SQLite gives text): as a datetime, for arithmetic."""
    return datetime.fromisoformat(value) if isinstance(value, str) else value


# -- the cases: (what the attacker did, function(conn, n, m), the position verify must name) --

def edit_field(conn, n, m):
    set_row(conn, m, detail="nothing to see here")


def reattribute(conn, n, m):
    other = conn.execute(text("SELECT min(id) FROM users WHERE id IS DISTINCT FROM :u"), {"u": row(conn, m)["user_id"]})
    set_row(conn, m, user_id=other.scalar_one())


def move_to_other_patient(conn, n, m):
    """Detach the row from its patient, or (a sign-in row names none) attach it to one."""
    named = row(conn, m)["patient_id"]
    other = None if named is not None else next(row(conn, p)["patient_id"] for p in range(1, n + 1)
                                                if row(conn, p)["patient_id"] is not None)
    set_row(conn, m, patient_id=other)


def backdate(conn, n, m):
    earlier = stamp(row(conn, m)["occurred_at"]) - timedelta(days=1)
    set_row(conn, m, occurred_at=earlier.isoformat(sep=" "))


def change_ip(conn, n, m):
    set_row(conn, m, ip="192.0.2.66")


def edit_mac(conn, n, m):
    set_row(conn, m, mac="f" * 64)


def edit_and_reseal_with_guessed_key(conn, n, m):
    values = {**row(conn, m), "detail": "rewritten"}
    set_row(conn, m, detail="rewritten", mac=guessed_mac(conn, m, values))


def delete_middle(conn, n, m):
    delete_rows(conn, m)


def delete_middle_and_close_gap(conn, n, m):
    delete_rows(conn, m)
    renumber(conn, m + 1, -1)
    conn.execute(text("UPDATE audit_chain_head SET position = position - 1"))


def delete_first(conn, n, m):
    delete_rows(conn, 1)


def delete_last(conn, n, m):
    delete_rows(conn, n)


def delete_tail_and_rewind_head(conn, n, m):
    delete_rows(conn, n, n - 1)
    conn.execute(text("UPDATE audit_chain_head SET position = :p, mac = :mac"), {"p": n - 2, "mac": row(conn, n - 2)["mac"]})


def delete_tail_and_reseal_head(conn, n, m):
    delete_rows(conn, n)
    mac = row(conn, n - 1)["mac"]
    conn.execute(text("UPDATE audit_chain_head SET position = :p, mac = :mac, seal = :seal"),
                 {"p": n - 1, "mac": mac, "seal": head_seal(GUESSED_KEY, n - 1, mac)})


def delete_head(conn, n, m):
    conn.execute(text("DELETE FROM audit_chain_head"))


def swap_contents(conn, n, m):
    a, b = row(conn, m), row(conn, m + 1)
    for target, source in ((m, b), (m + 1, a)):
        set_row(conn, target, **{k: v for k, v in source.items() if k not in ("id", "chain_position")})


def swap_positions(conn, n, m):
    set_row(conn, m, chain_position=-1)
    set_row(conn, m + 1, chain_position=m)
    set_row(conn, -1, chain_position=m + 1)


def forge_at_end(conn, n, m):
    values = {**row(conn, 2), "chain_position": n + 1, "action": "patient.view", "detail": "forged"}
    values["mac"] = guessed_mac(conn, n + 1, values)
    insert_row(conn, values)
    conn.execute(text("UPDATE audit_chain_head SET position = :p, mac = :mac, seal = :seal"),
                 {"p": n + 1, "mac": values["mac"], "seal": head_seal(GUESSED_KEY, n + 1, values["mac"])})


def forge_in_middle(conn, n, m):
    renumber(conn, m, 1)
    values = {**row(conn, m + 1), "chain_position": m, "detail": "forged"}
    values["mac"] = guessed_mac(conn, m, values)
    insert_row(conn, values)
    conn.execute(text("UPDATE audit_chain_head SET position = position + 1"))


def replay_earlier_row(conn, n, m):
    insert_row(conn, {**row(conn, m), "chain_position": n + 1})


def rechain_everything_with_guessed_key(conn, n, m):
    mac = "0" * 64
    for position in range(1, n + 1):
        mac = link_mac(GUESSED_KEY, mac, position, row(conn, position))
        set_row(conn, position, mac=mac)
    conn.execute(text("UPDATE audit_chain_head SET mac = :mac, seal = :seal"),
                 {"mac": mac, "seal": head_seal(GUESSED_KEY, n, mac)})


def relabel_first_action(conn, n, m):
    set_row(conn, 1, action="audit.view")


CASES = [  # (case, tamper, the position verify must name given n rows and the middle one m)
    ("edit a field of a middle row", edit_field, lambda n, m: m),
    ("re-attribute a middle row (user)", reattribute, lambda n, m: m),
    ("detach a middle row from its patient (or attach one)", move_to_other_patient, lambda n, m: m),
    ("backdate a middle row's timestamp by a day", backdate, lambda n, m: m),
    ("change a middle row's client address", change_ip, lambda n, m: m),
    ("edit the mac of a middle row", edit_mac, lambda n, m: m),
    ("edit a row and re-seal it with a guessed key", edit_and_reseal_with_guessed_key, lambda n, m: m),
    ("delete a middle row", delete_middle, lambda n, m: m),
    ("delete a middle row, renumber the rest, move the head", delete_middle_and_close_gap, lambda n, m: m),
    ("delete the first row", delete_first, lambda n, m: 1),
    ("delete the last row", delete_last, lambda n, m: n),
    ("delete the last two rows and rewind the head", delete_tail_and_rewind_head, lambda n, m: n - 2),
    ("delete the last row and re-seal the head with a guessed key", delete_tail_and_reseal_head, lambda n, m: n - 1),
    ("delete the chain head", delete_head, lambda n, m: n),
    ("swap two rows' contents (macs included)", swap_contents, lambda n, m: m),
    ("swap two rows' positions", swap_positions, lambda n, m: m),
    ("forge a row at the end with a guessed mac, head moved", forge_at_end, lambda n, m: n + 1),
    ("forge a row in the middle, renumbering the rest", forge_in_middle, lambda n, m: m),
    ("replay an earlier row at the end", replay_earlier_row, lambda n, m: n + 1),
    ("re-chain every row and the head with a guessed key", rechain_everything_with_guessed_key, lambda n, m: 1),
    ("relabel the first row's action", relabel_first_action, lambda n, m: 1),
]


def fresh_chain(app, make, auth, client, rows: int) -> int:
    """The clinic's trail as _build_chain leaves it, loaded from a snapshot (tests.conftest.reused_world)
    once built: every case meets the same untouched chain. The number of rows."""
    return reused_world(app, f"audit-tampering-{rows}", lambda: _build_chain(app, make, auth, client, rows))


def _build_chain(app, make, auth, client, rows: int) -> int:
    """Two users and a patient; then the trail emptied (as the owner) and filled with real traffic
    (sign-ins, pages, a refusal) and recorded rows in commits of 1-3 rows; returns the number of rows."""
    make.user("staff", username="desk")
    make.user("therapist", username="ther")
    patient = make.patient()
    with as_database_owner(app) as conn:
        for table in ("audit_events", "audit_chain_head", "login_failures"):
            conn.execute(text(f"DELETE FROM {table}"))
    auth.login("desk", "a wrong password here")
    auth.sign_in("desk")
    client.get("/patients/")
    client.get(f"/patients/{patient}")
    auth.logout()
    auth.sign_in("ther")
    client.get("/audit/")  # refused: a durable denial row
    auth.logout()
    with app.app_context():
        written = db.session.scalar(text("SELECT count(*) FROM audit_events"))
        while written < rows:
            for _ in range(min(1 + written % 3, rows - written)):
                audit.record("patient.view", object_type="patient", object_id=patient, patient_id=patient,
                             detail=f"row {written + 1}")
                written += 1
            db.session.commit()
    return written


def verify(app):
    result = app.test_cli_runner().invoke(args=["audit", "verify"])
    return result.exit_code, result.output


def test_every_tampering_case_is_detected(app, make, auth, client, databases, figures):
    rows, detected, misses = sized(24, 400), 0, []
    for name, tamper, where in CASES:
        n = fresh_chain(app, make, auth, client, rows)
        assert verify(app)[0] == 0, f"{name}: the fresh chain should verify"
        with as_database_owner(app) as conn:
            tamper(conn, n, n // 2)
        code, output = verify(app)
        expected = where(n, n // 2)
        if code == 1 and f"BROKEN at chain position {expected}" in output:
            detected += 1
        else:
            misses.append(f"{name}: exit {code}, wanted position {expected}: {output.strip()}")
    figures.record("Audit tampering", f"cases on a {rows}-row chain",
                   f"{len(CASES)} tampering cases, {detected} detected at the row where they happened",
                   engine=databases.name)
    assert misses == []
