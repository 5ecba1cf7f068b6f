"""The telehealth settings form (a clinician's own room is a field of the user form, accounts.forms)."""
from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import BooleanField, StringField
from wtforms.validators import Length, Optional

from ..domain.video_links import MAX_LENGTH


class TelehealthSettingsForm(FlaskForm):
    # the length is checked by the service too (with the count in its message); a far longer paste
    # is refused here before it is parsed
    template = StringField("Clinic video address template", validators=[Optional(), Length(max=MAX_LENGTH * 5)],
                           render_kw={"autocomplete": "off", "inputmode": "url", "spellcheck": "false"})
    in_feeds = BooleanField("Put video links in calendar feeds",
                            description="Off by default. Feed addresses are read without signing in, by "
                                        "whichever calendar service or device holds them: a link there lets "
                                        "anyone holding the feed into the session. The clinician's invitation "
                                        "download (.ics) follows this setting too; a patient's own invitation "
                                        "and reminders always carry the link.")
