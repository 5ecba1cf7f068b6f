"""Retiring a vocabulary theme must not silently strip it (and the patient's words) from drafts."""
import re

from sqlalchemy import select

from ketamine_integration.extensions import db
from ketamine_integration.notes.models import NoteTheme
from tests.integration.notes_edge_cases.helpers import _integration_data, _start, _version


def test_a_draft_keeps_a_theme_the_admin_retires(team, make, auth, client):
    auth.sign_in("ther")
    note = _start(auth, team["course"])
    data = _integration_data(_version(make, note), **{"themes-0-theme": str(team["theme"]),
                                                     "themes-0-patient_words": "my chest finally unclenched"})
    assert auth.post(f"/notes/{note}", data).status_code == 302
    auth.logout()
    auth.sign_in("boss")
    assert auth.post(f"/themes/{team['theme']}/toggle", {}).status_code == 302      # retired
    auth.logout()
    auth.sign_in("ther")
    page = client.get(f"/notes/{note}").get_data(as_text=True)
    select_html = re.search(r'<select[^>]*name="themes-0-theme".*?</select>', page, re.S).group(0)
    # what a browser submits for the row: the selected option, else the first ("0")
    chosen = re.search(r'<option[^>]*selected[^>]*value="(\d+)"|<option[^>]*value="(\d+)"[^>]*selected', select_html)
    value = (chosen.group(1) or chosen.group(2)) if chosen else "0"
    resave = _integration_data(_version(make, note), **{"themes-0-theme": value,
                                                       "themes-0-patient_words": "my chest finally unclenched"})
    response = auth.post(f"/notes/{note}", resave)
    kept = make.query(lambda: db.session.scalars(select(NoteTheme.patient_words)
                                                  .where(NoteTheme.note_id == note)).all())
    assert kept == ["my chest finally unclenched"], (value, response.status_code, kept)
