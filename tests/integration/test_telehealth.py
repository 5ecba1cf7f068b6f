"""Telehealth links (issue 22, point 5): the settings and their refusals, the link on the clinician's
pages only, never in calendar feeds or invitations unless the admin says so, and a per-session code
that cannot be guessed and survives a move."""
import re
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
import vobject
from sqlalchemy import select

from ketamine_integration.accounts.models import User
from ketamine_integration.bookings.models import Appointment, AppointmentChange
from ketamine_integration.clinic_settings.models import ClinicSetting
from ketamine_integration.extensions import db
from ketamine_integration.telehealth.services import video_link
from tests.conftest import page_text

NY = ZoneInfo("America/New_York")
UTC = timezone.utc
TEMPLATE = "https://video.example.org/harbor/{appointment}"
ROOM = "https://video.example.org/rooms/hazel"


@pytest.fixture
def clinic(make):
    ids = {"therapist": make.user("therapist", username="ther", full_name="Hazel Quint", email="hazel@clinic.example"),
           "other": make.user("therapist", username="ther2", full_name="Ivo Second"),
           "prescriber": make.user("prescriber", username="pres", full_name="Orrin Vale"),
           "staff": make.user("staff", username="desk"), "admin": make.user("admin", username="boss")}
    ids["patient"] = make.patient(given_name="Tamsin", family_name="Sorrel", therapists=[ids["therapist"]],
                                  prescribers=[ids["prescriber"]])
    ids["other_patient"] = make.patient(given_name="Uma", family_name="Vetch", therapists=[ids["other"]])
    ids["course"] = make.course(ids["patient"], ids["therapist"], ids["prescriber"])
    return ids


def future(days: int, hour: int = 10) -> datetime:
    day = (datetime.now(NY) + timedelta(days=days)).date()
    return datetime(day.year, day.month, day.day, hour, tzinfo=NY)


def _telehealth(make, clinician, patient, starts_local, course=None):
    """A telehealth appointment as the booking service leaves it (with its 'booked' history row)."""
    def add():
        start = starts_local.astimezone(UTC)
        a = Appointment(patient_id=patient, clinician_id=clinician, kind="integration", starts_at=start,
                        ends_at=start + timedelta(minutes=50), modality="telehealth", course_id=course,
                        created_by_id=clinician)
        a.changes.append(AppointmentChange(change="booked", by_user_id=clinician))
        db.session.add(a)
        db.session.flush()
        return a.id
    return make.run(add)


def _token(make, appointment_id):
    return make.query(lambda: db.session.get(Appointment, appointment_id).video_token)


def _set_template(auth, template=TEMPLATE, in_feeds=False):
    auth.sign_in("boss")
    data = {"template": template, **({"in_feeds": "y"} if in_feeds else {})}
    assert auth.post("/settings/telehealth", data).status_code == 302
    auth.logout()


def _links(html: str) -> list[str]:
    return re.findall(r'<a class="join-video" href="([^"]+)" target="_blank" rel="noopener noreferrer">', html)


# -- settings ----------------------------------------------------------------------------

@pytest.mark.parametrize("template, says", [
    ("http://video.example.org/{appointment}", "Use an https:// address"),            # bad scheme
    ("https://video.example.org/{room}", "Unknown placeholder {room}"),              # unknown placeholder
    ("https://video.example.org/" + "r" * 200 + "/{appointment}", "At most 200 characters"),  # too long
    ("https://video.example.org/room", "Add {appointment}"),                         # all sessions in one room
    ("https://video.example.org/ketamine/{appointment}", "without “ketamine”"),      # the treatment in the path
])
def test_a_bad_template_is_a_field_error_and_nothing_is_saved(clinic, make, auth, client, template, says):
    auth.sign_in("boss")
    response = auth.post("/settings/telehealth", {"template": template, "in_feeds": "y"})
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert 'id="template-error"' in html and says in page_text(response)
    assert make.query(lambda: db.session.scalars(select(ClinicSetting.key)).all()) == []
    [row] = make.audit_rows(action="settings.telehealth")
    assert row.outcome == "failure"


