"""Calendar feeds and invitations, read back with vobject (an independent parser), and busy-time import."""
import re
from datetime import datetime, timedelta, timezone
from io import BytesIO
from zoneinfo import ZoneInfo

import pytest
import vobject
from sqlalchemy import func, select

from ketamine_integration.busy_times.models import CalendarImport, ImportedBusy, in_current_import
from ketamine_integration.extensions import db
from ketamine_integration.bookings.models import Appointment, AppointmentChange
from tests.clock_changes import next_clock_change
from tests.conftest import page_text, todays_world

NY = ZoneInfo("America/New_York")
UTC = timezone.utc


@pytest.fixture
def clinic(make):
    """Two therapists (one with an email), a prescriber, another practice's prescriber, staff, admin, two
    patients on different care teams and a room. Built once per day, worker and engine (reused_world) and
    loaded from its snapshot after."""
    return todays_world(make.app, "calendars_clinic", lambda: _clinic_world(make))


def _clinic_world(make) -> dict:
    ids = {"therapist": make.user("therapist", username="ther", full_name="Hazel Quint", email="hazel@clinic.example"),
           "other": make.user("therapist", username="ther2", full_name="Ivo Second"),
           "prescriber": make.user("prescriber", username="pres", full_name="Orrin Vale"),
           "outsider": make.user("prescriber", username="elsewhere"),
           "staff": make.user("staff", username="desk"), "admin": make.user("admin", username="boss")}
    ids["patient"] = make.patient(given_name="Tamsin", family_name="Sorrel", therapists=[ids["therapist"]],
                                  prescribers=[ids["prescriber"]])
    ids["other_patient"] = make.patient(given_name="Uma", family_name="Vetch", therapists=[ids["other"]])
    ids["room"] = make.room("Cedar Room")
    return ids


def _appointment(make, clinician, patient, starts_local: datetime, minutes=50, room=None, kind="follow_up"):
    """An appointment as the booking service leaves it (with its 'booked' history row)."""
    def add():
        start = starts_local.astimezone(UTC)
        a = Appointment(patient_id=patient, clinician_id=clinician, kind=kind, starts_at=start,
                        ends_at=start + timedelta(minutes=minutes), modality="in_person" if room else "telehealth",
                        room_id=room, created_by_id=clinician)
        a.changes.append(AppointmentChange(change="booked", by_user_id=clinician))
        db.session.add(a)
        db.session.flush()
        return a.id
    return make.run(add)


def _new_feed(auth, client, username, label="phone"):
    auth.sign_in(username)
    page = auth.post("/calendars/feeds", {"label": label}).get_data(as_text=True)
    [url] = re.findall(r'value="(http://localhost/feeds/[^"]+\.ics)"', page)
    auth.logout()
    return url.removeprefix("http://localhost")


def _parse(response):
    assert response.status_code == 200 and response.headers["Content-Type"].startswith("text/calendar")
    return vobject.readOne(response.get_data(as_text=True))


def _events(calendar):
    return {str(e.uid.value): e for e in calendar.contents.get("vevent", [])}


def future(days, hour=10):
    day = (datetime.now(NY) + timedelta(days=days)).date()
    return datetime(day.year, day.month, day.day, hour, tzinfo=NY)


def test_a_therapist_feed_holds_their_own_sessions_and_nothing_of_the_patient(clinic, make, auth, client):
    mine = _appointment(make, clinic["therapist"], clinic["patient"], future(3), room=clinic["room"])
    _appointment(make, clinic["other"], clinic["other_patient"], future(3, 14))
    path = _new_feed(auth, client, "ther")
    calendar = _parse(client.get(path))                           # no login: the address is the credential
    events = _events(calendar)
    assert list(events) == [f"appointment-{mine}@clinic-calendar.invalid"]
    [event] = events.values()
    assert event.summary.value == "Follow-up" and event.location.value == "Cedar Room"  # session type only
    assert event.status.value == "CONFIRMED" and int(event.sequence.value) == 0
    assert event.dtstart.value == future(3) and event.dtstart.value.tzinfo is not None
    assert calendar.vtimezone.tzid.value == "America/New_York"
    assert calendar.x_wr_calname.value == "Appointments"          # neutral: not the clinic's name
    body = client.get(path).get_data(as_text=True)
    assert "Tamsin" not in body and "Sorrel" not in body and "T.S." not in body
    [created] = make.audit_rows(action="calendar.feed_create")
    reads = make.audit_rows(action="calendar.feed_read")
    assert len(reads) == 2 and {r.outcome for r in reads} == {"success"} and created.user_id == clinic["therapist"]


