"""Conversion between stored UTC instants and the clinic's wall-clock time."""
from __future__ import annotations

from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

from flask import current_app


def clinic_zone() -> ZoneInfo:
    return ZoneInfo(current_app.config["CLINIC_TIMEZONE"])


def in_zone(value: datetime, zone: ZoneInfo) -> datetime:
    """A stored UTC instant in `zone`'s wall-clock time; a naive one (as SQLite hands columns back) is UTC."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    return value.astimezone(zone)


def to_clinic(value: datetime) -> datetime:
    return in_zone(value, clinic_zone())


def clinic_day_span(day: date) -> tuple[datetime, datetime]:
    """The instants a clinic date runs between: its midnight, and the next day's (23 or 25 hours
    apart across a change of clock)."""
    zone = clinic_zone()
    return datetime.combine(day, time(0), zone), datetime.combine(day + timedelta(days=1), time(0), zone)


def format_local(value: datetime | None, fmt: str = "%Y-%m-%d %H:%M %Z") -> str:
    """Jinja filter `localtime`: a stored UTC instant shown in the clinic's zone."""
    if value is None:
        return ""
    return to_clinic(value).strftime(fmt)


def format_local_day(value: datetime | None, *, year: bool = False, clock: bool = False) -> str:
    """Jinja filter `localday`: a stored UTC instant as the clinic's day in words, the one way the patient
    portal writes a day: "Friday 4 December" (no leading zero), with the year ("Friday 4 December 2026")
    and the time ("…, 9:05 AM") when asked."""
    if value is None:
        return ""
    local = to_clinic(value)
    words = f"{local:%A} {local.day} {local:%B}" + (f" {local.year}" if year else "")
    return f"{words}, {format_clock(local)}" if clock else words


def format_clock(value: datetime | None) -> str:
    """Jinja filter `localclock`: a stored UTC instant's clinic time as the portal writes it, "9:05 AM"."""
    if value is None:
        return ""
    return to_clinic(value).strftime("%I:%M %p").removeprefix("0")


def clinic_today(now: datetime | None = None) -> date:
    """Today's date where the clinic is (not UTC's date, which turns at 19:00 in New York)."""
    return (now or datetime.now(timezone.utc)).astimezone(clinic_zone()).date()


def format_duration(value) -> str:
    """Jinja filter `duration`: a protocol Span as words (36 hours, 14 days)."""
    return value.label
