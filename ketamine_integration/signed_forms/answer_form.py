"""The answer form of an intake or consent form (issue 26, point 3): one WTForms class per form
version, built from its FormDefinition (domain/form_definitions.py), and the answers it submits in
the shape the domain checks (domain/form_answers.py: check_answers).

The form bounds what it reads (a text answer's length, the medication rows, the typed name) and
refuses characters a signed document must not hold; it judges no answer itself. Whether a required
question is answered, whether a key is one of the question's options, whether the typed name is the
patient's: the domain decides, and `show_problems` puts its messages on the fields, so a page shows
one set of reasons in one wording whatever was sent. Required questions are still marked (the
`required` flag: the words on the page and the attribute on the control).

Fields are named by question id (`form.answer_field(question_id)` finds one; an id that is also the
name of a form attribute, such as "data" or "errors", gets a field name of its own). Construct the
form with a prefix (`cls(prefix="intake")`) where another form on the page could repeat its ids.

A form with a medication list offers MEDICATION_ROWS rows, blank ones kept after those filled in,
and an "Add more medication rows" button: when `form.adding_rows`, the view shows the form again
(with more rows) and signs nothing.
"""
from __future__ import annotations

import re
from collections.abc import Mapping

from flask_wtf import FlaskForm
from wtforms import BooleanField, FieldList, Form, FormField, RadioField, StringField, SubmitField, TextAreaField
from wtforms.validators import Length, Optional, ValidationError

from ..accounts.forms import refused_character, shown_text
from ..domain.form_answers import (MAX_MEDICATION_CELL, MAX_MEDICATIONS, MAX_PHONE, MAX_SHORT_TEXT, MAX_TEXT,
                                   MEDICATION_CELLS)
from ..domain.form_definitions import YES_NO, FormDefinition, Question, paragraphs
from ..web.fields import ClinicDateField, MultiCheckboxField, number_controls, options

#: medication rows a form offers at first, and the blank ones kept after those filled in (or added
#: by "Add more medication rows"), up to MAX_MEDICATIONS
MEDICATION_ROWS = 8
SPARE_MEDICATION_ROWS = 4
#: the patient's given and family names (80 characters each), with room for spaces typed between
MAX_TYPED_NAME = 200
TYPED_NAME_LABEL = "Type your full name"
TYPED_NAME_HINT = "Your first and last name as your clinic has them: typing it signs this form."
MORE_ROWS_LABEL = "Add more medication rows"
#: classes kept (one per form version seen: the library holds a few dozen)
CLASS_CACHE_SIZE = 64


class MarkedRequired:
    """Marks a field required (the page says so, the control carries `required`) without judging it:
    the domain words the refusal (domain/form_answers.check_answers, services.sign_form)."""

    field_flags = {"required": True}

    def __call__(self, form, field) -> None:
        return None


def answer_characters(form, field) -> None:
    """Text a signed document holds as written: line breaks and tabs, but none of the characters no
    printed document holds (control characters, bidirectional controls, ...: accounts.forms)."""
    if any(refused_character(c) for c in field.data or "" if c not in "\n\t"):
        raise ValidationError("Use letters, digits, spaces, line breaks and punctuation only: no control characters.")


class AnswerTextField(TextAreaField):
    """A text answer; browsers send a line break as CR LF, kept here (and counted) as one."""

    def process_formdata(self, valuelist):
        if valuelist:
            valuelist = [valuelist[0].replace("\r\n", "\n").replace("\r", "\n")]
        super().process_formdata(valuelist)


def _limit(limit: int) -> Length:
    return Length(max=limit, message=f"Write at most {limit:,} characters.")


def _row_checks() -> list:
    return [Optional(), _limit(MAX_MEDICATION_CELL), shown_text]


class MedicationRowForm(Form):
    """One medication: its name, dose and how often (the name is required in a row: the domain)."""

    name = StringField("Name", validators=_row_checks())
    dose = StringField("Dose", validators=_row_checks())
    how_often = StringField("How often", validators=_row_checks())


