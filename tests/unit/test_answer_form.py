"""The answer form of an intake or consent form (issue 26, point 3): built from a FormDefinition, one
class per form version; every question type submits the answers' shape the domain checks
(domain/form_answers.py), unanswered questions absent; the input is bounded (text length, medication
rows, the typed name, characters a signed document cannot hold) and hostile extra fields are
ignored; the domain's problems land on their fields. No database: a bare Flask app for Flask-WTF."""
from dataclasses import replace
from datetime import date
from pathlib import Path

import pytest
from flask import Flask
from werkzeug.datastructures import MultiDict

from ketamine_integration.domain.form_answers import check_answers
from ketamine_integration.domain.form_definitions import parse_definition
from ketamine_integration.domain.form_library import load_folder
from ketamine_integration.signed_forms.answer_form import (AnswerForm, MAX_MEDICATIONS, MAX_TEXT, MEDICATION_ROWS,
                                                           MORE_ROWS_LABEL, SPARE_MEDICATION_ROWS, TYPED_NAME_LABEL,
                                                           answer_form_class)

SHIPPED = load_folder(Path(__file__).resolve().parents[2] / "forms")
IV = next(f for f in SHIPPED.forms if f.id == "consent-iv-ketamine")
INTAKE = next(f for f in SHIPPED.forms if f.id == "intake-questionnaire")


@pytest.fixture
def flask_app():
    app = Flask(__name__)
    app.config.update(SECRET_KEY="answer-form-tests", WTF_CSRF_ENABLED=False)
    return app


def posted(app, form_definition, pairs, **kwargs):
    """The answer form of `form_definition` as a POST of `pairs` (name, value) reads it."""
    with app.test_request_context(method="POST", data=MultiDict(pairs)):
        form = answer_form_class(form_definition)(**kwargs)
        form.validate()
        return form


def definition(questions: list[dict], *, kind="intake", consent=None):
    """A small valid form of these questions."""
    data = {"form": "demo-form", "kind": kind, "version": 1, "title": "Demo", "resign_on_change": True,
            "sections": [{"id": "only", "title": "Questions", "questions": questions}]}
    if consent:
        data["consent"] = consent
    form, problems = parse_definition(data)
    assert not problems, problems
    return form


@pytest.mark.parametrize("question, pairs, expected", [
    # text: one block, its ends trimmed, a browser's CR LF kept as one line break
    ({"type": "text"}, [("q", "  Low mood\r\nfor years  ")], "Low mood\nfor years"),
    # yes/no: the key
    ({"type": "yes_no"}, [("q", "no")], "no"),
    # a choice of one: the option's key
    ({"type": "choice", "options": [{"key": "a", "label": "A"}, {"key": "b", "label": "B"}]}, [("q", "b")], "b"),
    # a choice of several: the keys in the order sent, each once
    ({"type": "choice", "multiple": True, "options": [{"key": "a", "label": "A"}, {"key": "b", "label": "B"}]},
     [("q", "b"), ("q", "a"), ("q", "b")], ["b", "a"]),
    # a date: ISO, whether picked or typed in words
    ({"type": "date"}, [("q", "2026-11-02")], "2026-11-02"),
    ({"type": "date"}, [("q", "2 November 2026")], "2026-11-02"),
    # a medication list: the rows up to the last filled in, trimmed (an empty one between stays, so the
    # domain's row numbers are the form's: it drops the empty ones); a row without a name is the
    # domain's to refuse ("name required in a row")
    ({"type": "medication_list"}, [("q-0-name", " Sertraline "), ("q-0-dose", "100 mg"), ("q-0-how_often", "daily"),
                                   ("q-1-name", ""), ("q-1-dose", ""), ("q-2-dose", "5 mg"), ("q-3-name", "")],
     [{"name": "Sertraline", "dose": "100 mg", "how_often": "daily"}, {"name": "", "dose": "", "how_often": ""},
      {"name": "", "dose": "5 mg", "how_often": ""}]),
])
def test_each_question_type_submits_the_answers_shape(flask_app, question, pairs, expected):
    form = posted(flask_app, definition([{"id": "q", "label": "The question", **question}]), pairs)
    assert not form.errors, form.errors
    assert form.raw_answers() == {"q": expected}


