"""A check-in on every open step: none may be dropped silently."""
from datetime import timedelta

from sqlalchemy import func, select

from ketamine_integration.extensions import db
from ketamine_integration.notes.models import ActionCheckIn, ActionStep
from tests.integration.notes_edge_cases.helpers import SIGNING, TODAY, _integration_data, _start, _version


def _sign_with_two_steps(make, auth, team, n):
    note = _start(auth, team["course"])
    data = _integration_data(_version(make, note), **{
        "new_steps-0-what": f"Step {n}a", "new_steps-1-what": f"Step {n}b", "new_steps-1-how_often": "daily", "new_steps-1-success_criterion": "Done most days",
        "new_steps-1-starts_on": TODAY.isoformat(), "new_steps-1-review_on": (TODAY + timedelta(days=7)).isoformat(),
        **SIGNING})
    assert auth.post(f"/notes/{note}", data).status_code == 302


def test_check_ins_on_more_than_50_open_steps_are_not_silently_dropped(team, make, auth, client):
    auth.sign_in("ther")
    for n in range(26):                                        # 52 open steps
        _sign_with_two_steps(make, auth, team, n)
    step_ids = make.query(lambda: db.session.scalars(select(ActionStep.id).order_by(ActionStep.id)).all())
    assert len(step_ids) == 52
    note = _start(auth, team["course"])
    page = client.get(f"/notes/{note}").get_data(as_text=True)
    assert 'name="check_ins-51-step_id"' in page                # the form offers all 52
    data = _integration_data(_version(make, note), **{"new_steps-0-what": ""})
    for i, step in enumerate(step_ids):
        data.update({f"check_ins-{i}-step_id": str(step), f"check_ins-{i}-progress": "done",
                     f"check_ins-{i}-decision": "continue"})
    response = auth.post(f"/notes/{note}", data)
    stored = make.query(lambda: db.session.scalar(select(func.count()).select_from(ActionCheckIn)
                                                   .where(ActionCheckIn.note_id == note)))
    assert response.status_code == 422 or stored == 52, (response.status_code, stored)


def test_a_half_filled_check_in_is_not_silently_discarded(team, make, auth):
    auth.sign_in("ther")
    _sign_with_two_steps(make, auth, team, 0)
    step = make.query(lambda: db.session.scalar(select(ActionStep.id).order_by(ActionStep.id)))
    note = _start(auth, team["course"])
    data = _integration_data(_version(make, note), **{
        "new_steps-0-what": "", "check_ins-0-step_id": str(step), "check_ins-0-progress": "partly",
        "check_ins-0-obstacles": "Knee injury, could only walk twice"})      # decision not chosen yet
    response = auth.post(f"/notes/{note}", data)
    stored = make.query(lambda: db.session.scalars(select(ActionCheckIn.obstacles)
                                                    .where(ActionCheckIn.note_id == note)).all())
    assert response.status_code == 422 or stored == ["Knee injury, could only walk twice"], (
        response.status_code, stored)


def test_patient_words_without_a_theme_name_are_not_silently_discarded(team, make, auth):
    auth.sign_in("ther")
    note = _start(auth, team["course"])
    data = _integration_data(_version(make, note), **{"themes-0-patient_words": "I am allowed to take up space"})
    response = auth.post(f"/notes/{note}", data)
    from ketamine_integration.notes.models import NoteTheme
    stored = make.query(lambda: db.session.scalars(select(NoteTheme.patient_words)).all())
    assert response.status_code == 422 or stored == ["I am allowed to take up space"], (response.status_code, stored)
