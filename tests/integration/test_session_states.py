"""One vocabulary for what became of a session (issue 21 review, findings 1 and 2): a session under way
reads "Under way" on the calendar, its page, the worklist and the home counts, and is "to confirm" only
once it has ended with no outcome (Appointment.unconfirmed, the one rule); a dose whose booked time is
over with no signed record reads "Not recorded" wherever its appointment is shown."""
import re
from datetime import datetime, timedelta

import pytest
from sqlalchemy import select

from ketamine_integration.bookings.models import Appointment
from ketamine_integration.extensions import db
from tests.conftest import page_text
from tests.integration import test_scheduling
from tests.integration.test_attendance import _past_booking
from tests.integration.test_calendar_grid import blocks, words
from tests.integration.test_dosing import NY, _record_data, _session, form_time, local

team = test_scheduling.team


def _list_items(response) -> list[str]:
    """The text of each session's link in the calendar's list (the narrow screens' and paper's view)."""
    html = response.get_data(as_text=True)
    listed = html[html.index('class="tg-list"'):]
    return [words(m) for m in re.findall(r'<a class="tg-block[^"]*"[^>]*>(.*?)</a>', listed, flags=re.S)]


def _day(starts_at: datetime) -> str:
    return starts_at.astimezone(NY).date().isoformat()


def _now_minus(minutes: int) -> datetime:
    return (datetime.now(NY) - timedelta(minutes=minutes)).replace(second=0, microsecond=0)


def test_a_session_under_way_is_under_way_everywhere_and_to_confirm_nowhere(team, make, auth, client):
    starts = _now_minus(10)  # began ten minutes ago, ends in forty
    appointment = _past_booking(make, team, starts)
    auth.sign_in("desk")
    calendar = client.get(f"/calendar?date={_day(starts)}&view=day&therapist={team['therapist']}")
    assert [b.rsplit(", ", 1)[1] for b in blocks(calendar)] == ["Under way"]
    assert [b.rsplit(", ", 1)[1] for b in _list_items(calendar)] == ["Under way"]
    page = page_text(client.get(f"/appointments/{appointment}"))
    # it can no longer be moved or cancelled, yet a no-show can be said from its start (issue 20)
    assert "Status Under way" in page and "It is under way" in page
    assert "No-show" in page and "Move it" not in page and "Cancel it" not in page
    home = page_text(client.get("/"))
    assert "session to confirm" not in home.split("Nothing waiting")[0]
    worklist = page_text(client.get("/worklist"))
    assert "Sessions to confirm (0)" in worklist
    auth.logout()
    auth.sign_in("ther")
    assert "My sessions to confirm" not in page_text(client.get("/"))
    # a no-show is recorded from its start, and then it says so everywhere
    assert auth.post(f"/appointments/{appointment}/outcome", {"outcome": "no_show"}).status_code == 302
    calendar = client.get(f"/calendar?date={_day(starts)}&view=day")
    assert [b.rsplit(", ", 1)[1] for b in blocks(calendar)] == ["No-show"]


def test_a_session_that_ended_with_no_outcome_is_to_confirm_everywhere(team, make, auth, client):
    starts = _now_minus(60)  # ended ten minutes ago
    appointment = _past_booking(make, team, starts)
    make.sign_packet(team["course"])  # the desk's badge then counts the session alone, not forms to sign too
    auth.sign_in("desk")
    calendar = client.get(f"/calendar?date={_day(starts)}&view=day&therapist={team['therapist']}")
    assert [b.rsplit(", ", 1)[1] for b in blocks(calendar)] == ["Unconfirmed"]
    page = page_text(client.get(f"/appointments/{appointment}"))
    assert "Status Unconfirmed : it has ended and no outcome is recorded" in page
    assert "1 session to confirm" in page_text(client.get("/"))
    assert re.search(r'<span class="badge">1<', client.get("/protocols/").get_data(as_text=True))
    assert "Sessions to confirm (1)" in page_text(client.get("/worklist"))
    auth.logout()
    auth.sign_in("ther")
    assert "My sessions to confirm (1)" in page_text(client.get("/"))


@pytest.mark.parametrize("state, said", [("planned", "Not recorded"), ("draft", "Record not signed")])
def test_a_dose_whose_time_passed_with_no_signed_record_says_so_not_booked(team, make, auth, client, state, said):
    [dose] = make.dosing_plan(team["course"], first_start=local(1, 9), days_between=3, count=1, room="Suite A")
    auth.sign_in("pres")
    if state == "draft":  # its record begun, not signed
        data = _record_data(_session(make, dose), team["prescriber"], started_at=form_time(local(1, 9)),
                            ended_at=form_time(local(1, 9) + timedelta(minutes=40)),
                            discharged_at=form_time(local(1, 9) + timedelta(minutes=130)))
        assert auth.post(f"/dosing/{dose}", data).status_code == 302
    appointment = make.query(lambda: db.session.scalar(select(Appointment.id).where(
        Appointment.dosing_session_id == dose)))
    for view in ("week", "day"):
        calendar = client.get(f"/calendar?date={_day(local(1, 9))}&view={view}")
        assert [b.rsplit(", ", 1)[1] for b in blocks(calendar)] == [said], view
        assert [b.rsplit(", ", 1)[1] for b in _list_items(calendar)] == [said], view
    page = page_text(client.get(f"/appointments/{appointment}"))
    assert f"Status {said} : its time is over and its dosing record is not signed" in page
    assert "Status Booked" not in page
    dosing = page_text(client.get(f"/courses/{team['course']}")).split("Booked with", 1)[1]
    if state == "planned":  # the course page and the prescriber's worklist say the same of it
        assert "Not recorded : its time is over" in dosing and "Planned" not in dosing.split("Actions", 1)[1][:300]
        assert "dosing session 1: overdue: planned" in page_text(client.get("/prescriber/"))
    else:
        assert "Recorded, not signed" in dosing