class AnswerForm(FlaskForm):
    """What every answer form does; each form version's subclass has the questions' fields, then the
    typed name (and, for a consent, `agreed`), in that order."""

    #: the form version this class was built from
    definition: FormDefinition
    #: question id -> the field's name (the id itself but for a name the form already uses)
    question_fields: Mapping[str, str] = {}
    max_medication_rows = MAX_MEDICATIONS
    #: a section's words as the template shows them, paragraph by paragraph
    paragraphs = staticmethod(paragraphs)

    def process(self, formdata=None, obj=None, data=None, extra_filters=None, **kwargs):
        super().process(formdata, obj, data, extra_filters, **kwargs)
        for question in self.definition.questions:
            if question.type == "medication_list":
                self._offer_rows(self.answer_field(question.id), self.adding_rows)

    @staticmethod
    def _offer_rows(rows: FieldList, adding: bool) -> None:
        """Blank rows after the filled ones (more when the patient asked for them), numbered
        "Medication 2: dose" for a screen reader and voice control."""
        filled = sum(1 for entry in rows.entries if any(_cells(entry.data).values()))
        wanted = max(MEDICATION_ROWS, filled + SPARE_MEDICATION_ROWS,
                     len(rows.entries) + (MEDICATION_ROWS if adding else 0))
        while len(rows.entries) < min(wanted, MAX_MEDICATIONS):
            rows.append_entry()
        number_controls(rows, "Medication")

    @property
    def id_prefix(self) -> str:
        """What the form's field ids start with ("" or "intake-"): the template's own ids start so too."""
        return self._prefix

    @property
    def adding_rows(self) -> bool:
        """The patient pressed "Add more medication rows": show the form again, sign nothing."""
        return "more_rows" in self and bool(self.more_rows.data)

    @staticmethod
    def problem_line(label: str, message: str) -> str:
        """A line of the error summary: "Their phone number: Answer this question."; a label's own full
        stop or colon dropped ("…questions.: Answer" read badly), a question's mark kept ("Are you
        pregnant? Answer this question.")."""
        label = label.strip().rstrip(".:").rstrip()
        return f"{label} {message}" if label.endswith("?") else f"{label}: {message}"

    def answer_field(self, question_id: str):
        return self[self.question_fields[question_id]]

    def raw_answers(self) -> dict:
        """The answers as the domain takes them (question id -> value), unanswered ones absent."""
        answers = {}
        for question in self.definition.questions:
            value = _answer_value(question, self.answer_field(question.id))
            if value not in (None, "", []):
                answers[question.id] = value
        return answers

    def show_problems(self, problems: Mapping[str, str]) -> list[str]:
        """Put the domain's messages on their fields: by question id, "typed_name", "agreed", or a
        medication row's cell ("current_medications-1-name": the second row). The others ("", an
        unknown key) are the form's own; returns those."""
        general = []
        for key, message in problems.items():
            field, rows = self._problem_field(key)
            if field is None:
                general.append(message)
                continue
            field.errors = list(field.errors) + [message]
            if rows is not None:   # the list's errors are its rows', refreshed (db.errors.DomainError.apply_to)
                rows.errors = [entry.errors for entry in rows.entries]
        if general:
            self.form_errors = list(self.form_errors) + general
        return general

    def _problem_field(self, key: str) -> tuple:
        """(the field a problem's key names or None, the medication list holding it or None)."""
        if key in self.question_fields:
            return self.answer_field(key), None
        if key in ("typed_name", "agreed") and key in self:
            return self[key], None
        for question in self.definition.questions:
            if question.type == "medication_list" and key.startswith(f"{question.id}-"):
                place, _, part = key.removeprefix(f"{question.id}-").partition("-")
                rows = self.answer_field(question.id)
                if place.isdecimal() and int(place) < len(rows.entries) and part in MEDICATION_CELLS:
                    return rows.entries[int(place)].form[part], rows
        return None, None


def _cells(row: Mapping) -> dict:
    return {cell: (row.get(cell) or "").strip() for cell in MEDICATION_CELLS}


def _medication_rows(question: Question, field) -> list[dict]:
    """The rows as the form shows them, up to the last one filled in: an empty row between two
    medications stays (the domain drops it), so the domain's "Row 4" is the form's "Medication 4"."""
    rows = [_cells(entry.data) for entry in field.entries]
    while rows and not any(rows[-1].values()):
        rows.pop()
    return rows


def _chosen(question: Question, field):
    """A choice's key, or its keys in the order sent, each once, when it takes several."""
    if question.multiple:
        return list(dict.fromkeys(value for value in field.data or () if value))
    return field.data or None


#: question type -> a field's submitted value in the answers' shape (text, a key or keys, an ISO date, rows)
_ANSWER_VALUES = {
    "text": lambda question, field: (field.data or "").strip(),
    "short_text": lambda question, field: (field.data or "").strip(),
    "phone": lambda question, field: (field.data or "").strip(),
    "yes_no": lambda question, field: field.data or None,
    "choice": _chosen,
    "date": lambda question, field: field.data.isoformat() if field.data else None,
    "medication_list": _medication_rows,
}


