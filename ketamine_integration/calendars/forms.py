"""Calendar forms: a new feed, the clinic's feed setting, and a calendar upload."""
from __future__ import annotations

from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import RadioField, StringField
from wtforms.validators import Length, Optional

from ..web.fields import options
from .models import FEED_IDENTITY


class FeedForm(FlaskForm):
    label = StringField("Name for this feed (e.g. 'phone')", validators=[Optional(), Length(max=60)])


class FeedIdentityForm(FlaskForm):
    identity = RadioField("What feed events say about the patient", choices=options(FEED_IDENTITY.items()))


class CalendarImportForm(FlaskForm):
    calendar_file = FileField("Calendar export (.ics)", validators=[FileRequired("Choose an .ics file to upload.")],
                              description="Replaces any earlier upload. Only the times are kept, never the "
                                          "events' titles or details.")
