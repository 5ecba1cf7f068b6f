"""Figure: what the database owner does to append-only records with the guards lifted, and what
`flask signatures verify` names (issue 17, point 3, second attack: 13 such tamperings went
unnamed, because only rows still present were rechecked and one-way changes only for being
undone). Each case is made on records the app wrote through its forms (so the audit trail
knows them), checked, and put back before the next.
"""
from __future__ import annotations

from datetime import date, datetime, timezone

import pytest
from sqlalchemy import select, text

from ketamine_integration.extensions import db
from tests.security.append_only_world import as_database_owner, seed
from tests.security.clinic import USERNAMES

# On SQLite and PostgreSQL: append-only guards lifted by the database owner.
pytestmark = pytest.mark.both_engines

OWNER_DAY = datetime(2001, 1, 1, tzinfo=timezone.utc)


def _scalar(make, sql: str, **params):
    return make.query(lambda: db.session.scalar(text(sql), params))


def _make_one_way_changes(make, auth, where) -> dict[str, int]:
    """Through the app: a measure voided, an alert acknowledged, a release revoked, and a second
    measure whose answers raise an alert nobody has acknowledged yet. The ids the cases use."""
    ids = {table: where[table][1]["id"] for table in where}
    course = _scalar(make, "SELECT course_id FROM measure_responses WHERE id = :id", id=ids["measure_responses"])
    assert auth.login(USERNAMES["therapist"]).status_code == 302
    for url, data in ((f"/measures/{ids['measure_responses']}/void", {"reason": "Entered twice"}),
                      (f"/alerts/{ids['safety_alerts']}/acknowledge", {"note": "Called the patient; safe"}),
                      (f"/releases/{ids['releases_of_information']}/revoke", {"revoked_on": date.today().isoformat()}),
                      (f"/courses/{course}/measures/phq9", {"phq9-administered_on": date.today().isoformat(),
                                                           **{f"phq9-item{n}": "1" for n in range(1, 10)}})):
        assert auth.post(url, data).status_code == 302, url
    ids["open_alert"] = _scalar(make, "SELECT max(id) FROM safety_alerts")
    ids["alerted_measure"] = _scalar(make, "SELECT measure_response_id FROM safety_alerts WHERE id = :id",
                                     id=ids["open_alert"])
    ids["addendum_note"] = _scalar(make, "SELECT note_id FROM note_addenda WHERE id = :id", id=ids["note_addenda"])
    ids["transition_course"] = _scalar(make, "SELECT course_id FROM phase_transitions WHERE id = :id",
                                       id=ids["phase_transitions"])
    ids["appointment"] = _scalar(make, "SELECT appointment_id FROM appointment_changes WHERE id = :id",
                                 id=ids["appointment_changes"])
    ids["addendum_plan"] = _scalar(make, "SELECT plan_id FROM plan_addenda WHERE id = :id", id=ids["plan_addenda"])
    ids["prescriber"] = _scalar(make, "SELECT id FROM users WHERE username = :u", u=USERNAMES["prescriber"])
    ids["progress_note"] = ids["note_objective_progress"]  # seeded by its note
    ids["progress_row"] = _scalar(make, "SELECT id FROM note_objective_progress WHERE note_id = :n",
                                  n=ids["progress_note"])
    ids["plan_step"] = _scalar(make, "SELECT id FROM action_steps WHERE note_id = :n", n=ids["progress_note"])
    return ids


