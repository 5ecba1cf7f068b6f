"""The clinic's reminder settings: per kind of session when reminders go and by which channels,
and for all of them the quiet hours, the sender name, the address and the phone to cancel on.

The times and wording rules are domain.reminders'; this module reads and saves them (the kinds'
rows in reminder_rules, the rest as clinic_settings keys) and turns a ValueError into the field's
message. Whatever a reminder carries is checked against domain.reminders.CLINICAL_TERMS here,
when it is saved, and again when a message is built."""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import select

from ..bookings.models import KINDS
from ..clinic_settings.contact import PHONE_KEY
from ..clinic_settings.models import ClinicSetting
from ..db.errors import DomainError
from ..db.locking import locked_row
from ..domain.reminders import (
    CHANNELS, QuietHours, clinical_words_in, discreet_name, format_offsets, parse_offsets, parse_quiet_hours,
)
from ..extensions import db
from .models import ReminderRule

#: clinic_settings keys this feature owns -> their built-in default ("" for the sender: the
#: clinic's name with clinical words taken out, discreet_name)
KEYS = {"reminder_sender": "", "reminder_quiet_hours": "21:00-08:00", "clinic_address": "", PHONE_KEY: ""}
#: a kind's reminders until the admin sets them: two days and two hours before, by email and SMS
#: (each still needs the patient's consent on that channel)
DEFAULT_OFFSETS = "48h, 2h"
DEFAULT_CHANNELS = ("email", "sms")
#: longest quiet span: beyond it a reminder would be pushed far from the moment the clinic chose
MAX_QUIET = timedelta(hours=12)
LIMITS = {"sender": 60, "clinic_address": 200, "clinic_phone": 32, "wording": 60}
_PHONE = re.compile(r"[0-9+()\-. ]{3,32}")


@dataclass(frozen=True)
class KindRule:
    offsets: list[timedelta]
    channels: tuple[str, ...]
    #: None: domain.reminders.DEFAULT_WORDING
    wording: str | None = None


@dataclass(frozen=True)
class ReminderSettings:
    sender: str
    quiet_hours_text: str
    clinic_address: str
    clinic_phone: str
    rules: dict[str, KindRule] = field(default_factory=dict)

    @property
    def quiet_hours(self) -> QuietHours:
        return parse_quiet_hours(self.quiet_hours_text)


def reminder_settings() -> ReminderSettings:
    """What the clinic set (the defaults where it set nothing): two queries."""
    stored = dict(db.session.execute(select(ClinicSetting.key, ClinicSetting.value)
                                     .where(ClinicSetting.key.in_(KEYS))).all())
    values = {key: stored.get(key, default) for key, default in KEYS.items()}
    rows = {row.kind: row for row in db.session.scalars(select(ReminderRule))}
    rules = {kind: (KindRule(parse_offsets(rows[kind].offsets), tuple(c for c in rows[kind].channels.split(",") if c),
                             rows[kind].wording) if kind in rows
                    else KindRule(parse_offsets(DEFAULT_OFFSETS), DEFAULT_CHANNELS))
             for kind in KINDS}
    return ReminderSettings(sender=values["reminder_sender"] or discreet_name(current_app.config["CLINIC_NAME"]),
                            quiet_hours_text=values["reminder_quiet_hours"], clinic_address=values["clinic_address"],
                            clinic_phone=values[PHONE_KEY], rules=rules)


def _discreet(field_name: str, text: str, errors: dict, what: str) -> None:
    found = clinical_words_in(text)
    if found:
        words = ", ".join(f"“{w}”" for w in dict.fromkeys(found))
        errors[field_name] = f"{what} is read by whoever sees the patient's phone or mailbox: remove {words}."


def _too_long(field_name: str, text: str, errors: dict) -> bool:
    if len(text) > LIMITS[field_name.rsplit("-", 1)[-1]]:
        errors[field_name] = f"At most {LIMITS[field_name.rsplit('-', 1)[-1]]} characters."
        return True
    return False


