"""Intake and consent forms as data: the format of a form file (forms/*.yaml) and its checks.

A form is versioned like a protocol: what a patient signs later is this exact version, its text and
its answers, hashed (content_hash). A consent carries the full text the patient agrees to and the
sentence they sign; an intake form asks questions, and names the answers that need a prescriber's
review (flags: a contraindication screen). Every problem is (field path, message), the path as the
file spells it (sections[1].questions[0].options), so the file check can add its line.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

# content_hash: SHA-256 of the canonical JSON, the protocols' rule (the same content, the same hash)
from .protocols import ROUTES, content_hash

KINDS = ("consent", "intake")
#: question type -> what the patient gives
QUESTION_TYPES = {
    "text": "text, one or more paragraphs",
    "short_text": "a line of text, such as a name (one line, at most 200 characters)",
    "phone": "a phone number (digits, spaces and + ( ) - . only)",
    "choice": "one of the options (several with multiple: true)",
    "yes_no": "yes or no",
    "date": "a date",
    "medication_list": "a list of medications (name, dose, how often)",
}
#: the question types whose answers a flag can name
FLAGGABLE = ("choice", "yes_no")
#: who countersigns a form after the patient (a consent to treatment: its prescriber; the psychotherapy
#: consent: the therapist; the intake questionnaire: the prescriber, who reviews the history)
COUNTERSIGNERS = ("prescriber", "therapist", "staff")
YES_NO = ("yes", "no")
ID_PATTERN = re.compile(r"[a-z0-9]+(?:[-_][a-z0-9]+)*")
#: ids are stored with answers later (String(60)); titles and labels are one line
MAX_ID, MAX_TITLE, MAX_LABEL, MAX_REASON = 60, 120, 300, 200
#: the consent text: the whole of what a patient agrees to (a few thousand characters in practice)
MAX_CONSENT_TEXT, MAX_PARAGRAPH = 20_000, 4_000
MAX_SECTIONS, MAX_QUESTIONS, MAX_OPTIONS = 30, 200, 40

TOP_KEYS = {"form", "kind", "version", "title", "summary", "routes", "resign_on_change", "consent",
            "sections", "countersign", "withdrawal_blocks_dosing"}
REQUIRED_TOP = ("form", "kind", "version", "title", "resign_on_change", "sections")
SECTION_KEYS = {"id", "title", "text", "questions"}
QUESTION_KEYS = {"id", "type", "label", "help", "required", "options", "multiple", "flag", "not_after"}
#: the latest day a date question may take (`not_after`): today, the clinic's date when the patient signs
#: (a blood pressure check or a diagnosis has happened; a date after it is a typing error)
NOT_AFTER = ("today",)
OPTION_KEYS = {"key", "label"}
FLAG_KEYS = {"when", "reason"}
CONSENT_KEYS = {"text", "agreement"}

Problems = list[tuple[str, str]]


@dataclass(frozen=True)
class Option:
    key: str
    label: str


@dataclass(frozen=True)
class Flag:
    """Answers that need a prescriber's review before dosing, and why (shown to the reviewer)."""

    when: tuple[str, ...]
    reason: str


@dataclass(frozen=True)
class Question:
    id: str
    type: str
    label: str
    help: str = ""
    required: bool = False
    options: tuple[Option, ...] = ()
    #: a choice question: may the patient choose several options
    multiple: bool = False
    flag: Flag | None = None
    #: a date question: the latest day it accepts, one of NOT_AFTER (None: any day of its years)
    not_after: str | None = None

    def option_label(self, key: str) -> str:
        if self.type == "yes_no":
            return key.capitalize()
        return next((o.label for o in self.options if o.key == key), key)


@dataclass(frozen=True)
class Section:
    id: str
    title: str
    #: paragraphs shown before the questions (a consent's own wording lives in `consent`)
    text: str = ""
    questions: tuple[Question, ...] = ()


@dataclass(frozen=True)
class Consent:
    #: the full text the patient agrees to, paragraphs separated by blank lines
    text: str
    #: the sentence the patient signs
    agreement: str

    @property
    def paragraphs(self) -> list[str]:
        return paragraphs(self.text)


