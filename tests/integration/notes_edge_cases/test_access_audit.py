"""Who may use the note pages, and the audit trail of refusals."""
from datetime import timedelta

from sqlalchemy import select

from ketamine_integration.extensions import db
from ketamine_integration.notes.models import UnsavedWork
from tests.integration.notes_edge_cases.helpers import _integration_data, _start, _version, _write_and_sign


def test_process_notes_are_not_found_for_every_other_user(team, make, auth, client):
    # README: "every other user gets 'not found' for them"
    auth.sign_in("ther")
    note = _write_and_sign(make, auth, team)
    assert auth.post(f"/notes/{note}/process", {"body": "Private"}).status_code == 302
    auth.logout()
    make.user("therapist", username="outsider")
    statuses = {}
    for username in ("ther2", "pres", "desk", "boss", "outsider"):
        auth.sign_in(username)
        statuses[username] = client.get(f"/notes/{note}/process").status_code
        auth.logout()
    assert set(statuses.values()) == {404}, statuses


def test_the_author_loses_their_process_notes_on_leaving_the_care_team(team, make, auth, client):
    # Psychotherapy notes are PHI: their author reads them only while treating the patient.
    from ketamine_integration.patients.models import CareTeamMember
    auth.sign_in("ther")
    note = _write_and_sign(make, auth, team)
    assert auth.post(f"/notes/{note}/process", {"body": "Private"}).status_code == 302
    assert client.get(f"/notes/{note}/process").status_code == 200
    make.run(lambda: db.session.execute(db.delete(CareTeamMember).where(
        CareTeamMember.user_id == team["therapist"], CareTeamMember.patient_id == team["patient"])))
    assert client.get(f"/notes/{note}/process").status_code == 404
    refused = auth.post(f"/notes/{note}/process", {"body": "Still mine?", "version": "1"})
    assert refused.status_code == 404
    rows = [r for r in make.audit_rows(action="access.denied") if r.object_id == str(note)]
    assert [(r.detail, r.patient_id) for r in rows] == [
        ("the author is no longer on the patient's care team", team["patient"])] * 2    # the read and the write


def test_a_refused_formulation_save_is_audited(team, make, auth):
    auth.sign_in("pres")                                  # a prescriber on the care team
    response = auth.post(f"/courses/{team['course']}/formulation", {"presenting_concerns": "x", "revision": "0"})
    assert response.status_code == 403
    rows = [r for r in make.audit_rows(patient_id=team["patient"]) if r.outcome != "success"]
    assert rows, "the refused write left no audit row"


def test_a_timed_out_post_with_a_forged_csrf_token_is_not_kept(team, make, auth, client):
    auth.sign_in("ther")
    note = _start(auth, team["course"])
    make.age_login_sessions(last_seen_at=timedelta(minutes=30))
    data = _integration_data(_version(make, note), insights="forged", csrf_token="not-the-token")
    client.post(f"/notes/{note}", data=data)
    assert make.query(lambda: db.session.scalars(select(UnsavedWork)).all()) == []
