"""Each event's UTC start and end as two parsers other than icalendar (which writes the files) read them.

vobject builds its zones from the file's VTIMEZONE (dateutil's tzical); ical.js, the parser of
Mozilla's and Nextcloud's calendars, resolves a TZID through the file's VTIMEZONE too. Both read
the zone's observances themselves, so a VTIMEZONE they misread shows here as a wrong instant.
ical.js comes from the npm registry into the git-ignored .cache/calendar-check (`make calendar-deps`,
part of `make test`); without node or the package the ical.js half skips, and under CI=true fails.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import pytest
import vobject

ROOT = Path(__file__).resolve().parents[2]
ICALJS = ROOT / ".cache" / "calendar-check" / "node_modules" / "ical.js" / "dist" / "ical.js"
SCRIPT = Path(__file__).with_name("icaljs_events.mjs")
UTC = timezone.utc


@dataclass(frozen=True)
class ReadEvent:
    starts_at: datetime
    ends_at: datetime
    #: the TZID the start was resolved in (None: UTC or floating)
    zone: str | None


def _forget_vobject_zones() -> None:
    """vobject keeps one process-wide TZID -> zone map and registers a file's VTIMEZONE only under
    a TZID not seen before (falling back to pytz for an unknown one): forgotten before each file, so
    each file is read with its own VTIMEZONE, as a client meeting it for the first time reads it."""
    registry = vars(vobject.icalendar)["__tzidMap"]
    utc = registry.get("UTC")
    registry.clear()
    registry["UTC"] = utc


def vobject_events(body: bytes | str) -> dict[str, ReadEvent]:
    text = body.decode() if isinstance(body, bytes) else body
    _forget_vobject_zones()
    calendar = vobject.readOne(text)
    found = {}
    for event in calendar.contents.get("vevent", []):
        start, end = event.dtstart.value, event.dtend.value
        assert start.tzinfo is not None, f"vobject read {event.uid.value} as a floating time"
        # a zone built from the file's VTIMEZONE is dateutil's tzical zone, which knows its TZID
        tzid = getattr(start.tzinfo, "_tzid", None)
        found[str(event.uid.value)] = ReadEvent(start.astimezone(UTC), end.astimezone(UTC), tzid)
    return found


def icaljs_available() -> str | None:
    """Why ical.js cannot run here, or None when it can."""
    if shutil.which("node") is None:
        return "node is missing (sudo apt-get install nodejs)"
    if not ICALJS.exists():
        return f"ical.js is not installed in {ICALJS.parents[2]} (make calendar-deps)"
    return None


def icaljs_events(body: bytes | str) -> dict[str, ReadEvent]:
    missing = icaljs_available()
    if missing:
        if os.environ.get("CI") == "true":
            pytest.fail(f"ical.js check cannot run: {missing}")
        pytest.skip(f"ical.js check skipped: {missing}")
    data = body if isinstance(body, bytes) else body.encode()
    done = subprocess.run(["node", str(SCRIPT), str(ICALJS)], input=data, capture_output=True, timeout=60,
                          check=False)
    assert done.returncode == 0, done.stderr.decode()
    return {item["uid"]: ReadEvent(datetime.fromtimestamp(item["start"], UTC), datetime.fromtimestamp(item["end"], UTC),
                                   None if item["zone"] in ("UTC", "floating", None) else item["zone"])
            for item in json.loads(done.stdout)}


def both_readers(body: bytes | str) -> dict[str, dict[str, ReadEvent]]:
    """{reader name: {uid: event}} for vobject and ical.js."""
    return {"vobject": vobject_events(body), "ical.js": icaljs_events(body)}