def test_the_address_is_shown_once_and_only_its_fingerprint_is_kept(clinic, make, auth, client):
    path = _new_feed(auth, client, "ther")
    token = path.removeprefix("/feeds/").removesuffix(".ics")
    auth.sign_in("ther")
    listing = client.get("/calendars/").get_data(as_text=True)
    assert token not in listing and f"…{token[-4:]}" in listing
    from ketamine_integration.calendars.models import CalendarFeed
    stored = make.query(lambda: db.session.scalar(select(CalendarFeed)))
    assert stored.token_hash != token and token not in stored.token_hash


def test_changes_raise_the_sequence_and_a_cancellation_stays_in_the_feed(clinic, make, auth, client):
    appointment = _appointment(make, clinic["therapist"], clinic["patient"], future(3))
    path = _new_feed(auth, client, "ther")
    uid = f"appointment-{appointment}@clinic-calendar.invalid"
    first = _events(_parse(client.get(path)))[uid]
    auth.sign_in("desk")
    assert auth.post(f"/appointments/{appointment}/reschedule",
                     {"starts_at": future(4, 11).strftime("%Y-%m-%dT%H:%M")}).status_code == 302
    moved = _events(_parse(client.get(path)))[uid]
    assert int(moved.sequence.value) == int(first.sequence.value) + 1 and moved.dtstart.value == future(4, 11)
    assert auth.post(f"/appointments/{appointment}/cancel", {"reason": "Patient unwell with flu"}).status_code == 302
    body = client.get(path).get_data(as_text=True)
    cancelled = _events(vobject.readOne(body))[uid]
    assert cancelled.status.value == "CANCELLED" and int(cancelled.sequence.value) == 2
    assert "flu" not in body and "unwell" not in body               # the reason is not for calendars


def test_times_are_right_on_both_sides_of_a_dst_change(clinic, make, auth, client):
    # 10:00 in New York the Friday before and the Monday after the next spring change (a Sunday):
    # the next one, so the sessions stay inside the feed's window whenever the suite runs
    change = next_clock_change(forward=True)
    before, after = (change + timedelta(days=-2, hours=10)), (change + timedelta(days=1, hours=10))
    ids = [_appointment(make, clinic["therapist"], clinic["patient"], when) for when in (before, after)]
    path = _new_feed(auth, client, "ther")
    events = _events(_parse(client.get(path)))
    starts = [events[f"appointment-{i}@clinic-calendar.invalid"].dtstart.value for i in ids]
    assert [s.astimezone(UTC).hour for s in starts] == [15, 14]    # EST then EDT
    assert [s.astimezone(NY).hour for s in starts] == [10, 10]
    body = client.get(path).get_data(as_text=True)
    assert f"DTSTART;TZID=America/New_York:{before:%Y%m%d}T100000" in body
    assert f"DTSTART;TZID=America/New_York:{after:%Y%m%d}T100000" in body


def _feed_settings(auth, identity, name="Appointments", understood=False):
    data = {"identity": identity, "calendar_name": name}
    if understood:
        data["initials_understood"] = "y"
    return auth.post("/calendars/settings", data)


def test_staff_get_the_clinic_feed_and_initials_are_the_admins_explicit_choice(clinic, make, auth, client):
    _appointment(make, clinic["therapist"], clinic["patient"], future(3))
    _appointment(make, clinic["other"], clinic["other_patient"], future(3, 14))
    path = _new_feed(auth, client, "desk")
    calendar = _parse(client.get(path))
    summaries = sorted(e.summary.value for e in _events(calendar).values())
    assert summaries == ["Follow-up (Hazel Quint)", "Follow-up (Ivo Second)"]       # the default: no initials
    assert calendar.x_wr_calname.value == "Appointments (whole clinic)"
    # the page says so once (a review found "the session type, the time, the place and session type...")
    said = "Feed events show the time, the place and the session type, and nothing about the patient — never notes"
    auth.sign_in("boss")
    assert said in page_text(client.get("/calendars/"))
    # initials without the box ticked: refused on that field, nothing changes
    refused = _feed_settings(auth, "initials")
    assert refused.status_code == 422
    assert "To put patients' initials in feeds, tick this box" in page_text(refused)
    assert not make.audit_rows(action="settings.calendar")
    assert sorted(e.summary.value for e in _events(_parse(client.get(path))).values()) == summaries
    assert _feed_settings(auth, "initials", understood=True).status_code == 302
    summaries = sorted(e.summary.value for e in _events(_parse(client.get(path))).values())
    assert summaries == ["Follow-up — T.S. (Hazel Quint)", "Follow-up — U.V. (Ivo Second)"]
    page = page_text(client.get("/calendars/"))
    assert "Feed events show the time, the place and the session type and the patient's initials — never notes" in page
    assert "Feeds now carry patients' initials" in page                            # the warning stays in view
    assert _feed_settings(auth, "none").status_code == 302
    assert [r.detail for r in make.audit_rows(action="settings.calendar")] == ["initials", "none"]
    auth.logout()
    auth.sign_in("desk")
    assert _feed_settings(auth, "initials", understood=True).status_code == 403


