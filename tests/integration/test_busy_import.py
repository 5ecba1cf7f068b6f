"""Busy-time import over HTTP (issue 25, point 6): an override's own end is what is stored, the
invitations the clinician declined (matched by the email on file for the clinician, whoever uploads)
do not block, and a zone one clinician's upload defines is not used for another's upload that only
names it. The rules themselves, with real-world shaped exports: tests/unit/test_busy_exports.py."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from io import BytesIO
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from ketamine_integration.busy_times.models import ImportedBusy, in_current_import
from ketamine_integration.extensions import db
from tests.conftest import page_text

NY, UTC = ZoneInfo("America/New_York"), timezone.utc
HAZEL = "hazel@clinic.example"


@pytest.fixture
def clinic(make):
    return {"therapist": make.user("therapist", username="ther", full_name="Hazel Quint", email=HAZEL),
            "other": make.user("therapist", username="ther2", full_name="Ivo Second"),
            "staff": make.user("staff", username="desk", email="desk@clinic.example")}


def _day(days: int, hour: int, minute: int = 0) -> datetime:
    """Clinic wall-clock time `days` from today (whole days: the test may run on either side of a DST change)."""
    day = (datetime.now(NY) + timedelta(days=days)).date()
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=NY)


def _local(when: datetime) -> str:
    return when.strftime("%Y%m%dT%H%M%S")


def _ics(*events: str, zones: str = "") -> bytes:
    return ("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Test//Other calendar//EN\r\n" + zones + "".join(events)
            + "END:VCALENDAR\r\n").encode()


def _vevent(uid: str, *lines: str) -> str:
    return "BEGIN:VEVENT\r\nUID:" + uid + "\r\nDTSTAMP:20260101T000000Z\r\n" + "".join(
        line + "\r\n" for line in lines) + "END:VEVENT\r\n"


def _upload(auth, user_id, content: bytes, filename="other.ics"):
    return auth.post(f"/availability/{user_id}/calendar-import", {"calendar_file": (BytesIO(content), filename)},
                     content_type="multipart/form-data", follow_redirects=True)


def _busy(make, user_id):
    return make.query(lambda: [(b.starts_at, b.ends_at) for b in db.session.scalars(
        select(ImportedBusy).where(ImportedBusy.clinician_id == user_id, in_current_import())
        .order_by(ImportedBusy.starts_at))])


def test_an_override_is_stored_with_its_own_end(clinic, make, auth):
    """The issue's case: a weekly hour at 14:00, one week 14:00-16:00, was kept as 14:00-15:00."""
    first = _day(2, 14)
    long_one = first + timedelta(days=7)  # wall-clock arithmetic: 14:00 a week later, whatever the offset
    content = _ics(_vevent("weekly@other.example", f"DTSTART;TZID=America/New_York:{_local(first)}",
                           "DURATION:PT1H", "RRULE:FREQ=WEEKLY;COUNT=3"),
                   _vevent("weekly@other.example", f"RECURRENCE-ID;TZID=America/New_York:{_local(long_one)}",
                           f"DTSTART;TZID=America/New_York:{_local(long_one)}",
                           f"DTEND;TZID=America/New_York:{_local(long_one.replace(hour=16))}", "SEQUENCE:1"))
    auth.sign_in("ther")
    assert "Imported 3 busy times" in page_text(_upload(auth, clinic["therapist"], content))
    third = first + timedelta(days=14)
    assert _busy(make, clinic["therapist"]) == [
        (first.astimezone(UTC), first.replace(hour=15).astimezone(UTC)),
        (long_one.astimezone(UTC), long_one.replace(hour=16).astimezone(UTC)),
        (third.astimezone(UTC), third.replace(hour=15).astimezone(UTC))]


def _invitation(uid: str, start: datetime, *attendees: str) -> str:
    return _vevent(uid, f"DTSTART;TZID=America/New_York:{_local(start)}", "DURATION:PT1H",
                   "ORGANIZER;CN=Someone:mailto:someone@example.org", *attendees)


@pytest.mark.parametrize("uploader", ["ther", "desk"])
def test_the_clinicians_own_declined_invitations_do_not_block_whoever_uploads(clinic, make, auth, uploader):
    declined, tentative, others, staffs = _day(3, 9), _day(3, 11), _day(3, 13), _day(3, 15)
    content = _ics(
        _invitation("declined", declined, f"ATTENDEE;PARTSTAT=DECLINED;CN=Hazel Quint:mailto:{HAZEL.upper()}"),
        _invitation("tentative", tentative, f"ATTENDEE;PARTSTAT=TENTATIVE:mailto:{HAZEL}"),
        _invitation("others", others, f"ATTENDEE;PARTSTAT=ACCEPTED:mailto:{HAZEL}",
                    "ATTENDEE;PARTSTAT=DECLINED:mailto:someone@example.org"),
        # the uploader's own address (staff uploading) is not the clinician's: it blocks
        _invitation("staffs", staffs, "ATTENDEE;PARTSTAT=DECLINED:mailto:desk@clinic.example"))
    auth.sign_in(uploader)
    assert "Imported 3 busy times" in page_text(_upload(auth, clinic["therapist"], content))
    assert [s for s, _ in _busy(make, clinic["therapist"])] == [t.astimezone(UTC) for t in (tentative, others, staffs)]