#: (what the owner did, steps: (table, key of the row's id, new values; None deletes it),
#:  what verify must say: any of these, formatted with the ids)
CASES = [
    ("pushed a revocation to 2099", [("releases_of_information", "releases_of_information",
                                      {"revoked_on": date(2099, 1, 1)})],
     ["REWRITTEN release of information {releases_of_information} (releases_of_information)"]),
    ("rewrote a measure's void reason", [("measure_responses", "measure_responses", {"void_reason": "REWRITTEN"})],
     ["REWRITTEN measure response {measure_responses} (measure_responses)"]),
    ("moved a measure's void date", [("measure_responses", "measure_responses", {"voided_at": OWNER_DAY})],
     ["REWRITTEN measure response {measure_responses} (measure_responses)"]),
    ("rewrote an acknowledgement", [("safety_alerts", "safety_alerts", {"acknowledgement": "REWRITTEN"})],
     ["REWRITTEN safety alert {safety_alerts} (safety_alerts)"]),
    ("changed who acknowledged an alert", [("safety_alerts", "safety_alerts", {"acknowledged_by_id": "prescriber"})],
     ["REWRITTEN safety alert {safety_alerts} (safety_alerts)"]),
    ("deleted an alert nobody had acknowledged", [("safety_alerts", "open_alert", None)],
     ["BROKEN measure response {alerted_measure} (measure_responses)"]),
    ("deleted a measure (and its alert)", [("safety_alerts", "open_alert", None),
                                           ("measure_responses", "alerted_measure", None)],
     ["MISSING measure response {alerted_measure} (measure_responses)"]),
    ("deleted a release", [("releases_of_information", "releases_of_information", None)],
     ["MISSING release of information {releases_of_information} (releases_of_information)"]),
    ("deleted a note addendum", [("note_addenda", "note_addenda", None)],
     ["MISSING note addendum rows of {addendum_note} (note_addenda)"]),
    ("rewrote a formulation revision", [("case_formulations", "case_formulations",
                                         {"content": {"presenting_concerns": "REWRITTEN"}})],
     ["MISMATCH formulation revision {case_formulations} (case_formulations): content differs"]),
    ("deleted a phase transition", [("phase_transitions", "phase_transitions", None)],
     ["BROKEN course {transition_course} (treatment_courses)",
      "MISSING phase transition rows of {transition_course} (phase_transitions)"]),
    ("deleted a booking's change", [("appointment_changes", "appointment_changes", None)],
     ["BROKEN appointment {appointment} (appointments)",
      "MISSING appointment change rows of {appointment} (appointment_changes)"]),
    ("rewrote a signed treatment plan revision", [("treatment_plans", "treatment_plans", {"stage": "consolidate"})],
     ["MISMATCH treatment plan revision {treatment_plans}: content differs from what was signed"]),
    ("rewrote a plan addendum", [("plan_addenda", "plan_addenda", {"body": "REWRITTEN"})],
     ["MISMATCH plan addendum {plan_addenda} (plan_addenda): content differs"]),
    ("deleted a plan addendum", [("plan_addenda", "plan_addenda", None)],
     ["MISSING plan addendum rows of {addendum_plan} (plan_addenda)"]),
    ("rewrote a note's progress on a plan objective", [("note_objective_progress", "progress_row",
                                                        {"progress": "achieved", "comment": "REWRITTEN"})],
     ["MISMATCH session note {progress_note}: content differs from what was signed"]),
    ("deleted a note's progress on a plan objective", [("note_objective_progress", "progress_row", None)],
     ["MISMATCH session note {progress_note}: content differs from what was signed"]),
    ("rewrote a step's success criterion", [("action_steps", "plan_step", {"success_criterion": "REWRITTEN"})],
     ["MISMATCH session note {progress_note}: content differs from what was signed"]),
    ("unlinked a note from the plan it followed", [("session_notes", "progress_note", {"plan_id": None})],
     ["MISMATCH session note {progress_note}: content differs from what was signed"]),
    ("rewrote a preparation entry", [("preparation_records", "preparation_records",
                                      {"note": "REWRITTEN", "completed_on": date(2000, 1, 1)})],
     ["MISMATCH preparation record {preparation_records} (preparation_records): content differs"]),
    ("rewrote a signed safety plan", [("safety_plan_revisions", "safety_plan_revisions",
                                       {"content": {"warning_signs": ["REWRITTEN"]}})],
     ["MISMATCH safety plan revision {safety_plan_revisions}: content differs from what was signed"]),
    ("deleted a safety plan review", [("safety_plan_reviews", "safety_plan_reviews", None)],
     ["MISSING safety plan review {safety_plan_reviews} (safety_plan_reviews)"]),
    ("deleted a safety plan addendum", [("safety_plan_addenda", "safety_plan_addenda", None)],
     ["MISSING safety plan addendum {safety_plan_addenda} (safety_plan_addenda)"]),
    ("marked a safety plan review as with the patient", [("safety_plan_reviews", "safety_plan_reviews",
                                                          {"with_patient": False})],
     ["MISMATCH safety plan review {safety_plan_reviews} (safety_plan_reviews): content differs"]),
]


def _verify(app) -> tuple[int, str]:
    result = app.test_cli_runner().invoke(args=["signatures", "verify"])
    return result.exit_code, result.output


def _tamper(app, ids, steps) -> list[tuple]:
    """Apply the steps as the owner; the original rows, to put back."""
    originals = []
    with as_database_owner(app) as conn:
        for table, key, values in steps:
            rows = db.metadata.tables[table]
            where = rows.c.id == ids[key]
            originals.append((rows, dict(conn.execute(select(rows).where(where)).one()._mapping)))
            if values is None:
                assert conn.execute(rows.delete().where(where)).rowcount == 1
            else:
                values = {c: ids[v] if c.endswith("_id") and v in ids else v for c, v in values.items()}
                assert conn.execute(rows.update().where(where).values(values)).rowcount == 1
    return originals


def _put_back(app, originals) -> None:
    with as_database_owner(app) as conn:
        for rows, original in reversed(originals):
            conn.execute(rows.delete().where(rows.c.id == original["id"]))
            conn.execute(rows.insert().values(original))


def test_tamperings_behind_the_guards_are_named_by_signatures_verify(app, make, auth, databases, figures):
    ids = _make_one_way_changes(make, auth, seed(make, auth))
    code, output = _verify(app)
    assert code == 0, output  # nothing named before anything is touched
    named = 0
    for what, steps, expected in CASES:
        originals = _tamper(app, ids, steps)
        code, output = _verify(app)
        found = code == 1 and any(line.format(**ids) in output for line in expected)
        named += found
        assert found, f"{what}: not named\n{output}"
        _put_back(app, originals)
        assert _verify(app)[0] == 0, f"{what}: the rows were not put back"
    figures.record("Append-only tables", "tampering behind the guards",
                   f"{len(CASES)} deletions and rewrites of what the first checks missed (the second attack's), "
                   f"{named} named by signatures verify", engine=databases.name)
