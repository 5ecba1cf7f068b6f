"""Concurrent first saves: a second save must be told (409), never a 500."""
import pytest

from tests.integration.notes_edge_cases.helpers import _start, parallel

# On SQLite and PostgreSQL: concurrent saves.
pytestmark = pytest.mark.both_engines


def test_parallel_formulation_saves_give_one_success_and_conflicts(team, make, auth, app):
    # services.save_formulation "locks" the course with FOR KEY SHARE, which does not
    # exclude another FOR KEY SHARE: both read revision 0, both insert revision 1.
    results = parallel(app, "ther", 4, lambda tab, i: tab.post(
        f"/courses/{team['course']}/formulation", {"presenting_concerns": f"Tab {i}", "revision": "0"}))
    assert results == [302, 409, 409, 409]


def test_parallel_first_process_note_saves_never_500(team, make, auth, app):
    auth.sign_in("ther")
    note = _start(auth, team["course"])
    results = parallel(app, "ther", 4, lambda tab, i: tab.post(f"/notes/{note}/process",
                                                              {"body": f"Tab {i} process text", "version": ""}))
    assert 500 not in results and results.count(302) == 1


def test_parallel_signs_and_acknowledgements_never_500(team, make, auth, app):
    from sqlalchemy import select
    from ketamine_integration.extensions import db
    from ketamine_integration.notes.models import SafetyAlert
    from tests.integration.test_notes import _phq9
    from tests.integration.notes_edge_cases.helpers import SIGNING, _integration_data, _version
    auth.sign_in("ther")
    note = _start(auth, team["course"])
    assert auth.post(f"/notes/{note}", _integration_data(_version(make, note))).status_code == 302
    version = _version(make, note)
    signs = parallel(app, "ther", 4, lambda tab, i: tab.post(f"/notes/{note}", _integration_data(version, **SIGNING)))
    assert 500 not in signs
    assert make.query(lambda: db.session.get(__import__("ketamine_integration.notes.models", fromlist=["x"])
                                             .SessionNote, note).status) == "signed"
    assert _phq9(auth, team["course"], item9="2").status_code == 302
    alert = make.query(lambda: db.session.scalar(select(SafetyAlert.id)))
    acks = parallel(app, "ther", 4, lambda tab, i: tab.post(f"/alerts/{alert}/acknowledge",
                                                           {"note": f"Called patient, tab {i}, safety plan ok"}))
    assert 500 not in acks
    assert make.query(lambda: db.session.get(SafetyAlert, alert).acknowledgement).startswith("Called patient")