def test_the_admin_sets_the_template_and_the_page_shows_an_example(clinic, make, auth, client):
    auth.sign_in("boss")
    assert auth.post("/settings/telehealth", {"template": f"  {TEMPLATE} "}).status_code == 302
    page = client.get("/settings/telehealth").get_data(as_text=True)
    assert f'value="{TEMPLATE}"' in page and "https://video.example.org/harbor/q3Vb7xKp0tRmZ2aLcW9yNe" in page
    assert "{clinician}" in page and "{appointment}" in page           # the placeholders are documented there
    [row] = make.audit_rows(action="settings.telehealth")
    assert row.outcome == "success" and row.detail == "template set; links in feeds off"
    auth.logout()
    auth.sign_in("ther")
    assert client.get("/settings/telehealth").status_code == 403       # the admin's page


def test_a_personal_room_is_checked_on_the_users_page(clinic, make, auth, client):
    auth.sign_in("boss")
    base = {"username": "ther", "full_name": "Hazel Quint", "email": "hazel@clinic.example", "roles": ["therapist"],
            "active": "y"}
    refused = auth.post(f"/users/{clinic['therapist']}/edit", {**base, "video_room_url": "http://video.example.org/h"})
    assert refused.status_code == 422 and "Use an https:// address" in page_text(refused)
    assert 'id="video_room_url-error"' in refused.get_data(as_text=True)
    assert make.query(lambda: db.session.get(User, clinic["therapist"]).video_room_url) is None
    clinical = auth.post(f"/users/{clinic['therapist']}/edit",
                         {**base, "video_room_url": "https://zoom.example.org/j/ketaminetherapy"})
    assert clinical.status_code == 422 and "without “ketaminetherapy”" in page_text(clinical)
    assert make.query(lambda: db.session.get(User, clinic["therapist"]).video_room_url) is None
    assert auth.post(f"/users/{clinic['therapist']}/edit", {**base, "video_room_url": ROOM}).status_code == 302
    assert make.query(lambda: db.session.get(User, clinic["therapist"]).video_room_url) == ROOM
    assert ROOM in client.get(f"/users/{clinic['therapist']}/edit").get_data(as_text=True)


# -- shown to the clinician --------------------------------------------------------------

def test_the_clinician_sees_the_link_on_calendar_session_course_and_home(clinic, make, auth, client):
    _set_template(auth)
    appointment = _telehealth(make, clinic["therapist"], clinic["patient"], future(1), course=clinic["course"])
    link = TEMPLATE.format(appointment=_token(make, appointment))
    auth.sign_in("ther")
    day = future(1).date().isoformat()
    for path in (f"/calendar?date={day}", f"/appointments/{appointment}", f"/courses/{clinic['course']}", "/"):
        html = client.get(path).get_data(as_text=True)
        assert link in _links(html), path
        assert "Join video" in html and not link.endswith(f"/{appointment}")


def test_a_personal_room_comes_before_the_template(clinic, make, auth, client):
    _set_template(auth)
    make.run(lambda: setattr(db.session.get(User, clinic["therapist"]), "video_room_url", ROOM))
    appointment = _telehealth(make, clinic["therapist"], clinic["patient"], future(1), course=clinic["course"])
    assert make.query(lambda: video_link(db.session.get(Appointment, appointment))) == ROOM
    auth.sign_in("ther")
    assert _links(client.get(f"/appointments/{appointment}").get_data(as_text=True)) == [ROOM]


def test_no_link_where_the_viewer_is_not_the_sessions_clinician(clinic, make, auth, client):
    _set_template(auth)
    mine = _telehealth(make, clinic["therapist"], clinic["patient"], future(1), course=clinic["course"])
    theirs = _telehealth(make, clinic["other"], clinic["other_patient"], future(1, 14))
    day = future(1).date().isoformat()
    # another therapist cannot see this session: neither it nor its link is on their pages
    auth.sign_in("ther2")
    calendar = client.get(f"/calendar?date={day}").get_data(as_text=True)
    assert set(_links(calendar)) == {TEMPLATE.format(appointment=_token(make, theirs))}  # grid and list
    assert _token(make, mine) not in calendar and _token(make, mine) not in client.get("/").get_data(as_text=True)
    assert client.get(f"/appointments/{mine}").status_code == 403
    auth.logout()
    # the prescriber on the course sees the session, not its link (it is the therapist's session)
    auth.sign_in("pres")
    assert _links(client.get(f"/courses/{clinic['course']}").get_data(as_text=True)) == []
    auth.logout()
    # staff run the whole schedule; the link is the clinician's
    auth.sign_in("desk")
    assert _links(client.get(f"/calendar?date={day}").get_data(as_text=True)) == []


