"""A patient's answers to a form, checked against its questions, and the signed document they become.

Pure: the answers come in as the answer form gives them (a dict by question id, an unanswered
question absent), the patient and the signature as plain values; out come the answers the document
keeps, the problems by question id, the flagged answers a prescriber reviews, and the document
whose SHA-256 `flask signatures verify` rechecks (issue 26, point 3). The document holds the exact
text the patient read, so it stays readable whatever later versions of the form say.
"""
from __future__ import annotations

import re
import unicodedata
from datetime import date

from .form_definitions import FormDefinition, Question, paragraphs
from .protocols import canonical_json, content_hash
from .text import shows_nothing

#: the signed document's format (a reader of old documents knows which shape it reads)
SCHEMA = 1
#: a text answer is one block of what the patient wrote
MAX_TEXT = 4_000
#: a short text answer is one line (a name, a place): the longest name a record holds, with room
MAX_SHORT_TEXT = 200
#: a phone number as people write one ("+1 (555) 010-2323", "555.010.2323 ext 4"): at most this many
#: characters, at least MIN_PHONE_DIGITS digits (a local number without its area code is too short to call)
MAX_PHONE, MIN_PHONE_DIGITS = 30, 7
#: what a patient is told when a text answer holds characters that show nothing
INVISIBLE = "This answer holds a character that does not show (such as a zero-width space); type it again."
PHONE_PATTERN = re.compile(r"\+?[0-9 ().\-]+(?:\s*(?:ext\.?|x)\s*[0-9]{1,6})?", re.IGNORECASE)
#: rows of a medication list, and the length of each of its cells
MAX_MEDICATIONS, MAX_MEDICATION_CELL = 40, 200
MEDICATION_CELLS = ("name", "dose", "how_often")
#: a date answer's years: a birth, a diagnosis or a last check, never another century's typing error
EARLIEST_YEAR, LATEST_YEAR = 1900, 2100

Answers = dict[str, object]
Problems = dict[str, str]


# -- the answers --------------------------------------------------------------------------------

def check_answers(form: FormDefinition, raw, *, today: date) -> tuple[Answers, Problems]:
    """(the answers the document keeps, {question id: message}): each answer in its question's
    shape; a required question answered; nothing answered that the form does not ask; no date after
    `today` (the clinic's date at signing) where the question says not_after: today."""
    if not isinstance(raw, dict):
        return {}, {"": "The answers could not be read; reload the form and answer again."}
    questions = {q.id: q for q in form.questions}
    unknown = sorted(str(k) for k in raw if k not in questions)
    answers, problems = {}, {}
    if unknown:
        problems[""] = f"The form does not ask {', '.join(unknown)}; reload the form and answer again."
    for question in form.questions:
        value, problem = _answer(question, raw.get(question.id), today)
        if problem:
            problems[question.id] = problem
        elif value is not None:
            answers[question.id] = value
        elif question.required:
            problems[question.id] = "Answer this question."
    return answers, problems


def _answer(question: Question, value, today: date) -> tuple[object, str | None]:
    """(the answer, None), (None, None) when unanswered, or (None, what is wrong)."""
    if value is None or value == "" or value == []:
        return None, None
    answer, problem = _CHECKS[question.type](question, value)
    if problem is None and question.not_after == "today" and date.fromisoformat(answer) > today:
        return None, f"Give a date no later than today ({today.day} {today:%B %Y})."
    return answer, problem


def _text(question: Question, value) -> tuple[object, str | None]:
    if not isinstance(value, str):
        return None, "Write your answer as text."
    text = value.strip().replace("\r\n", "\n")
    if not text:
        return None, None
    if len(text) > MAX_TEXT:
        return None, f"Shorten this answer to {MAX_TEXT:,} characters (it has {len(text):,})."
    if any(_unshowable(c) for c in text):
        return None, "This answer holds a character that cannot be shown or printed; type it again."
    if _blank_on_screen(text):
        return None, INVISIBLE
    return text, None


def _short_text(question: Question, value) -> tuple[object, str | None]:
    """One line: a name or a place (line breaks are refused, not joined: the patient sees what is kept)."""
    if not isinstance(value, str):
        return None, "Write your answer as text."
    text = value.strip()
    if not text:
        return None, None
    if "\n" in text or "\r" in text:
        return None, "Write this answer on one line."
    if len(text) > MAX_SHORT_TEXT:
        return None, f"Shorten this answer to {MAX_SHORT_TEXT:,} characters (it has {len(text):,})."
    if any(_unshowable(c) or c == "\t" for c in text):
        return None, "This answer holds a character that cannot be shown or printed; type it again."
    if _blank_on_screen(text) or any(_invisible(c) for c in text):
        return None, INVISIBLE
    return " ".join(text.split()), None