@dataclass(frozen=True)
class FormDefinition:
    id: str
    kind: str
    version: int
    title: str
    #: a new version asks patients who signed an earlier one to sign again only when this is true
    resign_on_change: bool
    sections: tuple[Section, ...]
    summary: str = ""
    #: a consent to a treatment route: the routes it covers (empty: every route)
    routes: tuple[str, ...] = ()
    consent: Consent | None = None
    #: who countersigns after the patient (None: nobody): one of COUNTERSIGNERS
    countersign: str | None = None
    #: a consent whose withdrawal stops dosing (the treatment consents, the no-driving agreement)
    withdrawal_blocks_dosing: bool = False
    #: SHA-256 of the definition as written (a signed form will store it beside the version)
    content_hash: str = ""

    @property
    def key(self) -> tuple[str, int]:
        return self.id, self.version

    @property
    def noun(self) -> str:
        return form_noun(self.id, self.kind)

    @property
    def questions(self) -> tuple[Question, ...]:
        return tuple(q for s in self.sections for q in s.questions)

    @property
    def flagged_questions(self) -> tuple[Question, ...]:
        return tuple(q for q in self.questions if q.flag is not None)


#: the word a form's id opens with, when it names what the form is (forms/README.md: "agreement-transport-…")
_ID_NOUNS = ("agreement", "consent")


def form_noun(form_id: str, kind: str) -> str:
    """What a reader calls the form: the word its id opens with when that names it (the transport and
    no-driving agreement is an agreement, though its kind is consent: it is withdrawn like one), else
    its kind's word ("consent", "intake form")."""
    first = form_id.split("-", 1)[0].split("_", 1)[0]
    if first in _ID_NOUNS:
        return first
    return "consent" if kind == "consent" else "intake form"


def paragraphs(text: str) -> list[str]:
    """Paragraphs of a text block: separated by blank lines, each one's lines joined."""
    return [" ".join(line.strip() for line in block.splitlines()) for block in re.split(r"\n\s*\n", text.strip())
            if block.strip()]


# -- the checks ----------------------------------------------------------------------------------

def parse_definition(data) -> tuple[FormDefinition | None, Problems]:
    """A file's content: (the form, []) or (None, every problem found as (field path, message))."""
    if not isinstance(data, dict):
        return None, [("(top level)", "must be a mapping with form, kind, version, title, "
                                      "resign_on_change and sections")]
    problems = _header_problems(data)
    kind = data.get("kind")
    consent, found = _consent(data, kind)
    problems += found
    sections, found = _sections(data.get("sections"), kind) if "sections" in data else ((), [])
    problems += found
    if problems:
        return None, problems
    return FormDefinition(id=data["form"], kind=kind, version=data["version"], title=data["title"].strip(),
                          resign_on_change=data["resign_on_change"], sections=sections,
                          summary=(data.get("summary") or "").strip(), routes=tuple(data.get("routes") or ()),
                          consent=consent, countersign=data.get("countersign"),
                          withdrawal_blocks_dosing=data.get("withdrawal_blocks_dosing", False),
                          content_hash=content_hash(data)), []


def _header_problems(data: dict) -> Problems:
    """The top level's keys and its single values: form id, kind, version, title, summary, routes,
    resign_on_change."""
    problems = _unknown(data, TOP_KEYS, "", "a form has " + ", ".join(sorted(TOP_KEYS)))
    problems += [(k, "required key is missing") for k in REQUIRED_TOP if k not in data]
    problems += _id_problems(data.get("form"), "form") if "form" in data else []
    if "kind" in data and not _is_one_of(data["kind"], KINDS):
        problems.append(("kind", f"{data['kind']!r} is not a kind of form; use one of: {', '.join(KINDS)}"))
    problems += _version_problems(data)
    problems += _line_problems(data.get("title"), "title", MAX_TITLE) if "title" in data else []
    if "summary" in data:
        problems += _block_problems(data["summary"], "summary", MAX_PARAGRAPH)
    problems += _routes_problems(data)
    problems += _signing_problems(data)
    if "resign_on_change" in data and not isinstance(data["resign_on_change"], bool):
        problems.append(("resign_on_change", "must be true or false (does a new version ask patients who "
                                             "signed an earlier one to sign again?)"))
    return problems