@pytest.mark.parametrize("name, problem", [
    ("", "Give the calendar a name"),                                   # emptied
    ("   ", "Give the calendar a name"),                                # spaces only
    ("x" * 61, "At most 60 characters (this one has 61)"),              # one over
    ("Ketamine clinic", 'leave out "Ketamine"'),                        # names the treatment
    ("Integration sessions", 'leave out "Integration"'),                # a session type that says what it treats
    ("Work\x07", "Use letters, digits, spaces and punctuation only"),   # a control character
    ("Psych appointments", 'leave out "Psych"'),                        # the words the attack review found missing
    ("Special K", 'leave out "Special K"'),
    ("\U0001f17a\U0001f174\U0001f183\U0001f170\U0001f17c\U0001f178\U0001f17d", "leave out"),  # 🅺🅴🆃🅰🅼🅸🅽 (negative squared)
])
def test_a_calendar_name_that_would_say_too_much_is_refused_on_its_field(clinic, make, auth, client, name, problem):
    auth.sign_in("boss")
    refused = _feed_settings(auth, "none", name=name)
    assert refused.status_code == 422 and problem in page_text(refused)
    assert not make.audit_rows(action="settings.calendar")


def test_the_admin_names_the_calendar(clinic, make, auth, client):
    _appointment(make, clinic["therapist"], clinic["patient"], future(3))
    path = _new_feed(auth, client, "ther")
    auth.sign_in("boss")
    assert _feed_settings(auth, "none", name="  Work   diary ").status_code == 302
    assert _parse(client.get(path)).x_wr_calname.value == "Work diary"
    assert [r.detail for r in make.audit_rows(action="settings.calendar")] == ["none, calendar name changed"]
    assert 'value="Work diary"' in client.get("/calendars/").get_data(as_text=True)


def test_revoked_unknown_and_disabled_feeds_answer_nothing(clinic, make, auth, client):
    path = _new_feed(auth, client, "ther")
    assert client.get("/feeds/not-a-real-token.ics").status_code == 404
    assert client.get("/feeds/" + "x" * 300 + ".ics").status_code == 404
    auth.sign_in("ther")
    from ketamine_integration.calendars.models import CalendarFeed
    feed_id = make.query(lambda: db.session.scalar(select(CalendarFeed.id)))
    assert auth.post(f"/calendars/feeds/{feed_id}/revoke", {}).status_code == 302
    assert client.get(path).status_code == 404
    auth.logout()
    # someone else cannot revoke (or learn about) your feed
    other_path = _new_feed(auth, client, "ther2")
    auth.sign_in("ther")
    other_id = make.query(lambda: db.session.scalar(select(func.max(CalendarFeed.id))))
    assert auth.post(f"/calendars/feeds/{other_id}/revoke", {}).status_code == 404
    assert client.get(other_path).status_code == 200
    from ketamine_integration.accounts.models import User
    make.run(lambda: setattr(db.session.get(User, clinic["other"]), "active", False))
    assert client.get(other_path).status_code == 404                            # a disabled user's feeds stop
    denied = make.audit_rows(action="calendar.feed_read", outcome="denied")
    assert len(denied) == 4


def test_feed_requests_are_rate_limited_in_the_database(clinic, make, auth, client, app):
    app.config["FEED_REQUESTS_PER_HOUR"] = 3
    path = _new_feed(auth, client, "ther")
    codes = [client.get(path).status_code for _ in range(5)]
    assert codes == [200, 200, 200, 429, 429]
    limited = client.get(path)
    assert 0 < int(limited.headers["Retry-After"]) <= 3600
    assert len(make.audit_rows(action="calendar.feed_read", outcome="denied")) == 3


