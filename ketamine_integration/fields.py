"""Form fields shared across blueprints, with messages a clinician can act on."""
from __future__ import annotations

from wtforms import DateField
from wtforms.fields.choices import SelectChoice


class ClinicDateField(DateField):
    """A date typed or picked as YYYY-MM-DD; a wrong format says what to type instead."""

    def process_formdata(self, valuelist):
        if not valuelist or not valuelist[0].strip():
            self.data = None  # empty: InputRequired or Optional decides, with their own words
            return
        try:
            super().process_formdata(valuelist)
        except ValueError:
            self.data = None
            raise ValueError("Enter a date as YYYY-MM-DD.") from None


def options(pairs) -> list[SelectChoice]:
    """(value, label) pairs as WTForms select choices (tuples are deprecated in WTForms 3.3)."""
    return [SelectChoice(value, label) for value, label in pairs]