def test_without_an_email_on_file_no_invitation_counts_as_declined(clinic, make, auth):
    content = _ics(_invitation("declined", _day(3, 9), "ATTENDEE;PARTSTAT=DECLINED:mailto:ivo@example.org"))
    auth.sign_in("ther2")
    assert "Imported 1 busy time" in page_text(_upload(auth, clinic["other"], content))


def _fixed_zone(tzid: str, offset: str) -> str:
    return (f"BEGIN:VTIMEZONE\r\nTZID:{tzid}\r\nBEGIN:STANDARD\r\nDTSTART:16010101T000000\r\n"
            f"TZOFFSETFROM:{offset}\r\nTZOFFSETTO:{offset}\r\nEND:STANDARD\r\nEND:VTIMEZONE\r\n")


def test_a_zone_one_upload_defines_is_not_used_by_another_clinicians_upload_naming_it(clinic, make, auth):
    start = _day(4, 9)
    event = _vevent("trip", f'DTSTART;TZID="Busy HTTP Trip Zone":{_local(start)}',
                    f'DTEND;TZID="Busy HTTP Trip Zone":{_local(start + timedelta(hours=1))}')
    auth.sign_in("ther")
    assert _upload(auth, clinic["therapist"], _ics(event, zones=_fixed_zone("Busy HTTP Trip Zone", "+0530"))).status_code == 200
    india = timezone(timedelta(hours=5, minutes=30))
    wall = start.replace(tzinfo=None)
    assert _busy(make, clinic["therapist"]) == [(wall.replace(tzinfo=india).astimezone(UTC),
                                                 (wall + timedelta(hours=1)).replace(tzinfo=india).astimezone(UTC))]
    auth.logout()
    auth.sign_in("ther2")  # another clinician's file names the zone without defining it: the clinic's zone
    assert _upload(auth, clinic["other"], _ics(event)).status_code == 200
    assert _busy(make, clinic["other"]) == [(start.astimezone(UTC), (start + timedelta(hours=1)).astimezone(UTC))]
    auth.logout()
    auth.sign_in("ther")  # the first clinician's next upload, naming it only: the clinic's zone too
    assert _upload(auth, clinic["therapist"], _ics(event), filename="again.ics").status_code == 200
    assert _busy(make, clinic["therapist"]) == _busy(make, clinic["other"])


def test_the_availability_page_says_which_address_declines_are_matched_by(clinic, auth):
    auth.sign_in("desk")
    assert f"Invitations declined as {HAZEL} (the email address on file) do not block" in page_text(
        auth.client.get(f"/availability/{clinic['therapist']}"))
    assert "No email address is on file for Ivo Second, so invitations declined in that calendar still block" \
        in page_text(auth.client.get(f"/availability/{clinic['other']}"))


def test_a_long_file_name_is_cut_inside_the_name_and_the_file_still_imported(clinic, make, auth):
    """The name was cut to 120 characters before its type was judged by it: "….ics" lost, the file
    was refused as not iCalendar."""
    start = _day(2, 9)
    content = _ics(_vevent("long", f"DTSTART;TZID=America/New_York:{_local(start)}", "DURATION:PT1H"))
    auth.sign_in("ther")
    page = page_text(_upload(auth, clinic["therapist"], content, filename="Hazel Quint work " + "x" * 200 + ".ics"))
    assert "Imported 1 busy time from Hazel Quint work xxx" in page and "x….ics" in page
    assert len(_busy(make, clinic["therapist"])) == 1


def test_an_rdate_period_ending_before_it_starts_refuses_the_file_naming_it_and_the_event(clinic, make, auth):
    """It was dropped silently and the rest of the file imported as if it were right."""
    kept = _day(2, 9)
    auth.sign_in("ther")
    _upload(auth, clinic["therapist"], _ics(_vevent("kept", f"DTSTART;TZID=America/New_York:{_local(kept)}",
                                                     "DURATION:PT1H")))
    start = _day(4, 10)
    content = _ics(_vevent("ok", f"DTSTART;TZID=America/New_York:{_local(_day(3, 9))}", "DURATION:PT1H"),
                   _vevent("backwards@other.example", f"DTSTART;TZID=America/New_York:{_local(start)}",
                           "DURATION:PT1H", f"RDATE;VALUE=PERIOD;TZID=America/New_York:{_local(start + timedelta(days=1))}"
                           f"/{_local(start.replace(hour=9) + timedelta(days=1))}"))
    page = page_text(_upload(auth, clinic["therapist"], content, filename="work.ics"))
    assert "work.ics" in page and "event 2 (UID backwards@other.example) has an RDATE period that ends before it " \
                                  "starts" in page
    assert _busy(make, clinic["therapist"]) == [(kept.astimezone(UTC), kept.replace(hour=10).astimezone(UTC))]


