"""A patient's answers checked against a form, the flags they raise, the signature's checks and the
signed document with its digest (issue 26, point 3): one row per question type and per error."""
import hashlib
import json
from datetime import date

import pytest

from ketamine_integration.domain.form_answers import (INVISIBLE, MAX_MEDICATIONS, MAX_PHONE, MAX_SHORT_TEXT, MAX_TEXT,
                                                      answer_text, build_document,
                                                      check_answers, document_digest, document_json,
                                                      flagged_answers, same_name, signature_problems,
                                                      signed_name)
from ketamine_integration.domain.form_definitions import parse_definition

FORM, _ = parse_definition({
    "form": "consent-demo", "kind": "consent", "version": 2, "title": "Consent to a demonstration",
    "resign_on_change": True, "countersign": "prescriber", "withdrawal_blocks_dosing": True,
    "consent": {"text": "First paragraph,\nover two lines.\n\nSecond.", "agreement": "I agree."},
    "sections": [
        {"id": "about", "title": "About you", "text": "Answer what you can.",
         "questions": [
             {"id": "concern", "type": "text", "label": "What brings you here?", "required": True},
             {"id": "psychosis", "type": "yes_no", "label": "Psychosis ever?", "required": True,
              "flag": {"when": "yes", "reason": "History of psychosis: prescriber review."}},
             {"id": "last_check", "type": "date", "label": "Last blood pressure check"}]},
        {"id": "more", "title": "More",
         "questions": [
             {"id": "home", "type": "choice", "label": "Who takes you home",
              "options": [{"key": "partner", "label": "Partner"}, {"key": "taxi", "label": "A taxi"}],
              "flag": {"when": ["taxi"], "reason": "No adult escort."}},
             {"id": "substances", "type": "choice", "label": "Substances used", "multiple": True,
              "options": [{"key": "alcohol", "label": "Alcohol"}, {"key": "cannabis", "label": "Cannabis"},
                          {"key": "stimulants", "label": "Stimulants"}],
              "flag": {"when": ["stimulants"], "reason": "Stimulant use: blood pressure."}},
             {"id": "meds", "type": "medication_list", "label": "Medications"}]}]})
VALID = {"concern": "Low mood", "psychosis": "no"}
#: the clinic's date at signing, as the sign service passes it in
TODAY = date(2026, 12, 6)


def test_a_valid_set_of_answers_is_kept_as_given():
    raw = {**VALID, "last_check": "2026-11-30", "home": "partner", "substances": ["cannabis", "alcohol"],
           "meds": [{"name": " Sertraline ", "dose": "100  mg", "how_often": "once daily"},
                    {"name": "", "dose": "", "how_often": ""}]}
    answers, problems = check_answers(FORM, raw, today=TODAY)
    assert problems == {}
    # substances in the form's order; an empty medication row dropped; spaces tidied
    assert answers == {**VALID, "last_check": "2026-11-30", "home": "partner", "substances": ["alcohol", "cannabis"],
                       "meds": [{"name": "Sertraline", "dose": "100 mg", "how_often": "once daily"}]}


def test_unanswered_questions_are_absent():
    answers, problems = check_answers(FORM, {**VALID, "last_check": "", "substances": [], "meds": [
        {"name": "", "dose": "", "how_often": ""}]}, today=TODAY)
    assert (answers, problems) == (VALID, {})


