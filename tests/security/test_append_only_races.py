"""Figure: one-way changes posted at the same moment, on both engines: one lands, the others get
the form's clear refusal, none a server error (issue 17, point 3, second attack: two voids of
one preparation entry both saw it live and the second hit the trigger, a 500 with no audit row).
And when a path does reach an append-only guard, the answer is a 409 "reload", audited.
"""
from __future__ import annotations

import threading
from collections import Counter
from datetime import date

import pytest
from sqlalchemy import select, text

from ketamine_integration.audit.models import AuditEvent
from ketamine_integration.courses import services as course_services
from ketamine_integration.courses.models import PreparationRecord
from ketamine_integration.extensions import db
from tests.conftest import Auth
from tests.security.append_only_world import seed
from tests.security.clinic import USERNAMES

# On SQLite and PostgreSQL: append-only guards under concurrent writes.
pytestmark = pytest.mark.both_engines

RACERS = 6

#: (audit action, table, the posted form for the seeded row (each racer i), the column set once)
RACES = [
    ("preparation.void", "preparation_records",
     lambda row, i: (f"/courses/{row['course']}/preparation/{row['id']}/void", {"reason": f"Entered in error ({i})"}),
     "void_reason"),
    ("measure.void", "measure_responses",
     lambda row, i: (f"/measures/{row['id']}/void", {"reason": f"Entered twice ({i})"}), "void_reason"),
    ("alert.acknowledge", "safety_alerts",
     lambda row, i: (f"/alerts/{row['id']}/acknowledge", {"note": f"Called the patient; safe ({i})"}),
     "acknowledgement"),
    ("release.revoke", "releases_of_information",
     lambda row, i: (f"/releases/{row['id']}/revoke", {"revoked_on": date.today().isoformat()}), "revoked_on"),
]


def _race(app, posts) -> list[int]:
    """Each signed-in tab posts its form at the same moment; their status codes."""
    tabs = []
    for _ in posts:
        tab = Auth(app, app.test_client())
        assert tab.login(USERNAMES["therapist"]).status_code == 302
        tabs.append(tab)
    barrier, codes = threading.Barrier(len(posts)), []

    def post(tab, url, data):
        barrier.wait(30)
        codes.append(tab.post(url, data).status_code)
    threads = [threading.Thread(target=post, args=(tab, *form)) for tab, form in zip(tabs, posts)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    return codes


def _outcomes(make, action: str, object_ids: set[str]) -> Counter:
    return Counter(make.query(lambda: db.session.scalars(select(AuditEvent.outcome).where(
        AuditEvent.action == action, AuditEvent.object_id.in_(object_ids))).all()))


def test_concurrent_one_way_changes_land_once_and_refuse_the_rest_clearly(app, make, auth, databases, figures):
    where = seed(make, auth)
    lines = []
    for action, table, form, column in RACES:
        row = where[table][1]
        codes = _race(app, [form(row, i) for i in range(RACERS)])
        assert Counter(codes) == {302: RACERS}, f"{action}: {codes}"  # each back to its page, with a message
        # a refusal that names the course (the entry could not be voided) counts as well
        outcomes = _outcomes(make, action, {str(row["id"]), str(row.get("course"))})
        assert outcomes == {"success": 1, "failure": RACERS - 1}, f"{action}: {outcomes}"
        assert make.query(lambda: db.session.scalar(text(f"SELECT {column} FROM {table} WHERE id = :id"),
                                                    {"id": row["id"]})) is not None
        lines.append(f"{action} {outcomes['success']} success, {outcomes['failure']} refused, "
                     f"{sum(code >= 500 for code in codes)} errors")
    figures.record("Append-only tables", f"{RACERS} concurrent one-way changes", "; ".join(lines),
                   engine=databases.name)


def _rewrite_through_the_orm(course, record_id, **_):
    record = db.session.get(PreparationRecord, record_id)
    record.note = "Rewritten after the fact"
    db.session.flush()


def _rewrite_past_the_orm(course, record_id, **_):
    db.session.execute(text("UPDATE preparation_records SET note = 'Rewritten after the fact' WHERE id = :id"),
                       {"id": record_id})


@pytest.mark.parametrize("rewrite", [
    _rewrite_through_the_orm,  # the ORM guard refuses before the database is asked
    _rewrite_past_the_orm,  # the trigger refuses
])
def test_a_write_a_guard_refuses_answers_409_and_is_audited(app, make, auth, monkeypatch, rewrite):
    where = seed(make, auth)
    row = where["preparation_records"][1]
    monkeypatch.setattr(course_services, "void_preparation", rewrite)  # a service that forgot its lock and check
    assert auth.login(USERNAMES["therapist"]).status_code == 302
    response = auth.post(f"/courses/{row['course']}/preparation/{row['id']}/void", {"reason": "Entered in error"})
    assert response.status_code == 409
    assert "This record has changed" in response.get_data(as_text=True)
    assert make.query(lambda: db.session.scalar(text("SELECT note FROM preparation_records WHERE id = :id"),
                                                {"id": row["id"]})) != "Rewritten after the fact"
    refused = make.query(lambda: db.session.scalars(select(AuditEvent.detail).where(
        AuditEvent.action == "record.changed", AuditEvent.outcome == "failure")).all())
    assert refused == ["guard refused courses.preparation_void"]
