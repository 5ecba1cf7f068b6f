"""The clinic's phone number: a clinic_settings key the admin sets on the reminder settings page
(`/settings/reminders`, checked there: digits, spaces, + ( ) - and dots), read by the reminders that
give it and by the crisis page a patient sees after an answer that raises a safety alert."""
from __future__ import annotations

from sqlalchemy import select

from ..extensions import db
from .models import ClinicSetting

PHONE_KEY = "clinic_phone"


def clinic_phone() -> str:
    """The clinic's phone number as the admin wrote it ("" when none is set)."""
    return db.session.scalar(select(ClinicSetting.value).where(ClinicSetting.key == PHONE_KEY)) or ""
