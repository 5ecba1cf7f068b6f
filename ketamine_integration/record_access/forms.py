"""Forms: a right-of-access request a clinician records (and makes the copy of); the portal's download button."""
from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import RadioField, StringField
from wtforms.validators import InputRequired, Length, Optional

from ..web.fields import ClinicDateField, options
from .models import DELIVERIES, PORTAL_DELIVERY, REQUESTERS


class RequestForm(FlaskForm):
    requested_by = RadioField("Who asked for the record", choices=options(REQUESTERS.items()),
                              validators=[InputRequired("Choose who asked for the record.")], default="patient")
    representative_name = StringField("Personal representative's name", validators=[Optional(), Length(max=120)],
                                      description="Only when a personal representative asked, as the request names them.")
    representative_authority = StringField(
        "What makes them the patient's personal representative", validators=[Optional(), Length(max=200)],
        description="For example a health care power of attorney, or the parent of a minor; keep the document "
                    "with the request.")
    received_on = ClinicDateField("Day the request reached the clinic",
                                  validators=[InputRequired("Enter the day the request reached the clinic.")],
                                  description="The clinic answers within 30 days of it (45 CFR 164.524(b)(2)).")
    delivery = RadioField("How the copy reaches them",
                          choices=options((k, v) for k, v in DELIVERIES.items() if k != PORTAL_DELIVERY),
                          validators=[InputRequired("Choose how the copy reaches whoever asked.")])
    delivery_note = StringField("Where it goes", validators=[Optional(), Length(max=300)],
                                description="The postal or email address, or who collects it.")


class PortalDownloadForm(FlaskForm):
    """"Download my record": the CSRF token, nothing more."""
