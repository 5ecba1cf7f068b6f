"""The clinic's on-call address: where every urgent safety alert is emailed at once, beside the
patient's clinicians (a clinic_settings key; none until the admin sets one). Services flush."""
from __future__ import annotations

from sqlalchemy import select

from ..clinic_settings.models import ClinicSetting
from ..db.locking import locked_row
from ..extensions import db

KEY = "oncall_email"
#: the clinic_settings column holds 200 characters
MAX_LENGTH = 200


def oncall_address() -> str | None:
    """The on-call address, or None when the admin has set none (or cleared it)."""
    return db.session.scalar(select(ClinicSetting.value).where(ClinicSetting.key == KEY)) or None


def save_oncall_address(address: str | None, *, by_id: int) -> None:
    """Keep the address (checked by the form: one email address); empty clears it."""
    value = (address or "").strip()
    row = locked_row(ClinicSetting, KEY, lambda: ClinicSetting(key=KEY, value=value, updated_by_id=by_id))
    row.value, row.updated_by_id = value, by_id
    db.session.flush()
