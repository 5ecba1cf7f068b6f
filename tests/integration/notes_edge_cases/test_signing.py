"""Signing is all-or-nothing: a refusal leaves the draft a draft."""
import shutil
from datetime import date
from pathlib import Path

from ketamine_integration.extensions import db
from ketamine_integration.notes.models import SessionNote
from tests.conftest import page_text
from tests.integration.notes_edge_cases.helpers import SIGNING, _start, _version

PROJECT = Path(__file__).resolve().parents[3]


def test_a_refused_preparation_signature_leaves_the_note_a_draft(make, auth, app, tmp_path):
    # README (protocols): preparation.min_signed_sessions may be 0
    library = tmp_path / "protocols"
    shutil.copytree(PROJECT / "protocols", library)
    source = (library / "iv-ketamine-induction.yaml").read_text()
    (library / "no-prep-sessions.yaml").write_text(
        source.replace("id: iv-ketamine-induction", "id: no-prep-sessions")
              .replace("min_signed_sessions: 1", "min_signed_sessions: 0"))
    app.config["PROTOCOLS_DIR"] = str(library)
    ther, pres = make.user("therapist", username="pt"), make.user("prescriber", username="pp")
    course = make.course(make.patient(family_name="Prepared"), ther, pres, protocol="no-prep-sessions")
    auth.sign_in("pt")
    note = _start(auth, course, kind="preparation")
    answer = auth.post(f"/notes/{note}", {"session_date": date.today().isoformat(), "version": str(_version(make, note)),
                                          "intentions": "To sleep", "readiness": "ready", **SIGNING},
                       follow_redirects=True)
    status = make.query(lambda: db.session.get(SessionNote, note).status)
    told_refused = "not a preparation requirement" in page_text(answer)
    # either it is signed and the user is told so, or it is refused and stays a draft
    assert (status, told_refused) in (("signed", False), ("draft", True)), (status, told_refused)
