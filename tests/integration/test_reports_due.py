"""Follow-up review of issue 19, point 4: a report shown as due says since when (in the clinic's
zone) and which protocol rule made it due, on the therapist's home page and the prescriber's
worklist; when it cannot be generated it still says what is missing."""
from datetime import timedelta

from sqlalchemy import select

from ketamine_integration.db.clinic_time import format_local
from ketamine_integration.experience.models import DosingSession
from ketamine_integration.extensions import db
from tests.conftest import page_text
from tests.integration.test_care_team_coordination import team  # noqa: F401
from tests.integration.test_coordination import _generate, _release


def _ended(make, team) -> str:
    """When the course's first dose ended, as the clinic's clock shows it."""
    def read():
        ended = db.session.scalar(select(DosingSession.ended_at).where(DosingSession.course_id == team["course"]))
        return format_local(ended)
    with make.app.test_request_context():
        return make.query(read)


def test_a_due_report_says_since_when_and_which_rule_made_it_due(team, make, auth, client):  # noqa: F811
    since = _ended(make, team)
    assert since.endswith(("EST", "EDT"))                                       # the clinic's zone, said
    auth.sign_in("ther")
    home = page_text(client.get("/"))
    assert f"report waiting for a release since {since}, as the protocol asks after dosing session 1." in home
    assert "coordination." not in home                                          # plain words, no file keys
    assert "report due" not in home                                             # not due: it cannot be written
    assert "It needs a release of information to Orrin Vale covering dosing" in home
    auth.logout()
    auth.sign_in("pres")                                                          # the report's recipient sees it too
    worklist = page_text(client.get("/prescriber/"))
    assert "Coordination reports due" in worklist
    assert f"report waiting for a release since {since}, as the protocol asks after dosing session 1." in worklist
    assert "coordination." not in worklist
    assert "It needs a release of information to Orrin Vale" in worklist
    [row] = make.audit_rows(action="patient.list", user_id=team["prescriber"])
    assert "; " in row.detail and "reports due 1" in row.detail.split("; ", 1)[1].split(", ")
    auth.logout()
    auth.sign_in("desk")
    assert _release(auth, team, ["dosing"]).status_code == 302
    auth.logout()
    auth.sign_in("pres")
    now_due = page_text(client.get("/prescriber/"))
    assert "The treating therapist can write it now." in now_due and f"report due since {since}" in now_due
    auth.logout()
    auth.sign_in("ther")
    assert f"report due since {since}" in page_text(client.get("/"))
    assert _generate(auth, team).status_code == 302
    assert "report due since" not in page_text(client.get("/"))
    auth.logout()
    auth.sign_in("pres")
    assert "Coordination reports due None due." in page_text(client.get("/prescriber/"))
