"""Calendar forms: a new feed and the clinic's feed setting (the calendar upload: busy_times.forms)."""
from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import RadioField, StringField
from wtforms.validators import Length, Optional

from ..web.fields import options
from .models import FEED_IDENTITY


class FeedForm(FlaskForm):
    label = StringField("Name for this feed (e.g. 'phone')", validators=[Optional(), Length(max=60)])


class FeedIdentityForm(FlaskForm):
    identity = RadioField("What feed events say about the patient", choices=options(FEED_IDENTITY.items()))
