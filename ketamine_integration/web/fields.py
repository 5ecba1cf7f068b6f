"""Form fields shared across blueprints, with messages a clinician can act on."""
from __future__ import annotations

import re
from datetime import datetime, timezone

from wtforms import DateField, DateTimeLocalField, DecimalField, IntegerField, SelectMultipleField, ValidationError
from wtforms.widgets import CheckboxInput, ListWidget
from wtforms.fields.choices import SelectChoice

from ..db.clinic_time import clinic_zone
from ..domain.text import written_length


#: years a clinical date may fall in; beyond them is a typing error (and date maths overflow)
YEARS = (1900, 2100)


#: how a date is asked for in words: a browser's date picker shows the date in its own order
#: (12/03/2026 in the US, 03/12/2026 elsewhere), so no message or hint spells out a digit order
#: it could contradict; a day named in words is read the same everywhere
DATE_EXAMPLE = "3 December 2026"
#: what a date may be typed as where no date picker shows: what pickers send, and the example's form
DATE_FORMATS = ["%Y-%m-%d", "%d %B %Y", "%d %b %Y"]


class ClinicDateField(DateField):
    """A date picked, or typed as the picker sends it (2026-12-03) or in words (3 December 2026);
    anything else is refused with an example."""

    def __init__(self, label=None, validators=None, **kwargs):
        super().__init__(label, validators, format=DATE_FORMATS, **kwargs)

    def process_formdata(self, valuelist):
        if not valuelist or not valuelist[0].strip():
            self.data = None  # empty: InputRequired or Optional decides, with their own words
            return
        try:
            super().process_formdata([" ".join(valuelist[0].split())])
        except ValueError:
            self.data = None
            raise ValueError(f"Enter a real date, for example {DATE_EXAMPLE}.") from None
        if not YEARS[0] <= self.data.year <= YEARS[1]:
            self.data = None
            raise ValueError(f"Use a year between {YEARS[0]} and {YEARS[1]}.")


#: a number as a clinician types it: ASCII digits, at most one decimal point (no exponent, no other
#: scripts' digits, no thousands of digits: "3.5e1", "٣٥" or "9"*400 are refused, not read as 35)
_DECIMAL = re.compile(r"-?[0-9]{1,9}(?:\.[0-9]{1,6})?")
_WHOLE = re.compile(r"-?[0-9]{1,9}")


def _typed_number(valuelist, pattern: re.Pattern, message: str) -> list[str]:
    """The submitted text, stripped, if it is a number typed as `pattern` says (else ValueError)."""
    if valuelist and valuelist[0].strip() and not pattern.fullmatch(valuelist[0].strip()):
        raise ValueError(message)
    return [valuelist[0].strip()] if valuelist else valuelist


class FiniteDecimalField(DecimalField):
    """A decimal number in ASCII digits; NaN, infinity, exponents and other scripts' digits are not
    numbers a clinician types."""

    def process_formdata(self, valuelist):
        try:
            valuelist = _typed_number(valuelist, _DECIMAL, "Enter a number, such as 35 or 35.5.")
        except ValueError:
            self.data = None
            raise
        super().process_formdata(valuelist)
        if self.data is not None and not self.data.is_finite():
            self.data = None
            raise ValueError("Enter a number.")


class WholeNumberField(IntegerField):
    """A whole number in ASCII digits, at most 9 of them (wtforms' IntegerField reads "٣٥" as 35,
    and a 400-digit number overflowed NumberRange's float check into a server error)."""

    def process_formdata(self, valuelist):
        try:
            valuelist = _typed_number(valuelist, _WHOLE, "Enter a whole number, such as 120.")
        except ValueError:
            self.data = None
            raise
        super().process_formdata(valuelist)


class ClinicDateTimeField(DateTimeLocalField):
    """A date and time typed in the clinic's time zone; `data` is the aware UTC instant.

    A wall-clock time that does not exist there (the hour skipped when clocks go forward)
    is refused rather than silently moved; in the hour repeated when clocks go back, the
    first occurrence is meant.
    """

    def __init__(self, label=None, validators=None, **kwargs):
        super().__init__(label, validators, format=["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M", "%d %B %Y %H:%M",
                                                    "%d %b %Y %H:%M"], **kwargs)

    def process_formdata(self, valuelist):
        if not valuelist or not valuelist[0].strip():
            self.data = None
            return
        try:
            super().process_formdata(valuelist)
        except ValueError:
            self.data = None
            raise ValueError(f"Enter a real date and time, for example {DATE_EXAMPLE} 14:30.") from None
        if not YEARS[0] <= self.data.year <= YEARS[1]:
            self.data = None
            raise ValueError(f"Use a year between {YEARS[0]} and {YEARS[1]}.")
        zone = clinic_zone()
        local = self.data.replace(tzinfo=zone)
        instant = local.astimezone(timezone.utc)
        if instant.astimezone(zone).replace(tzinfo=None) != self.data:
            self.data = None
            raise ValueError(f"{local:%Y-%m-%d %H:%M} does not exist in {zone.key}: the clocks "
                             "moved forward that night. Enter the time as the clock showed it.")
        self.data = instant

    def _value(self):
        # Values from the database are UTC; the form shows clinic wall-clock time.
        if self.raw_data:
            return " ".join(self.raw_data)
        if isinstance(self.data, datetime):
            shown = self.data.astimezone(clinic_zone()) if self.data.tzinfo else self.data
            return shown.strftime("%Y-%m-%dT%H:%M")
        return ""


def options(pairs) -> list[SelectChoice]:
    """(value, label) pairs as WTForms select choices (tuples are deprecated in WTForms 3.3)."""
    return [SelectChoice(value, label) for value, label in pairs]


class MultiCheckboxField(SelectMultipleField):
    """Several choices as a list of checkboxes (the form macro renders it in a fieldset)."""

    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


class WrittenAtLeast:
    """A minimum length of free text that counts what was written, not spaces (wtforms' Length
    counts padding: "ok        ." passed a 10-character minimum). The browser gets the minimum
    as `minlength`; the form and the service check it this way."""

    def __init__(self, minimum: int, message: str | None = None):
        self.minimum = minimum
        self.message = message or f"Write at least {minimum} characters (spaces do not count)."
        self.field_flags = {"minlength": minimum}

    def __call__(self, form, field) -> None:
        if written_length(field.data) < self.minimum:
            raise ValidationError(self.message)



def number_controls(rows, noun: str) -> None:
    """Label the controls of each row of a FieldList of FormFields "<noun> <n>: <label>" ("Objective 2:
    by when"): rows of identical labels read as one list of the same names to a screen reader and to
    voice control. Call it once per form, after its last row is added."""
    for n, row in enumerate(rows, 1):
        for control in row.form:
            if control.type != "HiddenField":
                text = control.label.text
                control.label.text = f"{noun} {n}: {text[:1].lower()}{text[1:]}"
