"""Conversion between stored UTC instants and the clinic's wall-clock time."""
from __future__ import annotations

from datetime import datetime, timezone
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