def test_an_invitation_is_a_request_then_a_cancel_with_the_same_uid(clinic, make, auth, client):
    appointment = _appointment(make, clinic["therapist"], clinic["patient"], future(3), room=clinic["room"])
    auth.sign_in("desk")
    invite = client.get(f"/appointments/{appointment}/invite.ics")
    assert "attachment" in invite.headers["Content-Disposition"]
    request_ = _parse(invite)
    assert request_.method.value == "REQUEST"
    [event] = _events(request_).values()
    assert event.organizer.value == "mailto:scheduling@harbor-light.example"
    assert event.organizer.params["CN"] == ["Harbor Light Clinic"]        # the clinic's name, no treatment named
    assert event.attendee.value == "mailto:hazel@clinic.example" and event.attendee.params["CN"] == ["Hazel Quint"]
    assert auth.post(f"/appointments/{appointment}/cancel", {"reason": "Therapist ill"}).status_code == 302
    cancel = _parse(client.get(f"/appointments/{appointment}/invite.ics"))
    assert cancel.method.value == "CANCEL"
    [cancelled] = _events(cancel).values()
    assert cancelled.uid.value == event.uid.value and int(cancelled.sequence.value) > int(event.sequence.value)
    assert cancelled.status.value == "CANCELLED"
    assert [r.detail for r in make.audit_rows(action="appointment.invite")] == ["request", "cancel"]
    auth.logout()
    auth.sign_in("elsewhere")                                       # not on this patient's care team
    assert client.get(f"/appointments/{appointment}/invite.ics").status_code == 403


# -- busy-time import --------------------------------------------------------------------

def _ics(*events: str) -> bytes:
    return ("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Test//Other calendar//EN\r\n" + "".join(events)
            + "END:VCALENDAR\r\n").encode()


def _vevent(uid: str, *lines: str) -> str:
    return "BEGIN:VEVENT\r\nUID:" + uid + "\r\nDTSTAMP:20260101T000000Z\r\n" + "".join(
        line + "\r\n" for line in lines) + "END:VEVENT\r\n"


CHICAGO_TZ = ("BEGIN:VTIMEZONE\r\nTZID:America/Chicago\r\nBEGIN:STANDARD\r\nDTSTART:19701101T020000\r\n"
              "RRULE:FREQ=YEARLY;BYMONTH=11;BYDAY=1SU\r\nTZOFFSETFROM:-0500\r\nTZOFFSETTO:-0600\r\nEND:STANDARD\r\n"
              "BEGIN:DAYLIGHT\r\nDTSTART:19700308T020000\r\nRRULE:FREQ=YEARLY;BYMONTH=3;BYDAY=2SU\r\n"
              "TZOFFSETFROM:-0600\r\nTZOFFSETTO:-0500\r\nEND:DAYLIGHT\r\nEND:VTIMEZONE\r\n")


def _upload(auth, user_id, content: bytes, filename="work.ics", **kwargs):
    return auth.post(f"/availability/{user_id}/calendar-import",
                     {"calendar_file": (BytesIO(content), filename)}, content_type="multipart/form-data", **kwargs)


def _busy(make, user_id):
    return make.query(lambda: [(b.starts_at, b.ends_at) for b in db.session.scalars(
        select(ImportedBusy).where(ImportedBusy.clinician_id == user_id, in_current_import())
        .order_by(ImportedBusy.starts_at))])


def _ical_local(when: datetime) -> str:
    return when.strftime("%Y%m%dT%H%M%S")


def test_recurring_zoned_all_day_and_free_events_become_the_right_busy_times(clinic, make, auth):
    monday = future(7 - datetime.now(NY).weekday(), 9)            # next Monday 09:00 New York
    chicago = monday.astimezone(ZoneInfo("America/Chicago"))
    day_off = (monday + timedelta(days=2)).date()
    content = ("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Test//Other calendar//EN\r\n" + CHICAGO_TZ
               + _vevent("weekly", f"DTSTART;TZID=America/Chicago:{_ical_local(chicago)}",
                         f"DTEND;TZID=America/Chicago:{_ical_local(chicago + timedelta(hours=1))}",
                         "RRULE:FREQ=WEEKLY;COUNT=3", "SUMMARY:Supervision group (private)")
               + _vevent("allday", f"DTSTART;VALUE=DATE:{day_off.strftime('%Y%m%d')}",
                         f"DTEND;VALUE=DATE:{(day_off + timedelta(days=1)).strftime('%Y%m%d')}", "SUMMARY:Dentist")
               + _vevent("utc", f"DTSTART:{(monday + timedelta(days=1, hours=5)).astimezone(UTC).strftime('%Y%m%dT%H%M%SZ')}",
                         "DURATION:PT30M")
               + _vevent("free", f"DTSTART;TZID=America/Chicago:{_ical_local(chicago + timedelta(days=3))}",
                         "DURATION:PT1H", "TRANSP:TRANSPARENT")
               + _vevent("cancelled", f"DTSTART;TZID=America/Chicago:{_ical_local(chicago + timedelta(days=4))}",
                         "DURATION:PT1H", "STATUS:CANCELLED")
               + "END:VCALENDAR\r\n").encode()
    auth.sign_in("ther")
    response = _upload(auth, clinic["therapist"], content, follow_redirects=True)
    assert "Imported 5 busy times from work.ics" in page_text(response)
    busy = _busy(make, clinic["therapist"])
    weekly = [(monday + timedelta(weeks=w), monday + timedelta(weeks=w, hours=1)) for w in range(3)]
    midnight = datetime(day_off.year, day_off.month, day_off.day, tzinfo=NY)
    assert busy == sorted(weekly + [(midnight, midnight + timedelta(days=1)),
                                    (monday + timedelta(days=1, hours=5), monday + timedelta(days=1, hours=5, minutes=30))])
    page = page_text(auth.client.get(f"/availability/{clinic['therapist']}"))
    assert "5 busy times from work.ics" in page and "Supervision" not in page and "Dentist" not in page
    [row] = make.audit_rows(action="calendar.import")
    assert row.detail == "5 busy times"