# (what is wrong, the raw answers, the question named, the message's start)
ERRORS = [
    ("required text missing", {"psychosis": "no"}, "concern", "Answer this question."),
    ("required text blank", {**VALID, "concern": "   "}, "concern", "Answer this question."),
    ("text not text", {**VALID, "concern": ["a"]}, "concern", "Write your answer as text."),
    ("text too long", {**VALID, "concern": "x" * (MAX_TEXT + 1)}, "concern", "Shorten this answer"),
    ("text with a control character", {**VALID, "concern": "low\x00mood"}, "concern", "This answer holds a character"),
    ("text of zero-width spaces only", {**VALID, "concern": "\u200b\u200b \u2060"}, "concern",
     "This answer holds a character that does not show"),
    ("yes/no other than yes or no", {**VALID, "psychosis": "maybe"}, "psychosis", "Answer yes or no."),
    ("yes/no as a boolean", {**VALID, "psychosis": True}, "psychosis", "Answer yes or no."),
    ("date not a date", {**VALID, "last_check": "30/11/2026"}, "last_check", "Give a date"),
    ("date that does not exist", {**VALID, "last_check": "2026-02-30"}, "last_check", "That date does not exist"),
    ("date another century", {**VALID, "last_check": "0026-11-30"}, "last_check", "Give a date between"),
    ("choice not an option", {**VALID, "home": "bus"}, "home", "Choose one of the options."),
    ("several on a single choice", {**VALID, "home": ["partner", "taxi"]}, "home", "Choose one of the options."),
    ("multiple choice not an option", {**VALID, "substances": ["alcohol", "tea"]}, "substances",
     "Choose from the options given."),
    ("medication list not a list", {**VALID, "meds": "aspirin"}, "meds", "The medication list could not be read"),
    ("medication row without a name", {**VALID, "meds": [{"name": "", "dose": "5 mg", "how_often": ""}]}, "meds",
     "Row 1: name the medication"),
    ("medication row with an unknown cell", {**VALID, "meds": [{"name": "A", "colour": "red"}]}, "meds",
     "The medication list could not be read"),
    ("medication cell too long", {**VALID, "meds": [{"name": "A" * 201}]}, "meds", "Row 1: keep each entry"),
    ("too many medications", {**VALID, "meds": [{"name": f"M{i}"} for i in range(MAX_MEDICATIONS + 1)]}, "meds",
     f"List at most {MAX_MEDICATIONS}"),
    ("a question the form does not ask", {**VALID, "favourite_colour": "blue"}, "", "The form does not ask"),
]


@pytest.mark.parametrize("raw, question, message", [r[1:] for r in ERRORS], ids=[r[0] for r in ERRORS])
def test_each_error_is_named_on_its_question(raw, question, message):
    answers, problems = check_answers(FORM, raw, today=TODAY)
    assert problems[question].startswith(message), problems
    assert question not in answers


BOUNDED, _ = parse_definition({
    "form": "intake-demo", "kind": "intake", "version": 1, "title": "Intake", "resign_on_change": False,
    "sections": [{"id": "health", "title": "Health", "questions": [
        {"id": "last_check", "type": "date", "label": "Last blood pressure check", "not_after": "today"}]}]})


@pytest.mark.parametrize("form, day, problem", [
    (BOUNDED, "2026-12-06", None),                        # today itself
    (BOUNDED, "2026-11-30", None),                        # last week
    (BOUNDED, "2026-12-07", "Give a date no later than today (6 December 2026)."),  # tomorrow
    (BOUNDED, "2027-12-06", "Give a date no later than today (6 December 2026)."),  # a year typed wrong
    (BOUNDED, "2026-02-30", "That date does not exist; check the day and month."),  # the shape first
    (FORM, "2027-12-06", None),                           # a date question without not_after takes any day
])
def test_a_date_question_bounded_by_today(form, day, problem):
    answers, problems = check_answers(form, {**(VALID if form is FORM else {}), "last_check": day}, today=TODAY)
    assert problems.get("last_check") == problem
    assert ("last_check" in answers) == (problem is None)


def test_answers_that_are_not_a_mapping():
    assert check_answers(FORM, ["concern"], today=TODAY) == ({}, {"": "The answers could not be read; reload the "
                                                                      "form and answer again."})


@pytest.mark.parametrize("raw, flagged", [
    (VALID, []),                                                    # nothing the flags name
    ({**VALID, "psychosis": "yes"}, ["psychosis"]),                 # a yes/no flag
    ({**VALID, "home": "taxi"}, ["home"]),                          # a single choice
    ({**VALID, "substances": ["alcohol", "stimulants"]}, ["substances"]),  # one of several chosen
    ({**VALID, "psychosis": "yes", "home": "taxi"}, ["psychosis", "home"]),  # in the form's order
])
def test_flagged_answers(raw, flagged):
    answers, _ = check_answers(FORM, raw, today=TODAY)
    assert [(q.id, reason) for q, reason in flagged_answers(FORM, answers)] == \
        [(q.id, q.flag.reason) for q in FORM.questions if q.id in flagged]