def _check_general(values: dict, errors: dict) -> None:
    sender = " ".join((values.get("sender") or "").split())
    if not sender:
        errors["sender"] = "Give the name reminders are sent by."
    elif not _too_long("sender", sender, errors):
        _discreet("sender", sender, errors, "The sender name")
    try:
        quiet = parse_quiet_hours(values.get("quiet_hours") or "")
    except ValueError as err:
        errors["quiet_hours"] = str(err)
    else:
        day = datetime.min
        span = (datetime.combine(day, quiet.end) - datetime.combine(day, quiet.start)) % timedelta(days=1)
        if span > MAX_QUIET:
            errors["quiet_hours"] = "Quiet hours may last at most 12 hours."
    address = " ".join((values.get("clinic_address") or "").split())
    if not _too_long("clinic_address", address, errors):
        _discreet("clinic_address", address, errors, "The address")
    phone = (values.get("clinic_phone") or "").strip()
    if phone and not _PHONE.fullmatch(phone):
        errors["clinic_phone"] = "Write a phone number: digits, spaces, + ( ) - and dots only."


def _check_offsets(kind: str, text: str, errors: dict) -> list[timedelta] | None:
    try:
        return parse_offsets(text or "")
    except ValueError as err:
        errors[f"{kind}-offsets"] = str(err)
        return None


def _check_channels(kind: str, offsets: list[timedelta] | None, chosen, errors: dict) -> tuple[str, ...]:
    """The chosen channels in CHANNELS order; times without a channel, or channels without times, are refused."""
    channels = tuple(c for c in CHANNELS if c in (chosen or ()))
    if set(chosen or ()) - set(CHANNELS):
        errors[f"{kind}-channels"] = "Choose email, text message, or both."
    elif offsets and not channels:
        errors[f"{kind}-channels"] = "Choose how these reminders go, or leave the times empty for none."
    elif offsets == [] and channels:
        errors[f"{kind}-offsets"] = "Give when reminders go (e.g. 48h, 2h), or untick the channels for none."
    return channels


def _check_kind(kind: str, rule: dict, errors: dict) -> KindRule | None:
    offsets = _check_offsets(kind, rule.get("offsets"), errors)
    channels = _check_channels(kind, offsets, rule.get("channels"), errors)
    wording = " ".join((rule.get("wording") or "").split())
    if not _too_long(f"{kind}-wording", wording, errors):
        _discreet(f"{kind}-wording", wording, errors, "The wording")
    return None if offsets is None else KindRule(offsets, channels, wording or None)


def save_reminder_settings(values: dict, *, by_id: int) -> None:
    """Check every field, then save all of them, or raise DomainError naming each field that is wrong.

    values: sender, quiet_hours, clinic_address, clinic_phone, and rules: {kind: {offsets, channels, wording}}."""
    errors: dict[str, str] = {}
    _check_general(values, errors)
    rules = {kind: _check_kind(kind, (values.get("rules") or {}).get(kind) or {}, errors) for kind in KINDS}
    if errors:
        raise DomainError(errors)
    general = {"reminder_sender": " ".join(values["sender"].split()),
               "reminder_quiet_hours": (values.get("quiet_hours") or "").strip(),
               "clinic_address": " ".join((values.get("clinic_address") or "").split()),
               PHONE_KEY: (values.get("clinic_phone") or "").strip()}
    for key, value in general.items():
        row = locked_row(ClinicSetting, key, lambda: ClinicSetting(key=key, value=value, updated_by_id=by_id))
        row.value, row.updated_by_id = value, by_id
    for kind, rule in rules.items():
        stored = dict(offsets=format_offsets(rule.offsets), channels=",".join(rule.channels), wording=rule.wording)
        row = locked_row(ReminderRule, kind, lambda: ReminderRule(kind=kind, updated_by_id=by_id, **stored))
        row.offsets, row.channels, row.wording, row.updated_by_id = (stored["offsets"], stored["channels"],
                                                                     stored["wording"], by_id)
    db.session.flush()