def _unknown(mapping: dict, allowed: set, where: str, has: str) -> Problems:
    return [(f"{where}.{k}" if where else str(k), f"unknown key ({has}; check the spelling)")
            for k in mapping if k not in allowed]


def _version_problems(data: dict) -> Problems:
    if "version" not in data:
        return []
    version = data["version"]
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        return [("version", f"{version!r}: must be a whole number of at least 1 (raise it when the form changes)")]
    return []


def _routes_problems(data: dict) -> Problems:
    if "routes" not in data:
        return []
    routes = data["routes"]
    if data.get("kind") != "consent":
        return [("routes", "only a consent names the treatment routes it covers")]
    if not isinstance(routes, list) or not routes:
        return [("routes", f"must be a list of routes: {', '.join(ROUTES)}")]
    problems = [(f"routes[{i}]", f"{r!r} is not a route; use one of: {', '.join(ROUTES)}")
                for i, r in enumerate(routes) if not _is_one_of(r, ROUTES)]
    problems += [(f"routes[{i}]", f"{r!r} is listed twice") for i, r in enumerate(routes) if r in routes[:i]]
    return problems


def _signing_problems(data: dict) -> Problems:
    """Who countersigns, and whether withdrawing the consent stops dosing (a consent's question only)."""
    problems = []
    if "countersign" in data and not _is_one_of(data["countersign"], COUNTERSIGNERS):
        problems.append(("countersign", f"{data['countersign']!r} is not who countersigns; use one of: "
                                        f"{', '.join(COUNTERSIGNERS)} (or leave it out: nobody countersigns)"))
    if "withdrawal_blocks_dosing" in data:
        if not isinstance(data["withdrawal_blocks_dosing"], bool):
            problems.append(("withdrawal_blocks_dosing", "must be true or false (does withdrawing this consent "
                                                         "stop dosing?)"))
        elif data.get("kind") != "consent":
            problems.append(("withdrawal_blocks_dosing", "only a consent is withdrawn (an intake form is not)"))
    return problems


def _consent(data: dict, kind) -> tuple[Consent | None, Problems]:
    """A consent's text and agreement: required for a consent, refused on an intake form."""
    if kind == "intake":
        return None, [("consent", "an intake form has no consent text (make it kind: consent)")] \
            if "consent" in data else []
    if kind != "consent":
        return None, []
    consent = data.get("consent")
    if consent is None:
        return None, [("consent", "a consent needs consent.text (the full text the patient agrees to) "
                                  "and consent.agreement (the sentence they sign)")]
    if not isinstance(consent, dict):
        return None, [("consent", "must be a mapping with text and agreement")]
    problems = _unknown(consent, CONSENT_KEYS, "consent", "a consent has text and agreement")
    problems += _block_problems(consent.get("text"), "consent.text", MAX_CONSENT_TEXT)
    problems += _line_problems(consent.get("agreement"), "consent.agreement", MAX_LABEL)
    if problems:
        return None, problems
    return Consent(text=consent["text"].strip(), agreement=consent["agreement"].strip()), []


def _sections(sections, kind) -> tuple[tuple[Section, ...], Problems]:
    if not isinstance(sections, list) or not sections:
        return (), [("sections", "must be a list of at least one section")]
    if len(sections) > MAX_SECTIONS:
        return (), [("sections", f"has {len(sections)} sections; the limit is {MAX_SECTIONS}")]
    built, problems = [], []
    for i, section in enumerate(sections):
        made, found = _section(section, f"sections[{i}]")
        problems += found
        if made is not None:
            built.append(made)
    problems += _repeated_ids(sections)
    if not problems and kind == "intake" and not any(s.questions for s in built):
        problems.append(("sections", "an intake form asks at least one question"))
    return tuple(built), problems