def test_another_attendees_decline_carrying_the_clinicians_email_parameter_still_blocks(clinic, make, auth):
    theirs, apple = _day(3, 9), _day(3, 11)
    content = _ics(
        _invitation("theirs", theirs, f'ATTENDEE;EMAIL="{HAZEL}";PARTSTAT=DECLINED:mailto:someone@example.org'),
        # Apple's own form: a urn:uuid value and the clinician's address in EMAIL, declined
        _invitation("apple", apple, f'ATTENDEE;EMAIL="{HAZEL}";PARTSTAT=DECLINED:'
                                    'urn:uuid:00000000-0000-0000-0000-000000000001'))
    auth.sign_in("ther")
    assert "Imported 1 busy time from" in page_text(_upload(auth, clinic["therapist"], content))
    assert [s for s, _ in _busy(make, clinic["therapist"])] == [theirs.astimezone(UTC)]


def test_the_availability_page_lists_the_next_busy_times_in_clinic_time_and_counts_the_rest(clinic, auth):
    """The card gave only a count: a clinician could not check what the upload had read."""
    past = _vevent("past", f"DTSTART;TZID=America/New_York:{_local(_day(-1, 7))}", "DURATION:PT1H")
    coming = [_vevent(f"day-{n}", f"DTSTART;TZID=America/New_York:{_local(_day(n, 8, 15))}", "DURATION:PT45M")
              for n in range(1, 13)]
    auth.sign_in("ther")
    _upload(auth, clinic["therapist"], _ics(past, *coming))
    page = page_text(auth.client.get(f"/availability/{clinic['therapist']}"))
    listed = page.split("Coming busy times", 1)[1]
    for n in range(1, 11):  # the first ten, soonest first, at their clinic wall-clock time
        assert f"{_day(n, 8, 15):%Y-%m-%d} 08:15" in listed
    assert listed.index(f"{_day(1, 8, 15):%Y-%m-%d}") < listed.index(f"{_day(10, 8, 15):%Y-%m-%d}")
    assert f"{_day(11, 8, 15):%Y-%m-%d}" not in listed and f"{_day(-1, 7):%Y-%m-%d} 07:00" not in listed
    assert "and 2 more busy times after these" in listed


def test_a_busy_time_over_midnight_shows_both_days_and_none_to_come_says_so(clinic, auth):
    late = _vevent("late", f"DTSTART;TZID=America/New_York:{_local(_day(3, 23))}", "DURATION:PT2H")
    auth.sign_in("ther")
    _upload(auth, clinic["therapist"], _ics(late))
    page = page_text(auth.client.get(f"/availability/{clinic['therapist']}"))
    assert f"{_day(3, 23):%Y-%m-%d} 23:00" in page and f"to {_day(4, 1):%Y-%m-%d} 01:00" in page
    assert "more busy time" not in page
    _upload(auth, clinic["therapist"], _ics(_vevent("gone", f"DTSTART;TZID=America/New_York:{_local(_day(-2, 9))}",
                                                    "DURATION:PT1H")))
    assert "None of them is still to come." in page_text(auth.client.get(f"/availability/{clinic['therapist']}"))


@pytest.mark.parametrize("shown, more", [
    (3, 0),   # fewer than the card lists: all of them, none counted
    (10, 2),  # more: the first ten, the rest counted
])
def test_the_coming_busy_times_are_the_current_imports_not_yet_over_soonest_first(clinic, make, shown, more):
    """A block over before `now` and a superseded upload's blocks are not listed; one under way is."""
    from ketamine_integration.busy_times.models import CalendarImport, fetch_upcoming_busy
    now = datetime(2026, 11, 1, 5, 30, tzinfo=UTC)  # 01:30 EDT, the night the clocks go back

    def add():
        def upload(superseded):
            row = CalendarImport(clinician_id=clinic["therapist"], filename="other.ics", uploaded_by_id=clinic["staff"],
                                 covers_from=now, covers_until=now + timedelta(days=30),
                                 superseded_at=now if superseded else None)
            db.session.add(row)
            db.session.flush()
            return row.id
        old, current = upload(True), upload(False)
        rows = [(old, now + timedelta(hours=1)), (current, now - timedelta(hours=2)),  # superseded; over
                (current, now - timedelta(minutes=30))]  # under way: still to come
        rows += [(current, now + timedelta(days=n)) for n in range(shown + more - 1, 0, -1)]
        for import_id, start in rows:
            db.session.add(ImportedBusy(import_id=import_id, clinician_id=clinic["therapist"], starts_at=start,
                                        ends_at=start + timedelta(hours=1)))
        db.session.commit()
    make.run(add)
    upcoming = make.query(lambda: fetch_upcoming_busy(clinic["therapist"], now=now))
    starts = [b.starts_at for b in upcoming.shown]
    assert starts[0] == now - timedelta(minutes=30) and starts == sorted(starts)
    assert (len(starts), upcoming.more) == (shown, more)