def test_imported_busy_time_blocks_booking_and_a_new_upload_replaces_it(clinic, make, auth):
    start = future(3, 10)
    first = _ics(_vevent("a", f"DTSTART:{start.astimezone(UTC).strftime('%Y%m%dT%H%M%SZ')}", "DURATION:PT2H"))
    auth.sign_in("ther")
    assert _upload(auth, clinic["therapist"], first).status_code == 302
    from ketamine_integration.bookings.booking import check_free
    from ketamine_integration.db.errors import DomainError
    from ketamine_integration.accounts.models import User

    def try_book(at):
        try:
            check_free(db.session.get(User, clinic["therapist"]), clinic["patient"], at, at + timedelta(minutes=50),
                       None)
            return None
        except DomainError as err:
            return err.reasons["starts_at"]
    assert "Hazel Quint is busy then in their own calendar" in make.query(lambda: try_book(start + timedelta(hours=1)))
    later = future(5, 10)
    second = _ics(_vevent("b", f"DTSTART:{later.astimezone(UTC).strftime('%Y%m%dT%H%M%SZ')}", "DURATION:PT1H"))
    assert _upload(auth, clinic["therapist"], second, filename="work-2.ics").status_code == 302
    assert make.query(lambda: try_book(start + timedelta(hours=1))) is None       # the old block no longer counts
    assert make.query(lambda: try_book(later)) is not None
    imports = make.query(lambda: db.session.scalars(select(CalendarImport).order_by(CalendarImport.id)).all())
    assert [(i.filename, i.superseded_at is not None) for i in imports] == [("work.ics", True), ("work-2.ics", False)]


BROKEN = [
    ("notes.txt", b"BEGIN:VCALENDAR\r\nEND:VCALENDAR\r\n", "notes.txt: is not an iCalendar file"),
    ("photo.ics", b"\x89PNG\r\n\x1a\n\x00\x00\xff\xfe", "photo.ics: is not UTF-8 text"),
    ("letter.ics", b"Dear colleague,\nplease find attached", "letter.ics: does not start with BEGIN:VCALENDAR"),
    ("cut.ics", b"BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nDTSTART:2026", "cut.ics: could not be read as iCalendar"),
    ("nostart.ics", _ics(_vevent("x1", "DURATION:PT1H")), "nostart.ics: event 1 (UID x1) has no DTSTART."),
    ("baddate.ics", _ics(_vevent("x2", "DTSTART:2026-13-45", "DURATION:PT1H")),
     "baddate.ics: event 1 (UID x2): DTSTART is not a valid date or time."),
    ("backwards.ics", _ics(_vevent("x3", "DTSTART:20261201T100000Z", "DTEND:20261201T090000Z")),
     "backwards.ics: event 1 (UID x3) ends before it starts."),
    ("rule.ics", _ics(_vevent("x4", "DTSTART:20261201T100000Z", "DURATION:PT1H", "RRULE:FREQ=SOMETIMES")),
     "rule.ics: event 1 (UID x4): RRULE is not a valid repeating rule."),
    ("huge.ics", b"BEGIN:VCALENDAR\r\n" + b"X-PAD:" + b"a" * (1024 * 1024 + 10) + b"\r\nEND:VCALENDAR\r\n",
     "huge.ics: is larger than 1 MB, the limit."),
]


@pytest.mark.parametrize("filename, content, message", BROKEN, ids=[b[0] for b in BROKEN])
def test_a_broken_file_is_refused_naming_it_and_imports_nothing(clinic, make, auth, filename, content, message):
    good = _ics(_vevent("g", f"DTSTART:{future(3).astimezone(UTC).strftime('%Y%m%dT%H%M%SZ')}", "DURATION:PT1H"))
    auth.sign_in("ther")
    assert _upload(auth, clinic["therapist"], good).status_code == 302
    response = _upload(auth, clinic["therapist"], content, filename=filename)
    assert response.status_code == 422 and message in page_text(response)
    assert len(_busy(make, clinic["therapist"])) == 1                          # the earlier upload still counts
    assert make.query(lambda: db.session.scalar(select(func.count()).select_from(CalendarImport))) == 1