def test_no_link_in_person_cancelled_or_without_settings(clinic, make, auth, client):
    appointment = _telehealth(make, clinic["therapist"], clinic["patient"], future(1), course=clinic["course"])
    auth.sign_in("ther")
    assert _links(client.get(f"/appointments/{appointment}").get_data(as_text=True)) == []   # nothing set
    auth.logout()
    _set_template(auth)
    auth.sign_in("desk")
    assert auth.post(f"/appointments/{appointment}/cancel", {"reason": "Patient asked"}).status_code == 302
    auth.logout()
    auth.sign_in("ther")
    assert _links(client.get(f"/appointments/{appointment}").get_data(as_text=True)) == []


# -- the code of a session -----------------------------------------------------------------

def test_the_code_is_random_and_stays_when_the_session_moves(clinic, make, auth, client):
    _set_template(auth)
    ids = [_telehealth(make, clinic["therapist"], clinic["patient"], future(2, hour)) for hour in (9, 11, 13)]
    tokens = [_token(make, i) for i in ids]
    assert len(set(tokens)) == 3                                   # one each
    for appointment, token in zip(ids, tokens):
        assert re.fullmatch(r"[A-Za-z0-9_-]{22}", token)          # 128 random bits, URL-safe
        assert token != str(appointment)                           # not the id, nor built from it
    auth.sign_in("desk")
    assert auth.post(f"/appointments/{ids[0]}/reschedule",
                     {"starts_at": future(3, 15).strftime("%Y-%m-%dT%H:%M")}).status_code == 302
    assert _token(make, ids[0]) == tokens[0]
    assert make.query(lambda: video_link(db.session.get(Appointment, ids[0]))) == TEMPLATE.format(appointment=tokens[0])


# -- calendar feeds and invitations --------------------------------------------------------

def _feed_path(auth, client, username):
    auth.sign_in(username)
    page = auth.post("/calendars/feeds", {"label": "phone"}).get_data(as_text=True)
    [url] = re.findall(r'value="(http://localhost/feeds/[^"]+\.ics)"', page)
    auth.logout()
    return url.removeprefix("http://localhost")


def _event(body: str):
    [event] = vobject.readOne(body).vevent_list
    return event


def test_links_stay_out_of_feeds_and_invitations_until_the_admin_lets_them_in(clinic, make, auth, client):
    _set_template(auth)
    appointment = _telehealth(make, clinic["therapist"], clinic["patient"], future(3))
    link = TEMPLATE.format(appointment=_token(make, appointment))
    path = _feed_path(auth, client, "ther")
    feed = client.get(path).get_data(as_text=True)
    assert _token(make, appointment) not in feed and "video.example.org" not in feed
    event = _event(feed)
    assert event.location.value == "Telehealth" and not hasattr(event, "url")
    auth.sign_in("desk")
    invite = client.get(f"/appointments/{appointment}/invite.ics").get_data(as_text=True)
    assert "video.example.org" not in invite
    auth.logout()

    staff_path = _feed_path(auth, client, "desk")
    _set_template(auth, in_feeds=True)
    event = _event(client.get(path).get_data(as_text=True))
    assert event.url.value == link and link in event.description.value
    # the clinic-wide feed of staff holds the session, not its clinician's link
    assert "video.example.org" not in client.get(staff_path).get_data(as_text=True)
    auth.sign_in("desk")
    invited = _event(client.get(f"/appointments/{appointment}/invite.ics").get_data(as_text=True))
    assert invited.url.value == link
    [row] = [r for r in make.audit_rows(action="settings.telehealth") if r.detail.endswith("on")]
    assert row.detail == "template set; links in feeds on"


# -- the demo clinic -----------------------------------------------------------------------

@pytest.mark.demo_clinic  # built by `flask demo` once per engine (tests/databases.py), copied here
def test_the_demo_clinics_telehealth_sessions_have_links(app, make):
    from ketamine_integration.demo.clinic import DEMO_VIDEO_ROOMS, DEMO_VIDEO_TEMPLATE

    def links():
        sessions = db.session.scalars(select(Appointment).where(Appointment.modality == "telehealth",
                                                                Appointment.status != "cancelled")).all()
        return [(a.clinician.username, a.video_token, video_link(a)) for a in sessions]
    found = make.query(links)
    assert found, "the demo has telehealth sessions"
    for username, token, link in found:
        expected = DEMO_VIDEO_ROOMS.get(username) or DEMO_VIDEO_TEMPLATE.format(appointment=token)
        assert link == expected, username
    assert {u for u, _t, _l in found} - set(DEMO_VIDEO_ROOMS), "a session on the clinic's template"
