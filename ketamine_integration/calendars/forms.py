"""Calendar forms: a new feed and the clinic's feed setting (the calendar upload: busy_times.forms)."""
from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import BooleanField, RadioField, StringField
from wtforms.validators import Length, Optional

from ..web.fields import options
from .models import CALENDAR_NAME_MAX, FEED_IDENTITY


class FeedForm(FlaskForm):
    label = StringField("Name for this feed (e.g. 'phone')", validators=[Optional(), Length(max=60)])


class FeedIdentityForm(FlaskForm):
    """The clinic's feed settings: what events say about the patient, and the calendar's name
    (the service checks them: services.save_feed_settings)."""

    identity = RadioField("What feed events say about the patient", choices=options(FEED_IDENTITY.items()),
                          description="Session type only is the default and the safe choice: a feed is copied "
                                      "to the servers of whichever calendar service reads it.")
    initials_understood = BooleanField(
        "I understand that with initials, every subscriber's calendar service (Google, Apple, Microsoft) "
        "keeps patients' initials with each session's date, time and type",
        description="Needed to choose initials: together these identify a patient's treatment (PHI) "
                    "outside the clinic.")
    # the length is checked by the service too, with the limit in its message
    calendar_name = StringField("Calendar name shown in subscribers' calendar apps",
                                validators=[Length(max=CALENDAR_NAME_MAX * 5)],
                                description="Shown on lock screens and in shared calendars, so it names neither "
                                            "the clinic nor a treatment; \"Appointments\" unless you change it.")