def test_no_file_and_someone_elses_calendar_are_refused(clinic, make, auth):
    auth.sign_in("ther")
    missing = auth.post(f"/availability/{clinic['therapist']}/calendar-import", {},
                        content_type="multipart/form-data")
    assert missing.status_code == 422 and "Choose an .ics file to upload." in page_text(missing)
    assert _upload(auth, clinic["other"], _ics()).status_code == 403
    assert make.query(lambda: db.session.scalar(select(func.count()).select_from(CalendarImport))) == 0


def test_suggestions_auto_schedule_and_the_worklist_honour_imported_busy_time(clinic, make, auth):
    """Free time is computed in one place for suggestions and the auto-schedule (busy_by_clinician)."""
    from ketamine_integration.domain.slots import Interval
    from ketamine_integration.bookings.availability import busy_by_clinician, free_slots
    from ketamine_integration.bookings.models import WorkingHours
    day = future(3, 9)
    make.run(lambda: db.session.add(WorkingHours(clinician_id=clinic["therapist"], weekday=day.weekday(),
                                                 starts=day.time(), ends=(day + timedelta(hours=3)).time())))
    within = Interval(day.astimezone(UTC), (day + timedelta(hours=3)).astimezone(UTC))
    slots = lambda: free_slots(clinic["therapist"], None, within, timedelta(minutes=50))  # noqa: E731
    assert len(make.query(slots)) == 5                                           # 9:00 ... 11:00
    booked = _appointment(make, clinic["therapist"], clinic["patient"], day + timedelta(hours=2))
    # the worklist lists bookings on a course
    course = make.course(clinic["patient"], clinic["therapist"], clinic["prescriber"], phase="integration")
    make.run(lambda: setattr(db.session.get(Appointment, booked), "course_id", course))
    auth.sign_in("ther")
    _upload(auth, clinic["therapist"], _ics(_vevent("m", f"DTSTART:{day.astimezone(UTC).strftime('%Y%m%dT%H%M%SZ')}",
                                                    "DURATION:PT3H")))
    assert make.query(slots) == []
    assert make.query(lambda: busy_by_clinician([clinic["therapist"]], within)[clinic["therapist"]])
    auth.logout()
    auth.sign_in("desk")
    worklist = page_text(auth.client.get("/worklist"))
    assert "Follow-up with Hazel Quint (busy in their own calendar)" in worklist


# -- found in review ---------------------------------------------------------------------------

@pytest.mark.parametrize("dtstart, rule, message", [
    ("20261210T100000Z", "RRULE:FREQ=DAILY;INTERVAL=0", "has a repeat INTERVAL that is not a whole number"),
    ("20261210T100000Z", "RRULE:FREQ=SECONDLY;INTERVAL=10", "repeats secondly"),
    ("19000101T000000Z", "RRULE:FREQ=MINUTELY;INTERVAL=7", "repeats minutely"),
])
def test_runaway_repeating_rules_are_refused_before_expansion(clinic, make, auth, dtstart, rule, message):
    auth.sign_in("ther")
    response = _upload(auth, clinic["therapist"], _ics(_vevent("bomb", f"DTSTART:{dtstart}", "DURATION:PT1S", rule)),
                       filename="bomb.ics")
    assert response.status_code == 422 and f"bomb.ics: event 1 (UID bomb) {message}" in page_text(response)


def test_a_daily_rule_from_long_ago_is_expanded_only_where_it_matters(clinic, make, auth, app):
    app.config["BUSY_IMPORT_DAYS"] = 10
    auth.sign_in("ther")
    old_daily = _ics(_vevent("daily", "DTSTART:19000101T150000Z", "DURATION:PT30M", "RRULE:FREQ=DAILY"))
    assert _upload(auth, clinic["therapist"], old_daily).status_code == 302
    assert len(_busy(make, clinic["therapist"])) in (10, 11)


def test_an_event_longer_than_two_weeks_is_ignored_even_when_it_began_before_now(clinic, make, auth):
    start = (datetime.now(UTC) - timedelta(days=20)).strftime("%Y%m%dT000000Z")
    end = (datetime.now(UTC) + timedelta(days=10)).strftime("%Y%m%dT000000Z")
    auth.sign_in("ther")
    assert _upload(auth, clinic["therapist"], _ics(_vevent("oncall", f"DTSTART:{start}", f"DTEND:{end}"))
                   ).status_code == 302
    assert _busy(make, clinic["therapist"]) == []


