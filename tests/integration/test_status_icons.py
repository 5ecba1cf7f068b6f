"""Status by words and an icon, never colour alone (issue 21, point 4), on the pages that list
integration windows (the course page, the staff worklist, the caseload, the patient page) and on
the key actions of the note and dosing forms' action bars and the worklist."""
import re

import pytest

from tests.home_world import reused_home_world
from tests.icons import after_icon, badges


@pytest.fixture
def world(make):
    return reused_home_world(make)


def test_a_courses_windows_say_their_status_and_coverage_with_icons(world, auth, client):
    auth.sign_in("desk")
    closing = client.get(f"/courses/{world['closing']}").get_data(as_text=True)
    assert ("danger", "Closing soon") in badges(closing) and ("danger", "Nothing booked") in badges(closing)
    # the planned dose tomorrow has a provisional window; the dose four days ago one its session covers
    today = badges(client.get(f"/courses/{world['today']}").get_data(as_text=True))
    assert any(tone == "neutral" and words.startswith("Provisional: ") for tone, words in today), today
    assert {words for _, words in today} & {"Booked, not yet held", "Unconfirmed", "Covered"}


def test_the_worklist_says_why_with_an_icon_and_its_actions_have_icons(world, auth, client):
    auth.sign_in("desk")
    html = client.get("/worklist").get_data(as_text=True)
    assert after_icon(html, "Window closes within 48 hours and nothing is booked") == 1
    assert after_icon(html, "Find a slot<span") >= 1


def test_the_caseload_and_patient_page_show_a_windows_state_with_its_icon(world, auth, client):
    auth.sign_in("ther")
    home = client.get("/").get_data(as_text=True)
    row = re.search(r"<tr><td><a href=\"/patients/\d+\">Cleo Closing</a>.*?</tr>", home, re.S).group(0)
    assert badges(row) == [("danger", "Closing soon, nothing booked")]
    patient = client.get(f"/patients/{world['closing_patient']}").get_data(as_text=True)
    assert ("danger", "Closing soon, nothing booked") in badges(patient)


def test_save_and_sign_carry_icons_on_the_note_and_dosing_forms(world, auth, client):
    auth.sign_in("ther")
    note = client.get(f"/notes/{world['draft']}").get_data(as_text=True)
    assert after_icon(note, "Save draft</button>") == 1 and after_icon(note, "Sign and lock</button>") == 1
    auth.logout()
    auth.sign_in("pres")
    dose = client.get(f"/dosing/{world['tomorrows_dose']}").get_data(as_text=True)
    assert after_icon(dose, "Save draft</button>") == 1 and after_icon(dose, "Sign and lock</button>") == 1
