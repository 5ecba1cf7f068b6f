"""A row the service refuses (a theme, a new action step, a check-in) shows its message beside
that row's field, tied to it by aria-describedby, not only at the top of the form.

Each bad row passes the form's own validation: only the note service can refuse it, so the
message travels by DomainError's field path (`themes-1-free_theme`)."""
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from ketamine_integration.extensions import db
from ketamine_integration.notes.models import ActionCheckIn, ActionStep, NoteTheme
from tests.integration.notes_edge_cases.helpers import TODAY, _integration_data, _start, _version, _write_and_sign
from tests.page_html import read_elements

BANNER = "Please correct the fields marked below; nothing was saved."


def _two_open_steps(make, auth, team):
    _write_and_sign(make, auth, team, **{
        "new_steps-1-what": "Call a friend", "new_steps-1-how_often": "weekly", "new_steps-1-success_criterion": "One call a week",
        "new_steps-1-starts_on": TODAY.isoformat(), "new_steps-1-review_on": (TODAY + timedelta(days=7)).isoformat()})
    return make.query(lambda: db.session.scalars(select(ActionStep.id).order_by(ActionStep.id)).all())


def _bad_theme_row(make, auth, team):
    # a theme from the list and words of one's own: the service cannot tell which is meant
    return {"themes-1-theme": str(team["theme"]), "themes-1-free_theme": "Feeling held"}


def _bad_step_row(make, auth, team):
    return {"new_steps-1-what": "Breathe before meetings", "new_steps-1-how_often": "daily", "new_steps-1-success_criterion": "Calmer meetings",
            "new_steps-1-starts_on": TODAY.isoformat(),
            "new_steps-1-review_on": (TODAY - timedelta(days=1)).isoformat()}     # review before the start


def _bad_check_in_row(make, auth, team):
    first, second = _two_open_steps(make, auth, team)
    return {"new_steps-0-what": "",
            "check_ins-0-step_id": str(first), "check_ins-0-progress": "done", "check_ins-0-decision": "continue",
            "check_ins-1-step_id": str(second), "check_ins-1-progress": "partly",
            "check_ins-1-decision": "adjust"}                                       # adjusted, but not said how


@pytest.mark.parametrize("bad_row, field_id, group, message", [
    (_bad_theme_row, "themes-1-free_theme", "Theme 2",
     "Choose a theme from the list or write your own, not both."),
    (_bad_step_row, "new_steps-1-review_on", "New action step 2", "The review comes after the start."),
    (_bad_check_in_row, "check_ins-1-adjustment", "Check-in 2", "Say how the step is adjusted."),
])
def test_a_refused_row_shows_its_message_beside_that_row(team, make, auth, bad_row, field_id, group, message):
    auth.sign_in("ther")
    overrides = bad_row(make, auth, team)
    note = _start(auth, team["course"])
    response = auth.post(f"/notes/{note}", _integration_data(_version(make, note), **overrides))

    assert response.status_code == 422
    page = read_elements(response.get_data(as_text=True))
    assert page.field_error(field_id) == message
    assert page.by_id[field_id].attrs.get("aria-invalid") == "true"
    assert page.by_id[f"{field_id}-error"].group == group          # inside that row's group
    # the top of the form points to the fields; the message itself is not moved up there
    assert [" ".join(alert.text.split()) for alert in page.alerts] == [BANNER]
    saved = make.query(lambda: (db.session.scalar(select(func.count()).select_from(NoteTheme)
                                                  .where(NoteTheme.note_id == note)),
                                db.session.scalar(select(func.count()).select_from(ActionCheckIn)
                                                  .where(ActionCheckIn.note_id == note))))
    assert saved == (0, 0)                                          # nothing of the draft was saved


def test_every_other_row_stays_clean(team, make, auth):
    auth.sign_in("ther")
    note = _start(auth, team["course"])
    response = auth.post(f"/notes/{note}", _integration_data(_version(make, note),
                                                             **_bad_theme_row(make, auth, team)))
    page = read_elements(response.get_data(as_text=True))
    shown = sorted(i.removesuffix("-error") for i in page.by_id if i.endswith("-error"))
    assert shown == ["themes-1-free_theme"]