def test_an_upload_over_the_server_limit_says_the_limits_and_is_audited(clinic, make, auth):
    auth.sign_in("ther")
    response = _upload(auth, clinic["therapist"], b"BEGIN:VCALENDAR\r\n" + b"x" * (6 * 1024 * 1024),
                       filename="year.ics")
    assert response.status_code == 413
    assert "Calendar exports may be at most 1 MB" in page_text(response)
    [row] = make.audit_rows(action="calendar.import")
    assert row.outcome == "failure" and "exceeds the server limit" in row.detail


def test_a_nul_or_a_path_in_the_filename_is_handled(clinic, make, auth):
    good = _ics(_vevent("g", f"DTSTART:{future(3).astimezone(UTC).strftime('%Y%m%dT%H%M%SZ')}", "DURATION:PT1H"))
    auth.sign_in("ther")
    assert _upload(auth, clinic["therapist"], good, filename="work\x00.ics").status_code == 400
    assert _upload(auth, clinic["therapist"], good, filename="../../etc/work\u200b.ics").status_code == 302
    assert make.query(lambda: db.session.scalar(select(CalendarImport.filename))) == "work.ics"


def test_sessions_in_the_repeated_autumn_hour_keep_their_instants(clinic, make, auth, client):
    day = next_clock_change(forward=False)
    first = (day + timedelta(hours=1, minutes=30)).astimezone(UTC)         # 01:30, first time round (daylight)
    second = first + timedelta(hours=1)                                     # 01:30 again (standard time)
    ids = [_appointment(make, clinic["therapist"], clinic["patient"], when, minutes=60) for when in (first, second)]
    body = client.get(_new_feed(auth, client, "ther")).get_data()
    events = _events(vobject.readOne(body.decode()))
    for appointment, start in zip(ids, (first, second)):
        event = events[f"appointment-{appointment}@clinic-calendar.invalid"]
        assert (event.dtstart.value.astimezone(UTC), event.dtend.value.astimezone(UTC)) == (
            start, start + timedelta(hours=1))


@pytest.mark.parametrize("zoned", [True, False])
def test_an_hour_starting_in_the_spring_gap_still_blocks_an_hour(clinic, make, auth, app, zoned):
    app.config["BUSY_IMPORT_DAYS"] = 400
    gap = (next_clock_change(forward=True) + timedelta(hours=2, minutes=30)).strftime("%Y%m%dT%H%M%S")
    prop = f"DTSTART;TZID=America/New_York:{gap}" if zoned else f"DTSTART:{gap}"
    auth.sign_in("ther")
    assert _upload(auth, clinic["therapist"], _ics(_vevent("night", prop, "DURATION:PT1H"))).status_code == 302
    assert [e - s for s, e in _busy(make, clinic["therapist"])] == [timedelta(hours=1)]


def test_no_invitation_without_someone_to_invite(clinic, make, auth, client):
    appointment = _appointment(make, clinic["other"], clinic["other_patient"], future(3))   # Ivo has no email
    auth.sign_in("desk")
    response = client.get(f"/appointments/{appointment}/invite.ics", follow_redirects=True)
    assert "Ivo Second has no email address" in page_text(response)
    assert [r.outcome for r in make.audit_rows(action="appointment.invite")] == ["failure"]


def test_the_clinics_own_sessions_exported_back_are_not_busy_time(clinic, make, auth, client):
    _appointment(make, clinic["therapist"], clinic["patient"], future(3))
    feed = client.get(_new_feed(auth, client, "ther")).get_data()
    auth.sign_in("ther")
    assert _upload(auth, clinic["therapist"], feed, filename="export.ics").status_code == 302
    assert _busy(make, clinic["therapist"]) == []


def test_a_refused_upload_answers_with_the_availability_page_and_its_header(clinic, auth):
    """The refusal is the availability page (served from the calendars blueprint's route): the header
    marks "My hours", not "Calendar feeds"."""
    auth.sign_in("ther")
    response = _upload(auth, clinic["therapist"], b"not a calendar", filename="notes.ics")
    assert response.status_code == 422
    current = re.findall(r'<a href="[^"]*" aria-current="page">([^<]+)</a>', response.get_data(as_text=True))
    assert current == ["My hours"]