@pytest.mark.parametrize("question, value, shown", [
    ("psychosis", "yes", "Yes"),
    ("home", "taxi", "A taxi"),
    ("substances", ["alcohol", "cannabis"], "Alcohol; Cannabis"),
    ("last_check", "2026-03-08", "8 March 2026"),
    ("meds", [{"name": "Sertraline", "dose": "100 mg", "how_often": "once daily"},
              {"name": "Melatonin", "dose": "", "how_often": "at night"}],
     "Sertraline, 100 mg, once daily; Melatonin, at night"),
    ("concern", "Low mood", "Low mood"),
    ("concern", None, ""),
])
def test_answer_text(question, value, shown):
    assert answer_text(next(q for q in FORM.questions if q.id == question), value) == shown


@pytest.mark.parametrize("typed, agreed, problems", [
    ("Ada Lovelace", True, {}),
    ("  ada   LOVELACE ", True, {}),                                # case and spacing ignored
    ("", True, {"typed_name": "Type your full name to sign."}),
    ("Ada King", True, {"typed_name": "Type your name as the clinic has it: Ada Lovelace."}),
    ("Ada Lovelace", False, {"agreed": "Tick the box to agree; without it the consent is not signed."}),
    ("Ada Lovelace", "true", {"agreed": "Tick the box to agree; without it the consent is not signed."}),
    ("Ａｄａ Ｌｏｖｅｌａｃｅ", True, {}),                                    # fullwidth letters are the same name
    ("\u0410da Lovelace", True, {"typed_name": "Type your name as the clinic has it: Ada Lovelace."}),  # Cyrillic A
    ("Ada\u200bLovelace", True, {"typed_name": "Type your name as the clinic has it: Ada Lovelace."}),  # zero width
    ("Ada Lovelac\u0435", True, {"typed_name": "Type your name as the clinic has it: Ada Lovelace."}),  # Cyrillic e
    ("Ａｄａ Ｋｉｎｇ", True, {"typed_name": "Type your name as the clinic has it: Ada Lovelace."}),   # fullwidth, other
])
def test_signature_problems(typed, agreed, problems):
    assert signature_problems(FORM, typed_name=typed, agreed=agreed, patient_name="Ada Lovelace") == problems


@pytest.mark.parametrize("typed, stored", [
    ("Ｊｕｎｉｐｅｒ Ａｓｈｇｒｏｖｅ", "Juniper Ashgrove"),    # fullwidth: the PDF's fonts draw the ASCII letters
    ("  juniper\u3000ASHGROVE ", "juniper ASHGROVE"),  # an ideographic space; the capitals as typed
    ("Ｊｏｓé Ｍａｒíａ", "José María"),                # accents kept, composed
])
def test_the_signed_name_is_stored_normalised_as_typed(typed, stored):
    """Attacker review of issue 26, finding 6: a name typed in fullwidth letters was stored as typed and the PDF
    showed empty boxes."""
    assert signed_name(typed) == stored


def test_an_intake_form_has_no_agreement_to_tick():
    intake, _ = parse_definition({"form": "intake", "kind": "intake", "version": 1, "title": "Intake",
                                  "resign_on_change": False, "sections": [{"id": "a", "title": "A", "questions": [
                                      {"id": "q", "type": "text", "label": "Q"}]}]})
    assert signature_problems(intake, typed_name="Ada Lovelace", agreed=None, patient_name="Ada Lovelace") == {}
    assert not same_name("", "")


