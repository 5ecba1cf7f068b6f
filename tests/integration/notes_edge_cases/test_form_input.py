"""Form input that must be refused (4xx) and never answered with a 500."""
from tests.integration.notes_edge_cases.helpers import SIGNING, _integration_data, _start, _version, _write_and_sign
from ketamine_integration.extensions import db

# str.isdigit() is True for these, int() refuses them (ValueError)
NOT_INTS = ["\u00b2", "1" * 5000]


def test_forged_check_in_step_id_is_refused_not_500(team, make, auth):
    auth.sign_in("ther")
    _write_and_sign(make, auth, team)
    note = _start(auth, team["course"])
    for bad in NOT_INTS:
        data = _integration_data(_version(make, note), **{
            "new_steps-0-what": "", "check_ins-0-step_id": bad, "check_ins-0-progress": "done",
            "check_ins-0-decision": "continue"})
        response = auth.post(f"/notes/{note}", data)
        assert response.status_code in (302, 422), (repr(bad[:5]), response.status_code)


def test_forged_version_on_sign_is_refused_not_500(team, make, auth):
    auth.sign_in("ther")
    note = _start(auth, team["course"])
    response = auth.post(f"/notes/{note}", _integration_data("\u00b2", **SIGNING))
    assert response.status_code in (409, 422), response.status_code


def test_forged_version_on_draft_save_is_refused_not_500(team, make, auth):
    auth.sign_in("ther")
    note = _start(auth, team["course"])
    response = auth.post(f"/notes/{note}", _integration_data("\u00b2"))
    assert response.status_code in (409, 422), response.status_code


def test_forged_process_note_version_is_refused_not_500(team, make, auth):
    auth.sign_in("ther")
    note = _start(auth, team["course"])
    assert auth.post(f"/notes/{note}/process", {"body": "first"}).status_code == 302
    for bad in NOT_INTS:
        response = auth.post(f"/notes/{note}/process", {"body": "second", "version": bad})
        assert response.status_code in (409, 422), (repr(bad[:5]), response.status_code)


def test_forged_formulation_revision_is_refused_not_500(team, make, auth):
    auth.sign_in("ther")
    for bad in NOT_INTS:
        response = auth.post(f"/courses/{team['course']}/formulation",
                             {"presenting_concerns": "Low mood", "revision": bad})
        assert response.status_code in (409, 422), (repr(bad[:5]), response.status_code)


def test_a_unicode_digit_row_index_is_refused_not_500(team, make, auth):
    # WTForms FieldList reads the row index with str.isdigit() then int()
    auth.sign_in("ther")
    note = _start(auth, team["course"])
    data = _integration_data(_version(make, note), **{"themes-\u00b2-free_theme": "x"})
    response = auth.post(f"/notes/{note}", data)
    assert response.status_code in (302, 400, 422), response.status_code  # 400: field names are ASCII


def test_two_check_ins_on_one_step_are_refused_not_500(team, make, auth):
    auth.sign_in("ther")
    _write_and_sign(make, auth, team)
    from sqlalchemy import select
    from ketamine_integration.notes.models import ActionStep
    step = make.query(lambda: db.session.scalar(select(ActionStep.id)))
    note = _start(auth, team["course"])
    data = _integration_data(_version(make, note), **{"new_steps-0-what": ""})
    for i in (0, 1):
        data.update({f"check_ins-{i}-step_id": str(step), f"check_ins-{i}-progress": "done",
                     f"check_ins-{i}-decision": "continue"})
    response = auth.post(f"/notes/{note}", data)
    assert response.status_code == 422, response.status_code