def _section(section, where: str) -> tuple[Section | None, Problems]:
    if not isinstance(section, dict):
        return None, [(where, "must be a mapping with id, title and text or questions")]
    problems = _unknown(section, SECTION_KEYS, where, "a section has id, title, text and questions")
    problems += _id_problems(section.get("id"), f"{where}.id")
    problems += _line_problems(section.get("title"), f"{where}.title", MAX_TITLE)
    if "text" in section:
        problems += _block_problems(section["text"], f"{where}.text", MAX_PARAGRAPH)
    questions = section.get("questions", [])
    if not isinstance(questions, list):
        return None, problems + [(f"{where}.questions", "must be a list of questions")]
    if not questions and "text" not in section:
        problems.append((where, "a section shows text, asks questions, or both"))
    if len(questions) > MAX_QUESTIONS:
        return None, problems + [(f"{where}.questions", f"has {len(questions)} questions; "
                                                        f"the limit is {MAX_QUESTIONS}")]
    built = []
    for j, question in enumerate(questions):
        made, found = _question(question, f"{where}.questions[{j}]")
        problems += found
        if made is not None:
            built.append(made)
    if problems:
        return None, problems
    return Section(id=section["id"], title=section["title"].strip(), text=(section.get("text") or "").strip(),
                   questions=tuple(built)), []


def _question(question, where: str) -> tuple[Question | None, Problems]:
    if not isinstance(question, dict):
        return None, [(where, "must be a mapping with id, type and label")]
    problems = _unknown(question, QUESTION_KEYS, where, "a question has " + ", ".join(sorted(QUESTION_KEYS)))
    problems += _id_problems(question.get("id"), f"{where}.id")
    kind = question.get("type")
    if not _is_one_of(kind, QUESTION_TYPES):
        problems.append((f"{where}.type", f"{kind!r} is not a question type; use one of: "
                                          f"{', '.join(QUESTION_TYPES)}" if kind is not None
                         else "required key is missing"))
    problems += _line_problems(question.get("label"), f"{where}.label", MAX_LABEL)
    if "help" in question:
        problems += _line_problems(question["help"], f"{where}.help", MAX_LABEL)
    for flag_key in ("required", "multiple"):
        if flag_key in question and not isinstance(question[flag_key], bool):
            problems.append((f"{where}.{flag_key}", "must be true or false"))
    if "multiple" in question and kind != "choice":
        problems.append((f"{where}.multiple", "only a choice question takes multiple"))
    problems += _not_after_problems(question, where, kind)
    options, found = _options(question, where, kind)
    problems += found
    # a broken option list is reported once: the flag's answers are checked against a whole one
    flag, found = _flag(question, where, kind, None if found else options)
    problems += found
    if problems:
        return None, problems
    return Question(id=question["id"], type=kind, label=question["label"].strip(),
                    help=(question.get("help") or "").strip(), required=question.get("required", False),
                    options=options, multiple=question.get("multiple", False), flag=flag,
                    not_after=question.get("not_after")), []


def _not_after_problems(question: dict, where: str, kind) -> Problems:
    """A date question's latest day: today, or nothing (any day)."""
    if "not_after" not in question:
        return []
    if kind != "date":
        return [(f"{where}.not_after", f"only a date question takes not_after (this one is {kind})")]
    if not _is_one_of(question["not_after"], NOT_AFTER):
        return [(f"{where}.not_after", f"{question['not_after']!r}: a date question's latest day is "
                                       f"{' or '.join(NOT_AFTER)} (leave not_after out for any day)")]
    return []


def _options(question: dict, where: str, kind) -> tuple[tuple[Option, ...], Problems]:
    options = question.get("options")
    if kind != "choice":
        return (), [(f"{where}.options", f"only a choice question has options (this one is {kind})")] \
            if options is not None else []
    if not isinstance(options, list) or len(options) < 2:
        return (), [(f"{where}.options", "a choice question needs a list of at least two options, "
                                         "each {key, label}")]
    if len(options) > MAX_OPTIONS:
        return (), [(f"{where}.options", f"has {len(options)} options; the limit is {MAX_OPTIONS}")]
    built, problems = [], []
    for k, option in enumerate(options):
        at = f"{where}.options[{k}]"
        if not isinstance(option, dict):
            problems.append((at, "must be a mapping with key and label"))
            continue
        found = _unknown(option, OPTION_KEYS, at, "an option has key and label")
        found += _id_problems(option.get("key"), f"{at}.key")
        found += _line_problems(option.get("label"), f"{at}.label", MAX_LABEL)
        if not found and option["key"] in {o.key for o in built}:
            found.append((f"{at}.key", f"{option['key']!r} is already an option of this question"))
        problems += found
        if not found:
            built.append(Option(key=option["key"], label=option["label"].strip()))
    return tuple(built), problems