@pytest.mark.parametrize("question, pairs", [
    ({"type": "text"}, [("q", "   ")]),                                   # spaces only
    ({"type": "yes_no"}, []),                                             # nothing chosen
    ({"type": "choice", "multiple": True, "options": [{"key": "a", "label": "A"}, {"key": "b", "label": "B"}]},
     [("q", "")]),
    ({"type": "date"}, [("q", "")]),
    ({"type": "medication_list"}, [("q-0-name", " "), ("q-0-dose", ""), ("q-1-how_often", "")]),   # blank rows
])
def test_an_unanswered_question_is_absent(flask_app, question, pairs):
    form = posted(flask_app, definition([{"id": "q", "label": "The question", "required": True, **question}]), pairs)
    assert not form.errors and form.raw_answers() == {}


def test_required_is_marked_and_left_to_the_domain(flask_app):
    """A required question unanswered is no error of the form's: the domain words the refusal (one
    set of reasons, one wording); the field carries the flag the template says "(required)" by."""
    form = posted(flask_app, INTAKE, [])
    assert not form.errors and form.raw_answers() == {}
    for question in INTAKE.questions:
        assert bool(form.answer_field(question.id).flags.required) == question.required, question.id
    assert form.typed_name.flags.required


def test_an_option_outside_the_list_is_passed_to_the_domain(flask_app):
    """validate_choice is off: the domain refuses an unknown key in its words ("Not a valid choice" is
    no message for a patient), so the raw answer carries it."""
    form = posted(flask_app, INTAKE, [("pregnancy", "certainly"), ("history_of_psychosis", "maybe")])
    assert not form.errors
    assert form.raw_answers() == {"pregnancy": "certainly", "history_of_psychosis": "maybe"}


@pytest.mark.parametrize("pairs, field, message", [
    ([("main_concern", "x" * (MAX_TEXT + 1))], "main_concern", f"at most {MAX_TEXT:,} characters"),
    ([("main_concern", "a\x07b")], "main_concern", "no control characters"),
    ([("main_concern", "signed \u202egnirts")], "main_concern", "no control characters"),
    ([("last_blood_pressure_check", "31/02/2026")], "last_blood_pressure_check", "Enter a real date"),
    ([("current_medications-0-name", "n" * 201)], "current_medications", "at most 200 characters"),
    ([("current_medications-0-dose", "5 mg\n")], "current_medications", "no control characters"),
    ([("current_medications-0-how_often", "d" * 201)], "current_medications", "at most 200 characters"),
    ([("typed_name", "N" * 201)], "typed_name", "at most 200 characters"),
    ([("typed_name", "Ada\tExample")], "typed_name", "no control characters"),
])
def test_input_is_bounded(flask_app, pairs, field, message):
    form = posted(flask_app, INTAKE, pairs)
    assert field in form.errors and message in str(form.errors[field]), form.errors


