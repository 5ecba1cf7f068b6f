"""A user's own notification settings: whether and when their daily summary comes, and, for a
clinician, their own video room. Services flush; the view commits."""
from __future__ import annotations

from datetime import datetime

from ..accounts.events import video_room_changed
from ..accounts.models import User
from ..db.clinic_time import clinic_zone
from ..db.errors import DomainError
from ..domain.staff_messages import digest_moment, parse_clock
from ..domain.video_links import BadVideoAddress, check_room_url
from ..extensions import db

#: a video room is a setting of those who are booked for sessions (clinicians)
ROOM_PERMISSION = "schedule.bookable"


def keeps_a_room(user: User) -> bool:
    return user.can(ROOM_PERMISSION)


def save_own_settings(user: User, *, digest_on: bool, digest_at: str | None, video_room_url: str | None,
                      now: datetime) -> str:
    """Keep the user's choices, or raise DomainError on the fields (nothing kept). A summary time
    already past today starts tomorrow: the first summary is never sent the moment it is turned on.
    video_room_url None: not asked (the user keeps no room). Returns the audit row's detail (no
    address in it)."""
    errors, at, room = {}, None, user.video_room_url
    if digest_on:
        try:
            at = parse_clock(digest_at or "")
        except ValueError as bad:
            errors["digest_at"] = str(bad)
    if video_room_url is not None:
        try:
            room = check_room_url(video_room_url) if video_room_url.strip() else None
        except BadVideoAddress as bad:
            errors["video_room_url"] = str(bad)
    if errors:
        raise DomainError(errors)
    user.digest_at = at
    if at is not None:
        zone = clinic_zone()
        today = now.astimezone(zone).date()
        if now >= digest_moment(today, at, zone):
            user.digest_last_day = today
    detail = f"daily summary {'at ' + at.strftime('%H:%M') if at else 'off'}"
    if video_room_url is not None:
        detail += _keep_room(user, room)
    db.session.flush()
    return detail


def _keep_room(user: User, room: str | None) -> str:
    """Keep the user's room; the audit detail's part (no address in it)."""
    if room != user.video_room_url:
        user.video_room_url = room
        db.session.flush()
        video_room_changed.send(user.id)  # the waiting reminders of their sessions carry the new link
    return f"; own video room {'set' if room else 'none'}"
