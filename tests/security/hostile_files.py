"""Hostile uploads for tests/security/test_hostile_uploads.py: calendars and protocol files built to
cost time or memory, each with what must become of it (refused naming the event and the limit,
or read with the right result)."""
from __future__ import annotations

from dataclasses import dataclass

HOURS = ",".join(str(h) for h in range(24))
EVERY_DAY = "MO,TU,WE,TH,FR,SA,SU"


def ics(*events: str) -> str:
    return "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Hostile//EN\r\n" + "".join(events) + "END:VCALENDAR\r\n"


def vevent(uid: str, *lines: str) -> str:
    return "BEGIN:VEVENT\r\nUID:" + uid + "\r\n" + "".join(line + "\r\n" for line in lines) + "END:VEVENT\r\n"


def repeating(uid: str, rule: str, dtstart: str = "19000101T090000Z") -> str:
    return vevent(uid, f"DTSTART:{dtstart}", "DURATION:PT30M", f"RRULE:{rule}")


def vtimezone(tzid: str, *observances: tuple[str, str, str, str]) -> str:
    """A VTIMEZONE of (kind, DTSTART, TZOFFSETFROM>TZOFFSETTO, RRULE or "") observances."""
    body = "".join(f"BEGIN:{kind}\r\nDTSTART:{start}\r\nTZOFFSETFROM:{offsets.split('>')[0]}\r\n"
                   f"TZOFFSETTO:{offsets.split('>')[1]}\r\n" + (f"RRULE:{rule}\r\n" if rule else "") + f"END:{kind}\r\n"
                   for kind, start, offsets, rule in observances)
    return f"BEGIN:VTIMEZONE\r\nTZID:{tzid}\r\n{body}END:VTIMEZONE\r\n"


def yearly_zone(tzid: str, standard: str, daylight: str) -> str:
    """A zone as Outlook writes one: DST from the 2nd Sunday of March to the 1st of November."""
    return vtimezone(tzid, ("STANDARD", "16011104T020000", f"{daylight}>{standard}", "FREQ=YEARLY;BYDAY=1SU;BYMONTH=11"),
                     ("DAYLIGHT", "16010311T020000", f"{standard}>{daylight}", "FREQ=YEARLY;BYDAY=2SU;BYMONTH=3"))


def zoned(uid: str, tzid: str, start: str = "20261201T100000", end: str = "20261201T110000") -> str:
    return vevent(uid, f"DTSTART;TZID={tzid}:{start}", f"DTEND;TZID={tzid}:{end}")


def never_yearly(count: int) -> str:
    """`count` yearly rules that never match (February 30th), each scanned to the window's end."""
    return ics(*[repeating(f"n{n}", "FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=30;BYDAY=MO") for n in range(count)])


def every(freq: str, by: str) -> str:
    """The review's zone whose observances change offset every `freq` from 1900 (icalendar built
    every onset: minutely ran over 120 s and 1.28 GB, hourly 10.6 s and 121 MB)."""
    return ics(vtimezone("Evil/Zone", ("STANDARD", "19000101T000000", "+0100>+0000", f"FREQ={freq}"),
                         ("DAYLIGHT", "19000101T000000", "+0000>+0100", f"FREQ={freq};{by}")),
               zoned("a", "Evil/Zone"))


@dataclass(frozen=True)
class Hostile:
    name: str
    text: str
    #: a fragment the refusal says, naming the event and the limit; None: the file is read
    refusal: str | None = None
    #: busy times a read file gives over the test's window (None: not checked here)
    blocks: int | None = None