def test_a_long_refusal_is_cut_to_the_audit_column_not_a_server_error(clinic, make, auth):
    """A 120-character file name and a 60-character UID make a refusal longer than the audit
    detail's 200 characters; PostgreSQL refuses a longer value (this answered 500 there)."""
    auth.sign_in("ther")
    uid = "u" * 60
    content = ("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//EN\r\nBEGIN:VEVENT\r\nUID:" + uid + "\r\n"
               "DTSTART:19000101T090000Z\r\nDURATION:PT30M\r\nRRULE:FREQ=WEEKLY;BYDAY=MO,TH;COUNT=999999\r\n"
               "END:VEVENT\r\nEND:VCALENDAR\r\n").encode()
    response = _upload(auth, clinic["therapist"], content, filename="f" * 116 + ".ics")
    assert response.status_code == 422
    assert f"(UID {uid}) repeats 999,999 times (COUNT=999999) starting in 1900" in page_text(response)
    [row] = make.audit_rows(action="calendar.import")
    assert row.outcome == "failure" and len(row.detail) == 200 and row.detail.startswith("refused: fff")


def test_a_new_feed_comes_with_a_copy_button_a_webcal_link_and_steps_per_app(clinic, auth, client):
    """Issue 21, point 5: the address stays selectable text, with a copy button (shown by its script),
    the same address as a webcal: link, and how to add it in Google Calendar, Outlook and Apple Calendar."""
    auth.sign_in("ther")
    html = auth.post("/calendars/feeds", {"label": "phone"}).get_data(as_text=True)
    [url] = re.findall(r'<input id="feed-url" type="text" readonly value="(http://localhost/feeds/[^"]+\.ics)"', html)
    assert re.search(r'<button type="button" class="button" data-copy-target="feed-url" hidden>(<svg [^>]*class="icon"'
                     r'.*?</svg>)?Copy the address</button>', html, re.S)
    assert '<script src="/static/copy.js" defer></script>' in html
    assert f'<a href="webcal://{url.removeprefix("http://")}">Subscribe with your calendar app</a>' in html
    text = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))
    for app_name, step in (("Google Calendar", "From URL"), ("Outlook", "Subscribe from web"),
                           ("Apple Calendar", "New Calendar Subscription")):
        assert f"<h3>{app_name}</h3>" in html and step in text
    listing = client.get("/calendars/").get_data(as_text=True)   # later visits: the steps, no address, no script
    assert "Adding a feed to your calendar app" in listing and "webcal://" not in listing
    assert "copy.js" not in listing and "feed-url" not in listing


# Room names reach every calendar service a feed is read by, as each in-person event's LOCATION:
# the rooms page refuses a clinical word in one; a room named before that rule is "In person" in feeds.
@pytest.mark.parametrize("name, refused", [
    ("Ketamine Room", "Ketamine"),                     # the treatment itself
    ("Dosing Suite 3", "Dosing"),                      # what happens there
    ("Spеcial K Lounge", "Spеcial K"),                 # a street name for ketamine, Cyrillic е inside
    ("Rehab Room 2", "Rehab"),                         # addiction care
])
def test_the_rooms_page_refuses_a_clinical_word_in_a_room_name(clinic, make, auth, name, refused):
    from ketamine_integration.bookings.models import Room
    auth.sign_in("boss")
    response = auth.post("/rooms/", {"name": name})
    assert response.status_code == 422
    assert f"A room's name reaches subscribers' calendars: leave out \"{refused}\"" in page_text(response)
    assert make.query(lambda: db.session.scalar(select(func.count()).select_from(Room))) == 1  # only Cedar Room


def test_a_neutral_room_name_is_added_and_named_in_feeds(clinic, make, auth, client):
    from ketamine_integration.bookings.models import Room
    auth.sign_in("boss")
    assert auth.post("/rooms/", {"name": "Suite 3"}).status_code == 302
    room = make.query(lambda: db.session.scalar(select(Room.id).where(Room.name == "Suite 3")))
    auth.logout()
    _appointment(make, clinic["therapist"], clinic["patient"], future(3), room=room)
    [event] = _events(_parse(client.get(_new_feed(auth, client, "ther")))).values()
    assert event.location.value == "Suite 3"


def test_a_room_named_clinically_before_the_rule_is_in_person_in_feeds(clinic, make, auth, client):
    old = make.room("Ketamine Suite 1")                 # stored before the rooms page checked names
    _appointment(make, clinic["therapist"], clinic["patient"], future(3), room=old)
    _appointment(make, clinic["therapist"], clinic["patient"], future(4))
    body = client.get(_new_feed(auth, client, "ther")).get_data(as_text=True)
    events = sorted(_events(vobject.readOne(body)).values(), key=lambda e: e.dtstart.value)
    assert [e.location.value for e in events] == ["In person", "Telehealth"]
    assert "Ketamine" not in body


def test_the_demo_rooms_carry_no_clinical_word():
    from ketamine_integration.demo.courses import ROOMS
    from ketamine_integration.demo.dosing import DOSING_ROOMS
    from ketamine_integration.domain.reminders import clinical_words_in
    assert [name for name in ROOMS + DOSING_ROOMS if clinical_words_in(name)] == []
