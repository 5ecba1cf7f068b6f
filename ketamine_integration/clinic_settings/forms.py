"""The forms of the settings kept here (features keep the forms of their own settings)."""
from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import RadioField

from ..web.fields import options
from .file_names import CHOICES


class FileNamesForm(FlaskForm):
    file_names = RadioField("What a downloaded patient document's file name carries",
                            choices=options(CHOICES.items()))
