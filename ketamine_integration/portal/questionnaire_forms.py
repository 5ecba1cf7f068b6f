"""The portal's questionnaire forms: one per measure of the registry, its items as radio groups with
the published wording and answers of the registry entry, and the difficulty question when the
measure has one.

The forms check no answer themselves: the patient's service (notes/patient_responses.py) checks
every one against the registry and words each reason for the patient, so a page shows one set of
reasons, in the patient's words, whatever was sent.
"""
from __future__ import annotations

import re
from functools import lru_cache

from flask_wtf import FlaskForm
from wtforms import RadioField
from wtforms.validators import Optional

from ..domain.measure_model import Item, Measure
from ..domain.measures import MEASURES
from ..web.fields import options


def _skip(measure: Measure, item: Item) -> tuple[list[tuple[str, str]], str]:
    """For an item asked only after another's answer: the "Skipped" answer (chosen until it is asked,
    and choosable again: a radio button cannot be cleared), and a hint saying when to answer it."""
    if item.asked_if is None:
        return [], ""
    after, values = item.asked_if
    answers = " or ".join(o.label for o in measure.items[after - 1].options if o.value in values)
    return [("", f"Skipped (I did not answer {answers} to question {after})")], \
        f"Answer this only if you answered {answers} to question {after}; otherwise leave “Skipped”."


@lru_cache(maxsize=None)
def questionnaire_form_class(measure_key: str) -> type[FlaskForm]:
    """The form of this measure (one class per measure, made once)."""
    measure = MEASURES[measure_key]
    fields = {}
    for n, item in enumerate(measure.items, 1):
        skipped, hint = _skip(measure, item)
        fields[f"item{n}"] = RadioField(f"{n}. {item.text}",
                                        choices=options(skipped + [(str(o.value), o.label) for o in item.options]),
                                        default="" if skipped else None, validate_choice=False,
                                        validators=[Optional()], description=hint)
    if measure.difficulty_question:
        fields["difficulty"] = RadioField(measure.difficulty_question, choices=options(measure.difficulty_options),
                                          validate_choice=False, validators=[Optional()])
    return type(f"Portal{re.sub(r'[^A-Za-z0-9]', '', measure.name)}Form", (FlaskForm,), fields)


def answers_of(form: FlaskForm, measure: Measure) -> list:
    """The submitted answers in item order, as the service takes them (None: left empty)."""
    return [form[f"item{n}"].data for n in range(1, len(measure.items) + 1)]


def difficulty_of(form: FlaskForm) -> str | None:
    return form.difficulty.data or None if "difficulty" in form else None