def test_a_text_answer_of_the_limit_counts_a_line_break_once(flask_app):
    text = "a\r\n" * (MAX_TEXT // 2)   # 4,000 characters once CR LF is one
    form = posted(flask_app, INTAKE, [("main_concern", text)])
    assert not form.errors and len(form.raw_answers()["main_concern"]) == MAX_TEXT - 1


def test_medication_rows_are_bounded_and_never_repeated(flask_app):
    pairs = [(f"current_medications-{i}-name", f"Medicine {i}") for i in range(MAX_MEDICATIONS + 25)]
    form = posted(flask_app, INTAKE, pairs)
    rows = form.raw_answers()["current_medications"]
    # one row past the limit is read, never more, and the domain refuses the list rather than the form
    # cutting it silently (review of issue 26: a 41st medication vanished from a signed intake)
    assert len(rows) == MAX_MEDICATIONS + 1 and rows[-1]["name"] == f"Medicine {MAX_MEDICATIONS}"
    problems = check_answers(INTAKE, {"current_medications": rows}, today=date(2026, 12, 6))[1]
    assert problems["current_medications"] == \
        f"List at most {MAX_MEDICATIONS} medications here; bring the rest to your appointment."
    # rows sent with gaps ("-0-", "-7-"): each once (WTForms' own padding read "-7-" a second time)
    form = posted(flask_app, INTAKE, [("current_medications-0-name", "First"), ("current_medications-7-name", "Last"),
                                      ("current_medications-99999999999-name", "Far")])
    assert [r["name"] for r in form.raw_answers()["current_medications"]] == ["First", "Last", "Far"]


def test_room_for_medications_and_more_on_request(flask_app):
    with flask_app.test_request_context():
        rows = answer_form_class(INTAKE)().current_medications
    assert len(rows.entries) == MEDICATION_ROWS
    assert [c.label.text for c in rows.entries[1].form] == ["Medication 2: name", "Medication 2: dose",
                                                          "Medication 2: how often"]
    filled = [(f"current_medications-{i}-name", f"Medicine {i}") for i in range(MEDICATION_ROWS)]
    form = posted(flask_app, INTAKE, filled)
    assert len(form.current_medications.entries) == MEDICATION_ROWS + SPARE_MEDICATION_ROWS and not form.adding_rows
    form = posted(flask_app, INTAKE, filled + [("more_rows", MORE_ROWS_LABEL)])
    assert form.adding_rows and len(form.current_medications.entries) == 2 * MEDICATION_ROWS
    many = [(f"current_medications-{i}-name", f"Medicine {i}") for i in range(MAX_MEDICATIONS)]
    assert len(posted(flask_app, INTAKE, many + [("more_rows", "y")]).current_medications.entries) \
        == MAX_MEDICATIONS


def test_hostile_extra_fields_are_ignored(flask_app):
    form = posted(flask_app, IV, [("read_and_understood", "yes"), ("admin", "1"), ("signature", "forged"),
                                  ("read_and_understood-0-name", "x"), ("typed_name", "Ada Example"),
                                  ("agreed", "y"), ("digest", "0" * 64)])
    assert not form.errors
    assert form.raw_answers() == {"read_and_understood": "yes"}
    assert (form.typed_name.data, form.agreed.data) == ("Ada Example", True)


def test_a_consent_asks_for_agreement_with_its_sentence_and_an_intake_form_does_not(flask_app):
    with flask_app.test_request_context():
        consent, intake = answer_form_class(IV)(), answer_form_class(INTAKE)()
    assert consent.agreed.label.text == IV.consent.agreement and consent.agreed.flags.required
    assert "agreed" not in intake
    for form in (consent, intake):
        assert form.typed_name.label.text == TYPED_NAME_LABEL
        # the questions first, the signature last (agreement, then the typed name, for a consent): the
        # page's order, which the error summary follows
        names = [f.name for f in form if f.type not in ("CSRFTokenField", "SubmitField")]
        assert names[-2:] == (["agreed", "typed_name"] if form is consent else [names[-2], "typed_name"])
    assert [f.name for f in consent][:2] == ["read_and_understood", "fasting_told"]


def test_labels_help_and_types_follow_the_definition(flask_app):
    with flask_app.test_request_context():
        form = answer_form_class(INTAKE)()
    types = {"text": "AnswerTextField", "yes_no": "RadioField", "date": "ClinicDateField",
             "medication_list": "FieldList"}
    for question in INTAKE.questions:
        field = form.answer_field(question.id)
        assert field.label.text == question.label and field.description == question.help
        expected = ("MultiCheckboxField" if question.multiple else "RadioField") if question.type == "choice" \
            else types[question.type]
        assert field.type == expected, question.id
    pregnancy = form.answer_field("pregnancy")
    [question] = [q for q in INTAKE.questions if q.id == "pregnancy"]
    assert [(c.value, c.label) for c in pregnancy.iter_choices()] == [(o.key, o.label) for o in question.options]
    assert [c.label for c in form.answer_field("previous_ketamine").iter_choices()] == ["Yes", "No"]
    # a date picker
    assert 'type="date"' in str(form.answer_field("last_blood_pressure_check")())


def test_a_prefix_keeps_ids_apart(flask_app):
    with flask_app.test_request_context():
        form = answer_form_class(IV)(prefix="iv")
    assert form.id_prefix == "iv-"
    assert {f.id for f in form if f.type != "CSRFTokenField"} == {"iv-read_and_understood", "iv-fasting_told",
                                                                   "iv-typed_name", "iv-agreed"}
    form = posted(flask_app, IV, [("iv-read_and_understood", "yes"), ("read_and_understood", "no")], prefix="iv")
    assert form.raw_answers() == {"read_and_understood": "yes"}


def test_the_domains_problems_land_on_their_fields(flask_app):
    form = posted(flask_app, INTAKE, [("main_concern", "Sleep")])
    general = form.show_problems({"history_of_psychosis": "Answer yes or no.",
                                  "current_medications": "Give each medication's name.",
                                  "typed_name": "Type your name as the clinic has it: Ada Example.",
                                  "": "This form is not in your packet.", "no_such_question": "Stale."})
    assert general == ["This form is not in your packet.", "Stale."]
    assert form.errors["history_of_psychosis"] == ["Answer yes or no."]
    assert form.errors["current_medications"] == ["Give each medication's name."]
    assert form.errors["typed_name"] == ["Type your name as the clinic has it: Ada Example."]
    assert form.form_errors == general


def test_a_problem_of_a_medication_row_lands_on_its_row(flask_app):
    form = posted(flask_app, INTAKE, [("current_medications-0-name", "Sertraline"), ("current_medications-1-name", ""),
                                      ("current_medications-2-name", ""), ("current_medications-3-dose", "5 mg")])
    assert form.raw_answers()["current_medications"][3] == {"name": "", "dose": "5 mg", "how_often": ""}
    general = form.show_problems({"current_medications-3-name": "Give the medication's name.",
                                  "current_medications-40-name": "No such row.",
                                  "current_medications-0-colour": "No such cell."})
    assert general == ["No such row.", "No such cell."]
    row = form.current_medications.entries[3].form
    assert row.name.errors == ["Give the medication's name."] and row.name.label.text == "Medication 4: name"
    assert form.errors["current_medications"][3] == {"name": ["Give the medication's name."]}


def test_a_question_id_the_form_already_uses_gets_a_field_of_its_own(flask_app):
    """"data", "errors" or "validate" are attributes every WTForms form has: a question so named
    would have replaced them. Its field is named apart; answers and problems still use its id."""
    form_definition = definition([{"id": "errors", "type": "yes_no", "label": "Any errors?"},
                                  {"id": "errors_answer", "type": "text", "label": "Which?"},
                                  {"id": "typed_name", "type": "text", "label": "A name"}])
    assert form_definition and answer_form_class(form_definition).question_fields == {
        "errors": "errors_answer_answer", "errors_answer": "errors_answer", "typed_name": "typed_name_answer"}
    form = posted(flask_app, form_definition, [("errors_answer_answer", "yes"), ("errors_answer", "Two"),
                                               ("typed_name_answer", "Nick"), ("typed_name", "Ada Example")])
    assert not form.errors and isinstance(form.errors, dict)
    assert form.raw_answers() == {"errors": "yes", "errors_answer": "Two", "typed_name": "Nick"}
    assert form.typed_name.data == "Ada Example"
    form.show_problems({"errors": "Answer yes or no."})
    assert form.answer_field("errors").errors == ["Answer yes or no."]


def test_one_class_per_form_version_and_content(flask_app):
    assert answer_form_class(IV) is answer_form_class(IV)
    assert answer_form_class(IV) is not answer_form_class(INTAKE)
    # the same id and version, the file changed in place (a new hash): a class of its own
    changed = replace(IV, content_hash="0" * 64, consent=replace(IV.consent, agreement="I agree."))
    assert answer_form_class(changed) is not answer_form_class(IV)
    with flask_app.test_request_context():
        assert answer_form_class(changed)().agreed.label.text == "I agree."


def test_the_csrf_token_is_required(flask_app):
    flask_app.config["WTF_CSRF_ENABLED"] = True
    form = posted(flask_app, IV, [("read_and_understood", "yes")])
    assert "csrf_token" in form.errors


def test_a_short_answer_is_one_line_and_a_phone_number_opens_the_number_keypad(flask_app):
    form_definition = definition([{"id": "name", "type": "short_text", "label": "Their name"},
                                  {"id": "phone", "type": "phone", "label": "Their phone number"}])
    with flask_app.test_request_context():
        form = answer_form_class(form_definition)()
        name, phone = str(form.answer_field("name")()), str(form.answer_field("phone")())
    assert name.startswith("<input") and 'type="text"' in name and 'maxlength="200"' in name
    assert phone.startswith("<input") and 'type="tel"' in phone and 'autocomplete="tel"' in phone
    assert 'maxlength="30"' in phone
    form = posted(flask_app, form_definition, [("name", " Rowan Ashdown "), ("phone", "555 010 2323")])
    assert form.raw_answers() == {"name": "Rowan Ashdown", "phone": "555 010 2323"}
    form = posted(flask_app, form_definition, [("name", "R" * 201)])
    assert form.answer_field("name").errors == ["Write at most 200 characters."]


@pytest.mark.parametrize("label, message, line", [
    # a label's full stop is not followed by a colon
    ("I have read this form and had the chance to ask questions.", "Answer this question.",
     "I have read this form and had the chance to ask questions: Answer this question."),
    # a question keeps its mark, with no colon after it
    ("Are you pregnant?", "Answer this question.", "Are you pregnant? Answer this question."),
    # a plain label
    ("Their phone number", "Answer this question.", "Their phone number: Answer this question."),
    # a label ending in a colon of its own
    ("They are your:", "Choose one of the options.", "They are your: Choose one of the options."),
])
def test_a_problem_line_reads_as_a_sentence(label, message, line):
    assert AnswerForm.problem_line(label, message) == line