def _phone(question: Question, value) -> tuple[object, str | None]:
    """A number the clinic can call: digits with the usual separators, an optional extension."""
    if not isinstance(value, str):
        return None, "Give a phone number, e.g. 555 010 2323."
    number = " ".join(value.split())
    if not number:
        return None, None
    if (len(number) > MAX_PHONE or not PHONE_PATTERN.fullmatch(number)
            or sum(c.isdigit() for c in number) < MIN_PHONE_DIGITS):
        return None, (f"Give a phone number of at least {MIN_PHONE_DIGITS} digits, using only digits, spaces "
                      "and + ( ) - . (e.g. 555 010 2323).")
    return number, None


def _blank_on_screen(text: str) -> bool:
    """Nothing a reader would see: only spaces and characters that show nothing (a zero-width space)."""
    return all(c.isspace() or shows_nothing(c) for c in text)


def _invisible(char: str) -> bool:
    """A character that shows nothing and is no accent (a combining mark is part of a letter: José typed
    decomposed): a zero-width space or joiner, a direction mark or override, a blank letter. Refused in a
    short answer (a name, a place), where it hides between letters; a longer text may need a joiner
    (an emoji sequence) and is refused only when it shows nothing at all."""
    return shows_nothing(char) and unicodedata.category(char) not in ("Mn", "Me")


def _unshowable(char: str) -> bool:
    """Control characters other than line breaks and tabs, surrogates and unassigned code points."""
    return char not in "\n\t" and unicodedata.category(char) in ("Cc", "Cs", "Cn")


def _yes_no(question: Question, value) -> tuple[object, str | None]:
    if value not in ("yes", "no"):
        return None, "Answer yes or no."
    return value, None


def _date(question: Question, value) -> tuple[object, str | None]:
    if not isinstance(value, str) or not re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
        return None, "Give a date, e.g. 2026-03-14."
    try:
        day = date.fromisoformat(value)
    except ValueError:
        return None, "That date does not exist; check the day and month."
    if not EARLIEST_YEAR <= day.year <= LATEST_YEAR:
        return None, f"Give a date between {EARLIEST_YEAR} and {LATEST_YEAR}."
    return value, None


def _choice(question: Question, value) -> tuple[object, str | None]:
    keys = [o.key for o in question.options]
    if not question.multiple:
        if value not in keys:
            return None, "Choose one of the options."
        return value, None
    chosen = [value] if isinstance(value, str) else value
    if not isinstance(chosen, list) or any(not isinstance(k, str) or k not in keys for k in chosen):
        return None, "Choose from the options given."
    # in the form's order, once each: the document reads the same however the browser sent them
    return [k for k in keys if k in chosen], None


def _medication_list(question: Question, value) -> tuple[object, str | None]:
    if not isinstance(value, list):
        return None, "The medication list could not be read; fill it in again."
    rows = []
    for number, row in enumerate(value, start=1):
        cells, problem = _medication_row(row, number)
        if problem:
            return None, problem
        if cells is None:
            continue  # an empty row of the form is no medication
        rows.append(cells)
    if len(rows) > MAX_MEDICATIONS:
        return None, f"List at most {MAX_MEDICATIONS} medications here; bring the rest to your appointment."
    return rows or None, None


def _medication_row(row, number: int) -> tuple[dict | None, str | None]:
    """(the row's cells, None), (None, None) for an empty row, or (None, what is wrong)."""
    if not isinstance(row, dict) or set(row) - set(MEDICATION_CELLS):
        return None, "The medication list could not be read; fill it in again."
    cells = {cell: row.get(cell) or "" for cell in MEDICATION_CELLS}
    if any(not isinstance(v, str) for v in cells.values()):
        return None, "The medication list could not be read; fill it in again."
    cells = {cell: " ".join(v.split()) for cell, v in cells.items()}
    if not any(cells.values()):
        return None, None
    if not cells["name"]:
        return None, f"Row {number}: name the medication (or clear the row)."
    if any(len(v) > MAX_MEDICATION_CELL or any(_unshowable(c) for c in v) for v in cells.values()):
        return None, (f"Row {number}: keep each entry under {MAX_MEDICATION_CELL} characters, "
                      "in characters that can be printed.")
    return cells, None


_CHECKS = {"text": _text, "short_text": _short_text, "phone": _phone, "yes_no": _yes_no, "date": _date, "choice": _choice,
           "medication_list": _medication_list}


def flagged_answers(form: FormDefinition, answers: Answers) -> list[tuple[Question, str]]:
    """(question, the file's reason) for each answer its flag names: what a prescriber reviews
    before dosing can be planned."""
    flagged = []
    for question in form.flagged_questions:
        value = answers.get(question.id)
        chosen = value if isinstance(value, list) else [value]
        if any(v in question.flag.when for v in chosen if v is not None):
            flagged.append((question, question.flag.reason))
    return flagged


