"""The outcomes page's filters: a period of first doses and a protocol (a GET form: it changes nothing)."""
from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import SelectField
from wtforms.validators import Optional, ValidationError

from ..web.fields import ClinicDateField, options


class OutcomesFilterForm(FlaskForm):
    class Meta:
        csrf = False  # a GET search form changes nothing

    date_from = ClinicDateField("First dose from", validators=[Optional()])
    date_to = ClinicDateField("First dose to", validators=[Optional()])
    protocol = SelectField("Protocol", validators=[Optional()])

    def set_protocols(self, names: dict[str, str]) -> None:
        self.protocol.choices = options([("", "Every protocol"), *names.items()])

    def validate_date_to(self, field):
        if field.data and self.date_from.data and field.data < self.date_from.data:
            raise ValidationError("The end of the period must be on or after its start.")
