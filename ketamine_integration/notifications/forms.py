"""The forms of the notifications pages: the clinic's on-call address, and a user's own settings."""
from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import RadioField, StringField
from wtforms.validators import Email, Length, Optional

from ..domain.video_links import MAX_LENGTH as ROOM_MAX_LENGTH
from ..web.fields import options
from .oncall import MAX_LENGTH

#: the daily summary: off, or at the time below
DIGEST_CHOICES = {"off": "Off", "on": "Every day at the time below"}


class OnCallForm(FlaskForm):
    oncall_email = StringField(
        "On-call email address for urgent safety alerts",
        validators=[Optional(), Email(message="Give one email address, e.g. oncall@clinic.example."),
                    Length(max=MAX_LENGTH, message=f"At most {MAX_LENGTH} characters.")],
        render_kw={"autocomplete": "off", "inputmode": "email", "spellcheck": "false"})


class AccountNotificationsForm(FlaskForm):
    digest = RadioField("Daily summary email", choices=options(DIGEST_CHOICES.items()), default="off")
    # checked by the service (a 24-hour clock time, needed when the summary is on: a pattern matched
    # whole, so any length is refused at once); a browser shows a time picker (no maxlength: HTML
    # allows none on a time input)
    digest_at = StringField("Time of the daily summary (clinic time)", render_kw={"type": "time"})
    # for those who are booked (clinicians): checked by the service as on the admin's user form
    # (https, a host, no placeholders, at most 200 characters); a far longer paste is refused here first
    video_room_url = StringField("Own video room (telehealth)",
                                 validators=[Optional(), Length(max=ROOM_MAX_LENGTH * 5)],
                                 render_kw={"autocomplete": "off", "inputmode": "url", "spellcheck": "false"})