def _flag(question: dict, where: str, kind, options: tuple[Option, ...] | None) -> tuple[Flag | None, Problems]:
    """The answers that need review: option keys of a choice, yes or no of a yes/no question."""
    flag = question.get("flag")
    if flag is None:
        return None, []
    at = f"{where}.flag"
    if not _is_one_of(kind, FLAGGABLE):
        return None, [(at, f"only a choice or yes/no question flags answers (this one is {kind})")]
    if not isinstance(flag, dict):
        return None, [(at, "must be a mapping with when (the answers) and reason")]
    problems = _unknown(flag, FLAG_KEYS, at, "a flag has when and reason")
    problems += _line_problems(flag.get("reason"), f"{at}.reason", MAX_REASON)
    when, found = _flag_answers(flag.get("when"), f"{at}.when", kind, options)
    problems += found
    if problems:
        return None, problems
    return Flag(when=tuple(when), reason=flag["reason"].strip()), []


def _flag_answers(when, at: str, kind, options: tuple[Option, ...] | None) -> tuple[list, Problems]:
    """The flagged answers as a list, and what is wrong with them."""
    if isinstance(when, (str, bool)):
        when = [when]
    answers = YES_NO if kind == "yes_no" else tuple(o.key for o in options or ())
    if not isinstance(when, list) or not when:
        return [], [(at, f"must name the flagged answers: {', '.join(answers) or 'option keys'}")]
    if any(isinstance(w, bool) for w in when):
        return when, [(at, 'write "yes" and "no" in quotes (YAML reads a bare yes or no as true or false)')]
    if options is None and kind != "yes_no":
        return when, []  # the options are broken: reported on their own
    return when, [(at, f"{w!r} is not an answer of this question; its answers are: {', '.join(answers)}")
                  for w in when if w not in answers]


def _repeated_ids(sections: list) -> Problems:
    """Section ids, and question ids across the whole form (answers are stored by question id)."""
    problems, seen_sections, seen_questions = [], set(), {}
    for i, section in enumerate(sections):
        if not isinstance(section, dict):
            continue
        sid = section.get("id")
        if isinstance(sid, str) and sid in seen_sections:
            problems.append((f"sections[{i}].id", f"{sid!r} is already the id of another section"))
        if isinstance(sid, str):  # any other id is reported by _id_problems (a list cannot go in a set)
            seen_sections.add(sid)
        questions = section.get("questions")
        for j, question in enumerate(questions if isinstance(questions, list) else []):
            qid = question.get("id") if isinstance(question, dict) else None
            if not isinstance(qid, str):
                continue
            if qid in seen_questions:
                problems.append((f"sections[{i}].questions[{j}].id",
                                 f"{qid!r} is already the id of {seen_questions[qid]} (question ids are unique "
                                 "in a form)"))
            seen_questions.setdefault(qid, f"sections[{i}].questions[{j}]")
    return problems


def _is_one_of(value, choices) -> bool:
    """Whether a file's value is one of the words `choices` names. A list or a mapping (`type: [phone]`)
    is none of them, checked before the lookup, which would raise on a value that cannot be hashed."""
    return isinstance(value, str) and value in choices


def _id_problems(value, where: str) -> Problems:
    if value is None:
        return [(where, "required key is missing")]
    if not isinstance(value, str) or not ID_PATTERN.fullmatch(value):
        return [(where, f"{value!r}: use lower-case letters and digits, joined by single dashes or "
                        "underscores, e.g. history_of_psychosis")]
    if len(value) > MAX_ID:
        return [(where, f"is {len(value)} characters long; the limit is {MAX_ID}")]
    return []


def _line_problems(value, where: str, limit: int) -> Problems:
    return _block_problems(value, where, limit, one_line=True)


def _block_problems(value, where: str, limit: int, *, one_line: bool = False) -> Problems:
    if value is None:
        return [(where, "required key is missing")]
    if not isinstance(value, str) or not value.strip():
        return [(where, "must be text (not blank)")]
    if one_line and "\n" in value.strip():
        return [(where, "must be one line")]
    if len(value.strip()) > limit:
        return [(where, f"is {len(value.strip()):,} characters long; the limit is {limit:,}")]
    return []
