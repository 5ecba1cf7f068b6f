"""The course page's next action first (issue 21, point 3): what the signed-in user should do next
on the course, from what the page shows, with a link to where it is done; each role its own."""
import re
from datetime import date
from html import unescape

import pytest

from tests.conftest import page_text
from tests.integration.test_dosing import form_time, local
from tests.integration.test_scheduling import signed_window, team, tomorrow_at  # noqa: F401  (fixtures)


def next_actions(client, course_id: int) -> list[tuple[str, str]]:
    """The (words, link) of each action in the page's "Next on this course" card, in order."""
    html = client.get(f"/courses/{course_id}").get_data(as_text=True)
    card = html.split('id="todo-h"', 1)[1].split("</section>", 1)[0]
    return [(unescape(words).strip(), unescape(href))
            for href, words in re.findall(r'<a class="button[^"]*" href="([^"]*)">([^<]*)</a>', card)]


def test_staff_are_sent_to_book_the_window_with_nothing_booked_until_it_is(team, make, auth, client, signed_window):
    auth.sign_in("desk")
    assert next_actions(client, team["course"]) == [("Book an integration session", f"#sugg-{signed_window}")]
    page = client.get(f"/courses/{team['course']}").get_data(as_text=True)
    assert f'id="sugg-{signed_window}"' in page            # the link leads to the window's suggested times
    booked = auth.post(f"/courses/{team['course']}/sessions", {
        "starts_at": form_time(tomorrow_at(11)), "minutes": "50", "clinician": team["therapist"],
        "modality": "telehealth"})
    assert booked.status_code == 302
    assert next_actions(client, team["course"]) == []
    assert "Nothing on this course waits on you now." in page_text(client.get(f"/courses/{team['course']}"))


@pytest.fixture
def integration_course(make):
    therapist = make.user("therapist", username="ther", full_name="Hazel Quint")
    prescriber = make.user("prescriber", username="pres", full_name="Orrin Vale")
    return make.course(make.patient(family_name="Drafted"), therapist, prescriber, phase="integration")


def test_a_therapist_is_sent_to_finish_their_own_draft_note_and_nobody_else_is(integration_course, auth, client):
    auth.sign_in("ther")
    today = date.today().isoformat()
    started = auth.post(f"/courses/{integration_course}/notes", {"note-kind": "integration", "note-session_date": today})
    assert started.status_code == 302
    note_url = started.headers["Location"]
    actions = next_actions(client, integration_course)
    assert actions[0] == (f"Finish the note of {today}", note_url)
    auth.logout()
    auth.sign_in("pres")                                      # on the care team, but not the note's author
    assert all(not words.startswith("Finish the note") for words, _ in next_actions(client, integration_course))


def test_a_prescriber_is_sent_to_the_dose_planned_today_and_front_desk_staff_are_not(team, make, auth, client):
    [dose] = make.dosing_plan(team["course"], first_start=local(0, 9), days_between=2, count=1)
    auth.sign_in("pres")
    assert next_actions(client, team["course"])[0] == ("Start today's dosing record (#1)", f"/dosing/{dose}")
    auth.logout()
    auth.sign_in("desk")                                      # staff book sessions; they never record a dose
    assert all("dosing record" not in words for words, _ in next_actions(client, team["course"]))
