"""Conversion between stored UTC instants and the clinic's wall-clock time."""
from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

from flask import current_app


def clinic_zone() -> ZoneInfo:
    return ZoneInfo(current_app.config["CLINIC_TIMEZONE"])


def to_clinic(value: datetime) -> datetime:
    return value.astimezone(clinic_zone())


def format_local(value: datetime | None, fmt: str = "%Y-%m-%d %H:%M %Z") -> str:
    """Jinja filter `localtime`: a stored UTC instant shown in the clinic's zone."""
    if value is None:
        return ""
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    return to_clinic(value).strftime(fmt)


def clinic_today(now: datetime | None = None) -> date:
    """Today's date where the clinic is (not UTC's date, which turns at 19:00 in New York)."""
    return (now or datetime.now(timezone.utc)).astimezone(clinic_zone()).date()


def format_duration(value: timedelta) -> str:
    """Jinja filter `duration`: 36 hours, 3 days, 14 days."""
    hours = value.total_seconds() / 3600
    if hours % 24 == 0 and hours >= 48:
        return f"{int(hours // 24)} days"
    return f"{hours:g} hours"