def calendars(window_days: int) -> list[Hostile]:
    """The hostile calendars; `window_days` is the expansion window the expected counts assume
    (a daily rule gives one block a day, give or take the window's partial first day)."""
    every_day = window_days  # checked as within one of this
    return [
        # The review's 270-byte file: weekly from 1900, every weekday, every hour.
        Hostile("weekly-1900-every-day-every-hour", ics(repeating("bomb", f"FREQ=WEEKLY;BYDAY={EVERY_DAY};BYHOUR={HOURS}")),
                "event 1 (UID bomb) repeats 24 times a day (BYHOUR × BYMINUTE × BYSECOND)"),
        # "Daily at most" passed FREQ=DAILY;BYHOUR=0..23 and stored 2,853 hourly blocks.
        Hostile("daily-byhour", ics(repeating("hourly", f"FREQ=DAILY;BYHOUR={HOURS}")),
                "event 1 (UID hourly) repeats 24 times a day"),
        Hostile("by-part-product", ics(repeating("product", "FREQ=YEARLY;BYMONTH=1,2,3,4,5,6,7,8,9,10,11,12;"
                                                 "BYMONTHDAY=" + ",".join(str(d) for d in range(1, 32))
                                                 + f";BYDAY={EVERY_DAY};BYHOUR={HOURS};BYMINUTE="
                                                 + ",".join(str(m) for m in range(60)) + ";BYSECOND=0,30")),
                "event 1 (UID product) repeats 2880 times a day"),
        # Legitimate but old: moved forward to the window, not iterated from 1900.
        Hostile("daily-from-1900", ics(repeating("old", "FREQ=DAILY")), blocks=every_day),
        Hostile("every-position-from-1900", ics(repeating("setpos", f"FREQ=MONTHLY;BYDAY={EVERY_DAY};BYSETPOS="
                                                          + ",".join(str(p) for p in range(1, 32)))),
                blocks=every_day),
        Hostile("bysetpos-beyond-the-week", ics(repeating("pos", "FREQ=WEEKLY;BYDAY=MO;BYSETPOS=2")),
                "event 1 (UID pos) asks for occurrence number 2 in each week (BYSETPOS=2), but it happens on only "
                "1 day(s) a week, so it would never take place."),
        Hostile("bysetpos-beyond-the-month", ics(repeating("mondays", "FREQ=MONTHLY;BYDAY=MO;BYSETPOS=32")),
                "event 1 (UID mondays) asks for occurrence number 32 in each month (BYSETPOS=32), but a month has "
                "at most 31 days, so it would never take place."),
        Hostile("bysetpos-never-in-a-year", ics(repeating("pos366", "FREQ=YEARLY;BYDAY=MO;BYSETPOS=366")), blocks=0),
        # COUNT: skipped by arithmetic where every period holds one occurrence, else bounded.
        Hostile("huge-count-daily", ics(repeating("count", "FREQ=DAILY;COUNT=2000000000")), blocks=every_day),
        Hostile("huge-count-uneven", ics(repeating("uneven", "FREQ=WEEKLY;BYDAY=MO,TH;COUNT=999999999")),
                "event 1 (UID uneven) repeats 999,999,999 times (COUNT=999999999) starting in 1900; a series that "
                "does not happen exactly once every week is counted from its start only up to 5,000 times."),
        # Rules that never match: dateutil alone scans them to year 9999 (3.4 s each for DAILY).
        # 40 × 400 days is within the 20,000 occurrences a file may produce; more is the next case
        Hostile("never-daily-x40", ics(*[repeating(f"feb30-{n}", "FREQ=DAILY;BYMONTH=2;BYMONTHDAY=30", "20260101T090000Z")
                                         for n in range(40)]), blocks=0),
        Hostile("never-monthly-x500", ics(*[repeating(f"m{n}", "FREQ=MONTHLY;BYMONTH=2;BYMONTHDAY=30") for n in range(500)]),
                blocks=0),
        # 200 of them take about a fifth of the read's 1.5 s deadline on an idle machine (500 took
        # half and, on a loaded one, met the deadline: the case tests the scan's cut, not the clock)
        Hostile("never-yearly-weekno-x200", ics(*[repeating(f"y{n}", "FREQ=YEARLY;BYWEEKNO=53;BYMONTH=1;BYDAY=MO")
                                                  for n in range(200)]), blocks=0),
        # Every candidate day of every rule counts, kept or not: 150 rules × 400 days.
        Hostile("occurrence-budget", ics(*[repeating(f"d{n}", "FREQ=DAILY;BYMONTH=2;BYMONTHDAY=30", "20260101T090000Z")
                                           for n in range(150)]), "produce more than 20,000 occurrences"),
        Hostile("blocks-in-the-period", ics(*[repeating(f"b{n}", "FREQ=DAILY") for n in range(20)]),
                "has more than 5000 events in the period"),
        Hostile("rdate-list", ics(vevent("rdates", "DTSTART:20260101T090000Z", "DURATION:PT1H",
                                         *["RDATE:" + ",".join("20260102T090000Z" for _ in range(100))] * 60)),
                "has more than 5,000 RDATE and EXDATE dates (the limit)"),
        Hostile("many-events", ics(*[vevent(f"e{n}", "DTSTART:20260101T090000Z") for n in range(2500)]),
                "has more than 2,000 events (the limit)"),
        Hostile("vevent-inside-vevent", ics("BEGIN:VEVENT\r\nUID:outer\r\nDTSTART:20260101T090000Z\r\n"
                                            + vevent("inner", "DTSTART:20260101T090000Z") + "END:VEVENT\r\n"),
                "BEGIN:VEVENT inside VEVENT"),
        Hostile("deep-nesting", ics("BEGIN:X-A\r\n" * 20000 + "END:X-A\r\n" * 20000), "nested deeper than 3 levels"),
        Hostile("deep-folding", ics(vevent("folded", "DTSTART:20260101T090000Z", "DESCRIPTION:a" + "\r\n b" * 5000)),
                "folded over more than 1,000 lines (the limit)"),
        Hostile("huge-line", ics(vevent("long", "DTSTART:20260101T090000Z", "DESCRIPTION:" + "x" * 900_000)),
                "longer than 65,536 characters (the limit)"),
        # The second review (issue 17, point 1 again): time zones, TZIDs and the parser's own cost.
        Hostile("tz-minutely", every("MINUTELY", "BYSECOND=30"),
                'defines the time zone "Evil/Zone" with an observance rule other than yearly within one month'),
        Hostile("tz-hourly", every("HOURLY", "BYMINUTE=30"), "an observance rule other than yearly within one month"),
        Hostile("tz-offset-beyond-a-clock", ics(vtimezone("W", ("STANDARD", "19700101T000000", "+0000>+9959", "")),
                                                zoned("w", "W")), "a UTC offset beyond ±14:00 (the limit)"),
        Hostile("tzid-300", ics(zoned("u", "A" * 300)), "a TZID longer than 100 characters (the limit)"),
        Hostile("huge-tzid", ics(zoned("u", "A" * 60_000)), "a TZID longer than 100 characters (the limit)"),
        Hostile("x-wr-timezone-300", "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:x\r\nX-WR-TIMEZONE:" + "A" * 300
                + "\r\n" + vevent("x", "DTSTART:20260302T090000", "DURATION:PT1H") + "END:VCALENDAR\r\n", blocks=1),
        Hostile("many-zones", ics(*[vtimezone(f"Z{n}", ("STANDARD", "19700101T000000", "+0100>+0100", ""))
                                    for n in range(60)]), "defines more than 50 time zones (the limit)"),
        # 4,000 events' worth of 70-value rules: icalendar took 1.5 s to parse them (7.48 s, 136 MB in all)
        Hostile("many-monthly-setpos", ics(*[repeating(f"u{n}", "FREQ=MONTHLY;BYMONTHDAY=" + ",".join(
            str(d) for d in [*range(1, 32), *range(-1, -32, -1)]) + f";BYDAY={EVERY_DAY};BYSETPOS=-31,31")
            for n in range(1900)]), "has more than 10,000 parts and values in its repeating rules (the limit)"),
        Hostile("many-parameters", ics(vevent("params", "DTSTART" + ";X-P=1" * 2000 + ":20260101T090000Z")),
                "DTSTART has more than 50 parameters (the limit)"),
    ]


def billion_laughs(levels: int = 9) -> str:
    """A YAML file whose aliases expand to 10**levels strings when anything walks it."""
    lines = ['a0: &a0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    for n in range(1, levels):
        lines.append(f"a{n}: &a{n} [" + ", ".join([f"*a{n - 1}"] * 10) + "]")
    lines.append(f"id: laughs\nversion: 1\nname: Laughs\nsteps: *a{levels - 1}")
    return "\n".join(lines) + "\n"