def answer_text(question: Question, value) -> str:
    """The answer as a reader sees it: "Yes", option labels joined "; ", "Sertraline, 100 mg, once
    daily; ...", a date in words; "" unanswered."""
    if value is None:
        return ""
    if question.type in ("yes_no", "choice"):
        return "; ".join(question.option_label(v) for v in (value if isinstance(value, list) else [value]))
    if question.type == "date":
        day = date.fromisoformat(value)
        return f"{day.day} {day:%B %Y}"
    if question.type == "medication_list":
        return "; ".join(", ".join(row[c] for c in MEDICATION_CELLS if row[c]) for row in value)
    return value


def sample_answers(form: FormDefinition, *, flagged=()) -> Answers:
    """A valid answer to every question, for the demo and the tests: one no flag names, except for the
    questions in `flagged`, which get one their flag names (a prescriber then reviews them)."""
    answers: Answers = {}
    for question in form.questions:
        if question.type in ("yes_no", "choice"):
            keys = ["yes", "no"] if question.type == "yes_no" else [o.key for o in question.options]
            named = question.flag.when if question.flag else ()
            wanted = question.id in flagged and bool(named)
            pick = next(k for k in keys if (k in named) == wanted)
            answers[question.id] = [pick] if question.multiple else pick
        elif question.type == "date":
            answers[question.id] = "2026-01-15"
        elif question.type == "medication_list":
            answers[question.id] = [{"name": "Sertraline", "dose": "50 mg", "how_often": "once daily"}]
        elif question.type == "phone":
            answers[question.id] = "555 010 2323"
        elif question.type == "short_text":
            answers[question.id] = "Rowan Example"
        else:
            answers[question.id] = "Low mood for two years; looking for something that lasts."
    return answers


# -- the signature ------------------------------------------------------------------------------

def signed_name(typed: str) -> str:
    """The typed name as the signature stores it: NFKC-normalised (fullwidth "Ｊｕｎｉｐｅｒ" is "Juniper", which
    the PDF's fonts can draw; attacker review of issue 26, finding 6), single-spaced, capitalised as typed."""
    return " ".join(unicodedata.normalize("NFKC", typed).split())


def same_name(typed: str, expected: str) -> bool:
    """The typed name is the patient's, case and spacing ignored (and accents typed alike)."""
    def folded(name: str) -> str:
        return signed_name(name).casefold()
    return bool(folded(typed)) and folded(typed) == folded(expected)


def signature_problems(form: FormDefinition, *, typed_name, agreed, patient_name: str) -> Problems:
    """The patient types their name as the record holds it; a consent's agreement is ticked."""
    problems = {}
    if not isinstance(typed_name, str) or not typed_name.strip():
        problems["typed_name"] = "Type your full name to sign."
    elif not same_name(typed_name, patient_name):
        problems["typed_name"] = f"Type your name as the clinic has it: {patient_name}."
    if form.consent is not None and agreed is not True:
        problems["agreed"] = "Tick the box to agree; without it the consent is not signed."
    return problems


# -- the document -------------------------------------------------------------------------------

def build_document(form: FormDefinition, answers: Answers, *, patient: dict, signature: dict) -> dict:
    """The signed document (the contract of issue 26): the form's exact text and questions, the
    answers as given and as read, the flags they raised, the patient and the signature."""
    reasons = {q.id: reason for q, reason in flagged_answers(form, answers)}
    return {
        "schema": SCHEMA,
        "form": {"id": form.id, "version": form.version, "kind": form.kind, "title": form.title,
                 "content_sha256": form.content_hash},
        "patient": patient,
        "consent": ({"paragraphs": form.consent.paragraphs, "agreement": form.consent.agreement}
                    if form.consent else None),
        "sections": [{"id": s.id, "title": s.title, "paragraphs": paragraphs(s.text) if s.text else [],
                      "questions": [{"id": q.id, "type": q.type, "label": q.label,
                                     "answer": answers.get(q.id),
                                     "answer_text": answer_text(q, answers.get(q.id)),
                                     "flag_reason": reasons.get(q.id)} for q in s.questions]}
                     for s in form.sections],
        "signature": signature,
    }


def flag_count(document: dict) -> int:
    """How many answers the signed document flags (a question with a flag_reason): what the signed row
    keeps as flagged_count, and what `flask signatures verify` recounts against it."""
    return sum(1 for section in document["sections"] for q in section["questions"] if q["flag_reason"])


def document_json(document: dict) -> str:
    """The document as stored and digested: canonical JSON (key order and layout never matter)."""
    return canonical_json(document)


def document_digest(document: dict) -> str:
    """SHA-256 of the canonical JSON: what `flask signatures verify` recomputes from the stored text."""
    return content_hash(document)