def _answer_value(question: Question, field):
    return _ANSWER_VALUES[question.type](question, field)


def _question_field(question: Question):
    """The field a question's type asks for, labelled with its words and described by its help."""
    checks = [MarkedRequired()] if question.required else [Optional()]
    common = {"label": question.label, "description": question.help}
    if question.type == "text":
        return AnswerTextField(validators=checks + [_limit(MAX_TEXT), answer_characters], **common)
    if question.type == "short_text":
        # one line; the browser stops at the limit (maxlength), the form and the domain refuse past it
        return StringField(validators=checks + [_limit(MAX_SHORT_TEXT), shown_text],
                           render_kw={"maxlength": MAX_SHORT_TEXT}, **common)
    if question.type == "phone":
        # the phone's number keypad (type=tel) and the browser's own number offered (autocomplete=tel)
        return StringField(validators=checks + [_limit(MAX_PHONE), shown_text],
                           render_kw={"type": "tel", "autocomplete": "tel", "maxlength": MAX_PHONE,
                                      "inputmode": "tel"}, **common)
    if question.type == "date":
        return ClinicDateField(validators=checks, **common)
    if question.type == "medication_list":
        # no min_entries: WTForms pads with rows read from the form data at renumbered places, which
        # repeated a row sent as "-3-" after one sent as "-0-"; AnswerForm.process adds blank ones
        # and no Optional(): it would clear the rows' own errors. One row past the limit is read (the
        # list stays bounded) so that the domain refuses a list too long, rather than the form cutting it
        return FieldList(FormField(MedicationRowForm), validators=checks if question.required else [],
                         max_entries=MAX_MEDICATIONS + 1, **common)
    pairs = [(key, key.capitalize()) for key in YES_NO] if question.type == "yes_no" \
        else [(o.key, o.label) for o in question.options]
    # an option outside the list is the domain's to refuse, in its words
    kind = MultiCheckboxField if question.multiple else RadioField
    return kind(choices=options(pairs), validate_choice=False, validators=checks, **common)


#: attribute names a question's field may not take (the form's own: data, errors, validate, ...)
_TAKEN = frozenset(dir(AnswerForm)) | {"typed_name", "agreed", "more_rows", "csrf_token"}


def _field_names(form: FormDefinition) -> dict[str, str]:
    """Each question's field name: its id, unless the form has that name already; then one that is
    neither the form's nor another question's id."""
    ids = {q.id for q in form.questions}
    names, used = {}, _TAKEN | ids
    for question in form.questions:
        name = question.id
        if name in _TAKEN:
            while name in used:
                name = f"{name}_answer"
            used |= {name}
        names[question.id] = name
    return names


def _build(form: FormDefinition) -> type[AnswerForm]:
    names = _field_names(form)
    fields = {names[q.id]: _question_field(q) for q in form.questions}
    if any(q.type == "medication_list" for q in form.questions):
        fields["more_rows"] = SubmitField(MORE_ROWS_LABEL)
    # the agreement before the typed name, as the page shows them: WTForms orders fields by when they
    # were made, and the error summary lists them in that order (the page's)
    if form.consent is not None:
        fields["agreed"] = BooleanField(form.consent.agreement, validators=[MarkedRequired()])
    fields["typed_name"] = StringField(TYPED_NAME_LABEL, validators=[MarkedRequired(), _limit(MAX_TYPED_NAME),
                                                                      shown_text],
                                       description=TYPED_NAME_HINT, render_kw={"autocomplete": "name"})
    class_name = "".join(part.capitalize() for part in re.split(r"[-_]", form.id)) + f"V{form.version}AnswerForm"
    return type(class_name, (AnswerForm,), {"definition": form, "question_fields": names, **fields})


_classes: dict[tuple[str, int, str], type[AnswerForm]] = {}


def answer_form_class(form: FormDefinition) -> type[AnswerForm]:
    """The answer form of this form version, made once per (id, version, content hash): a file
    changed in place (a new hash) gets a class of its own."""
    key = (form.id, form.version, form.content_hash)
    made = _classes.get(key)
    if made is None:
        while len(_classes) >= CLASS_CACHE_SIZE:
            _classes.pop(next(iter(_classes), None), None)   # the oldest
        made = _classes[key] = _build(form)
    return made
