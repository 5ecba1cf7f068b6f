"""The video link of a telehealth session (video_link, the one function reminders and invitations
call) and the clinic's settings behind it (a clinician's own room is kept and checked by accounts).
Services flush; views commit."""
from __future__ import annotations

from collections.abc import Iterable

from blinker import Namespace
from sqlalchemy import select

from ..bookings.models import CANCELLED, Appointment
from ..clinic_settings.models import ClinicSetting
from ..db.errors import DomainError
from ..db.locking import locked_row
from ..domain import video_links
from ..domain.video_links import BadVideoAddress
from ..extensions import db

TEMPLATE_KEY = "video_template"
IN_FEEDS_KEY = "video_in_feeds"
TELEHEALTH = "telehealth"

signals = Namespace()
#: sent (sender None) after the clinic's template changed, inside the transaction: the waiting
#: reminders and invitations of sessions whose link comes from it are rebuilt (reminders.follow)
template_changed = signals.signal("video-template-changed")


# -- settings ---------------------------------------------------------------------------

def _setting(key: str) -> str | None:
    return db.session.scalar(select(ClinicSetting.value).where(ClinicSetting.key == key))


def _store(key: str, value: str, by_id: int) -> None:
    row = locked_row(ClinicSetting, key, lambda: ClinicSetting(key=key, value=value, updated_by_id=by_id))
    row.value, row.updated_by_id = value, by_id


def clinic_template() -> str | None:
    """The clinic's address template ("" or absent: none set)."""
    return _setting(TEMPLATE_KEY) or None


def links_in_feeds() -> bool:
    """Whether calendar feeds and .ics invitations carry video links: off unless the admin turns it
    on (a feed is read without a login wherever its address went; a link there is a seat in the session)."""
    return _setting(IN_FEEDS_KEY) == "on"


def save_settings(*, template: str, in_feeds: bool, by_id: int) -> None:
    """Store the template (checked; empty: none) and the feeds choice. Raises DomainError on the field."""
    template = (template or "").strip()
    if template:
        try:
            template = video_links.check_template(template)
        except BadVideoAddress as bad:
            raise DomainError({"template": str(bad)}) from None
    changed = template != (clinic_template() or "")
    _store(TEMPLATE_KEY, template, by_id)
    _store(IN_FEEDS_KEY, "on" if in_feeds else "off", by_id)
    db.session.flush()
    if changed:
        template_changed.send(None)


# -- links ------------------------------------------------------------------------------

def _link(appointment: Appointment, template: str | None) -> str | None:
    clinician = appointment.clinician
    return video_links.video_link(
        telehealth=appointment.modality == TELEHEALTH, token=appointment.video_token,
        room_url=clinician.video_room_url, template=template,
        clinician_slug=video_links.clinician_slug(clinician.full_name, clinician.id))


def video_link(appointment: Appointment) -> str | None:
    """The video link of a telehealth session: the clinician's own room, else the clinic's template
    filled in with the session's code; None in person, cancelled, or with neither set."""
    if appointment.modality != TELEHEALTH or appointment.status == CANCELLED:
        return None
    return _link(appointment, None if appointment.clinician.video_room_url else clinic_template())


def row_link(row, template: str | None) -> str | None:
    """The link of a session read as columns (calendars' event rows: modality, status, video_token,
    clinician_id, clinician, video_room_url), with the clinic's template read once by the caller."""
    if row.status == CANCELLED:
        return None
    return video_links.video_link(telehealth=row.modality == TELEHEALTH, token=row.video_token,
                                  room_url=row.video_room_url, template=template,
                                  clinician_slug=video_links.clinician_slug(row.clinician, row.clinician_id))


def video_links_of(appointments: Iterable[Appointment], *, viewer_id: int | None = None) -> dict[int, str]:
    """By appointment id, the links of the sessions among `appointments` that have one (of
    `viewer_id`'s own sessions only, when given: a page shows a link to the session's clinician).
    The template is read once, and only when a session needs it."""
    wanted = [a for a in appointments if a.modality == TELEHEALTH and a.status != CANCELLED
              and (viewer_id is None or a.clinician_id == viewer_id)]
    if not wanted:
        return {}
    template = clinic_template() if any(not a.clinician.video_room_url for a in wanted) else None
    links = {a.id: _link(a, template) for a in wanted}
    return {key: link for key, link in links.items() if link}