def test_the_document_holds_the_exact_text_answers_flags_and_signature():
    answers, _ = check_answers(FORM, {**VALID, "psychosis": "yes", "meds": [{"name": "Lithium"}]}, today=TODAY)
    patient = {"id": 7, "name": "Ada Lovelace", "mrn": "MRN-7", "date_of_birth": "1990-12-10"}
    signature = {"typed_name": "Ada Lovelace", "agreed": True, "signed_at": "2026-12-05T21:30:00Z",
                 "method": "portal", "portal_account": "ada@example.test", "witness": None}
    document = build_document(FORM, answers, patient=patient, signature=signature)
    assert document["form"] == {"id": "consent-demo", "version": 2, "kind": "consent",
                                "title": "Consent to a demonstration", "content_sha256": FORM.content_hash}
    assert document["consent"] == {"paragraphs": ["First paragraph, over two lines.", "Second."],
                                   "agreement": "I agree."}
    about, more = document["sections"]
    assert about["paragraphs"] == ["Answer what you can."] and more["paragraphs"] == []
    psychosis = about["questions"][1]
    assert psychosis == {"id": "psychosis", "type": "yes_no", "label": "Psychosis ever?", "answer": "yes",
                         "answer_text": "Yes", "flag_reason": "History of psychosis: prescriber review."}
    assert about["questions"][2]["answer"] is None and about["questions"][2]["answer_text"] == ""
    assert more["questions"][2]["answer_text"] == "Lithium"
    assert (document["patient"], document["signature"], document["schema"]) == (patient, signature, 1)
    # the digest is the contract's: SHA-256 of the sorted, compact, non-ASCII-kept JSON
    expected = json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    assert document_json(document) == expected
    assert document_digest(document) == hashlib.sha256(expected.encode()).hexdigest()
    assert document_digest(json.loads(expected)) == document_digest(document)
    changed = json.loads(expected)
    changed["sections"][0]["questions"][1]["answer"] = "no"
    assert document_digest(changed) != document_digest(document)


CONTACT, _ = parse_definition({
    "form": "contact-demo", "kind": "intake", "version": 1, "title": "Contact", "resign_on_change": False,
    "sections": [{"id": "contact", "title": "Contact", "questions": [
        {"id": "name", "type": "short_text", "label": "Their name"},
        {"id": "phone", "type": "phone", "label": "Their phone number"}]}]})


@pytest.mark.parametrize("raw, answers, problems", [
    # a name on one line, its spaces tidied
    ({"name": "  Rowan   Ashdown ", "phone": "+1 (555) 010-2323"}, {"name": "Rowan Ashdown", "phone": "+1 (555) 010-2323"},
     {}),
    # the usual ways of writing a number: dots, an extension
    ({"phone": "555.010.2323 ext 4"}, {"phone": "555.010.2323 ext 4"}, {}),
    # a name over two lines is refused, not joined
    ({"name": "Rowan\nAshdown"}, {}, {"name": "Write this answer on one line."}),
    # a name over the limit
    ({"name": "R" * (MAX_SHORT_TEXT + 1)}, {}, {"name": f"Shorten this answer to {MAX_SHORT_TEXT} characters "
                                                        f"(it has {MAX_SHORT_TEXT + 1})."}),
    # a tab or a control character in a name
    ({"name": "Rowan\tAshdown"}, {}, {"name": "This answer holds a character that cannot be shown or printed; "
                                                "type it again."}),
    # a zero-width space, a direction override or a blank letter hidden in a name (phone: not a digit)
    ({"name": "Rowan\u200bAshdown"}, {}, {"name": INVISIBLE}),
    ({"name": "\u202eRowan Ashdown"}, {}, {"name": INVISIBLE}),
    ({"name": "\u3164"}, {}, {"name": INVISIBLE}),
    ({"phone": "555\u200b010 2323"}, {}, {"phone": "Give a phone number of at least 7 digits, using only digits, "
                                                    "spaces and + ( ) - . (e.g. 555 010 2323)."}),
    # an accent typed as a combining mark is part of the name
    ({"name": "Jose\u0301 Ashdown"}, {"name": "Jose\u0301 Ashdown"}, {}),
    # letters are not a phone number
    ({"phone": "call my mum"}, {}, {"phone": "Give a phone number of at least 7 digits, using only digits, spaces "
                                             "and + ( ) - . (e.g. 555 010 2323)."}),
    # too few digits to call
    ({"phone": "010-23"}, {}, {"phone": "Give a phone number of at least 7 digits, using only digits, spaces "
                                        "and + ( ) - . (e.g. 555 010 2323)."}),
    # too long
    ({"phone": "5" * (MAX_PHONE + 1)}, {}, {"phone": "Give a phone number of at least 7 digits, using only digits, "
                                                     "spaces and + ( ) - . (e.g. 555 010 2323)."}),
    # not text at all
    ({"phone": ["555 010 2323"]}, {}, {"phone": "Give a phone number, e.g. 555 010 2323."}),
])
def test_short_text_and_phone_answers(raw, answers, problems):
    assert check_answers(CONTACT, raw, today=TODAY) == (answers, problems)
