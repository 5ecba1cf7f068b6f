"""Intake and consent forms as data (issue 26, point 1): the shipped set passes, and every kind of
problem a form file can have is reported as file:line field: message, one row per kind of error,
each from a small valid file with one thing broken."""
from pathlib import Path

import pytest

from ketamine_integration.domain.form_definitions import form_noun, paragraphs
from ketamine_integration.domain.form_library import MAX_FILE_BYTES, build, load_folder, read_file

SHIPPED = Path(__file__).resolve().parents[2] / "forms"
#: the starting set the issue asks for: a consent per treatment route, psychotherapy, transport,
#: telehealth, and the intake questionnaire with its contraindication screen
SHIPPED_FORMS = {"consent-iv-ketamine", "consent-im-ketamine", "consent-sublingual-ketamine",
                 "consent-intranasal-esketamine", "consent-psychotherapy-integration",
                 "agreement-transport-no-driving", "consent-telehealth", "intake-questionnaire"}

CONSENT = """\
form: consent-demo
kind: consent
version: 1
title: Consent to a demonstration
routes: [iv]
resign_on_change: true
consent:
  text: |
    First paragraph of what the patient agrees to,
    over two lines.

    Second paragraph.
  agreement: I agree.
sections:
  - id: before
    title: Before you sign
    questions:
      - id: understood
        type: yes_no
        label: I have read this form.
        required: true
        flag:
          when: "no"
          reason: Questions to answer before dosing.
      - id: support
        type: choice
        label: Who takes you home
        options:
          - {key: partner, label: "Partner"}
          - {key: friend, label: "Friend"}
        flag:
          when: [friend]
          reason: Check the friend's availability.
      - id: meds
        type: medication_list
        label: Medications
      - id: last_check
        type: date
        label: Last blood pressure check
"""

INTAKE = """\
form: intake-demo
kind: intake
version: 2
title: Intake
resign_on_change: false
sections:
  - id: health
    title: Health
    questions:
      - id: concern
        type: text
        label: What brings you here?
"""


def check(tmp_path, text: str, name: str = "form.yaml") -> list[str]:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return list(read_file(path).problems)


def test_the_shipped_set_passes():
    library = load_folder(SHIPPED)
    assert [f.problems for f in library.broken] == []
    assert {f.id for f in library.forms} == SHIPPED_FORMS
    assert all(f.consent and f.consent.text and f.consent.agreement
               for f in library.forms if f.kind == "consent")
    # one treatment consent per route the protocols use (in its newest version)
    consents = [f for f in library.newest() if f.kind == "consent"]
    assert sorted(r for f in consents for r in f.routes) == ["im", "intranasal", "iv", "sublingual"]
    intake = library.find("intake-questionnaire", 1)
    # version 2 refuses a future date for the last blood pressure check, and asks nobody to sign again
    newest_intake = library.find("intake-questionnaire", 2)
    assert [q.id for q in newest_intake.questions if q.not_after == "today"] == ["last_blood_pressure_check"]
    assert not newest_intake.resign_on_change
    assert [q.not_after for q in intake.questions if q.type == "date"] == [None]
    flagged = {q.id for q in intake.flagged_questions}
    # the contraindication screen names its flagged answers in the file
    assert {"history_of_psychosis", "high_blood_pressure", "pregnancy", "substance_use",
            "interacting_medications"} <= flagged
    assert {q.type for q in intake.questions} == {"text", "choice", "yes_no", "date", "medication_list"}
    # who countersigns, and which withdrawals stop dosing (the contract of issue 26)
    newest = {f.id: f for f in library.newest()}
    assert {i: f.countersign for i, f in newest.items() if f.countersign} == {
        "consent-iv-ketamine": "prescriber", "consent-im-ketamine": "prescriber",
        "consent-sublingual-ketamine": "prescriber", "consent-intranasal-esketamine": "prescriber",
        "consent-psychotherapy-integration": "therapist", "intake-questionnaire": "prescriber"}
    assert {i for i, f in newest.items() if f.withdrawal_blocks_dosing} == {
        "consent-iv-ketamine", "consent-im-ketamine", "consent-sublingual-ketamine",
        "consent-intranasal-esketamine", "agreement-transport-no-driving"}


def test_the_newest_shipped_forms_speak_to_the_patient_and_ask_names_and_phones_on_one_line():
    """Issue 26 review, points 7 and 8: the summary the tablet and the portal show is written to the patient
    (second person), and a name or phone number is a short text or a phone question; the versions that
    changed only that ask nobody to sign again."""
    library = load_folder(SHIPPED)
    newest = library.newest()
    for form in newest:
        assert "the patient" not in form.summary and " you" in f" {form.summary.lower()}", form.id
    asked = {q.id: q.type for f in newest for q in f.questions
             if q.id.endswith(("_name", "_phone"))}
    assert asked == {"escort_name": "short_text", "escort_phone": "phone", "emergency_contact_name": "short_text",
                     "emergency_contact_phone": "phone", "callback_phone": "phone"}
    for form in newest:
        if form.version > 1 and form.kind == "consent":
            assert not form.resign_on_change, form.id


def test_a_valid_form_is_read_whole(tmp_path):
    [entry] = build([_write(tmp_path, "c.yaml", CONSENT)]).files
    form = entry.form
    assert (form.id, form.kind, form.version, form.resign_on_change, form.routes) == \
        ("consent-demo", "consent", 1, True, ("iv",))
    assert form.consent.paragraphs == ["First paragraph of what the patient agrees to, over two lines.",
                                       "Second paragraph."]
    assert [q.id for q in form.flagged_questions] == ["understood", "support"]
    assert form.questions[0].flag.when == ("no",) and form.questions[1].option_label("friend") == "Friend"
    assert len(form.content_hash) == 64
    assert (form.countersign, form.withdrawal_blocks_dosing) == (None, False)
    assert check(tmp_path, INTAKE) == []


def test_the_hash_is_of_the_content_not_the_layout(tmp_path):
    spaced = CONSENT.replace("routes: [iv]", "routes:\n  - iv").replace("form: consent-demo", "form:   consent-demo")
    [a, b] = build([_write(tmp_path, "a.yaml", CONSENT), _write(tmp_path, "b.yaml",
                                                                spaced.replace("version: 1", "version: 2"))]).forms
    [c] = build([_write(tmp_path, "c.yaml", spaced)]).forms
    assert a.content_hash == c.content_hash != b.content_hash


def _write(directory: Path, name: str, text: str) -> Path:
    path = directory / name
    path.write_text(text, encoding="utf-8")
    return path


# (what is broken, the file's text, the problem reported: file:line field: message)
ERRORS = [
    # a question type the format does not know
    ("unknown question type", CONSENT.replace("type: date", "type: slider"),
     "form.yaml:38 sections[0].questions[3].type: 'slider' is not a question type"),
    # a consent without the text the patient agrees to
    ("missing consent text", CONSENT.replace("  text: |\n    First paragraph of what the patient agrees to,\n"
                                             "    over two lines.\n\n    Second paragraph.\n", ""),
     "form.yaml:7 consent.text: required key is missing"),
    # a consent without any consent block at all
    ("missing consent", CONSENT.replace("consent:\n", "consentt:\n"),
     "form.yaml:1 consent: a consent needs consent.text"),
    # consent text on an intake form
    ("consent on an intake form", INTAKE + "consent:\n  text: x\n  agreement: y\n",
     "form.yaml:13 consent: an intake form has no consent text"),
    # a choice question without options
    ("choice without options", CONSENT.replace(
        '        options:\n          - {key: partner, label: "Partner"}\n          - {key: friend, label: "Friend"}\n',
        "").replace("when: [friend]", "when: [partner]"),
     "form.yaml:25 sections[0].questions[1].options: a choice question needs a list of at least two options"),
    # a flag on a short text or phone question: only a choice or yes/no names answers to review
    ("flag on a phone question", INTAKE.replace("type: text", "type: phone") + '        flag: {when: "no", reason: R}\n',
     "form.yaml:13 sections[0].questions[0].flag: only a choice or yes/no question flags answers (this one is phone)"),
    # options on a short text question
    ("options on a short text question", INTAKE.replace("type: text", "type: short_text")
     + "        options: [{key: a, label: A}, {key: b, label: B}]\n",
     "form.yaml:13 sections[0].questions[0].options: only a choice question has options (this one is short_text)"),
    # options on a question that is not a choice
    ("options on a text question", INTAKE + "        options: [{key: a, label: A}, {key: b, label: B}]\n",
     "form.yaml:13 sections[0].questions[0].options: only a choice question has options"),
    # two options with the same key
    ("duplicate option key", CONSENT.replace("{key: friend, label", "{key: partner, label"),
     "form.yaml:30 sections[0].questions[1].options[1].key: 'partner' is already an option"),
    # two questions with the same id (answers are stored by id)
    ("duplicate question id", CONSENT.replace("id: last_check", "id: understood"),
     "form.yaml:37 sections[0].questions[3].id: 'understood' is already the id of sections[0].questions[0]"),
    # two sections with the same id
    ("duplicate section id", INTAKE + "  - id: health\n    title: Again\n    text: More.\n",
     "form.yaml:13 sections[1].id: 'health' is already the id of another section"),
    # a flag naming an option the question does not have
    ("flagged answer not an option", CONSENT.replace("when: [friend]", "when: [neighbour]"),
     "form.yaml:32 sections[0].questions[1].flag.when: 'neighbour' is not an answer of this question"),
    # a yes/no flag on an answer other than yes or no
    ("flagged answer not yes or no", CONSENT.replace('when: "no"', "when: maybe"),
     "form.yaml:23 sections[0].questions[0].flag.when: 'maybe' is not an answer"),
    # a latest day on a question that is not a date
    ("not_after on a yes/no question", CONSENT.replace("        required: true\n        flag:",
                                                      "        required: true\n        not_after: today\n        flag:"),
     "form.yaml:22 sections[0].questions[0].not_after: only a date question takes not_after (this one is yes_no)"),
    # a latest day the format does not know
    ("not_after other than today", CONSENT.replace("label: Last blood pressure check",
                                                   "label: Last blood pressure check\n        not_after: tomorrow"),
     "form.yaml:40 sections[0].questions[3].not_after: 'tomorrow': a date question's latest day is today"),
    # YAML's bare no is false: the message says to quote it
    ("bare yes/no in a flag", CONSENT.replace('when: "no"', "when: no"),
     'form.yaml:23 sections[0].questions[0].flag.when: write "yes" and "no" in quotes'),
    # a flag on a question whose answers are free text
    ("flag on a medication list", CONSENT.replace("        label: Medications\n",
                                                  "        label: Medications\n        flag: {when: any, reason: x}\n"),
     "form.yaml:37 sections[0].questions[2].flag: only a choice or yes/no question flags answers"),
    # a flag with no reason for the reviewer
    ("flag without a reason", CONSENT.replace("          reason: Check the friend's availability.\n", ""),
     "form.yaml:31 sections[0].questions[1].flag.reason: required key is missing"),
    # a version that is not a whole number of at least 1
    ("bad version", CONSENT.replace("version: 1", "version: 1.5"),
     "form.yaml:3 version: 1.5: must be a whole number of at least 1"),
    ("version zero", CONSENT.replace("version: 1", "version: 0"), "form.yaml:3 version: 0: must be a whole number"),
    # resign_on_change must say yes or no: the later re-signing rule reads it
    ("missing resign_on_change", CONSENT.replace("resign_on_change: true\n", ""),
     "form.yaml:1 resign_on_change: required key is missing"),
    ("resign_on_change not a boolean", CONSENT.replace("resign_on_change: true", "resign_on_change: sometimes"),
     "form.yaml:6 resign_on_change: must be true or false"),
    # a kind the format does not know
    ("unknown kind", CONSENT.replace("kind: consent", "kind: waiver"), "form.yaml:2 kind: 'waiver' is not a kind of form"),
    # a key the format does not know (a misspelling)
    ("unknown key", CONSENT.replace("        required: true\n", "        requird: true\n"),
     "form.yaml:21 sections[0].questions[0].requird: unknown key"),
    # a route the protocols do not have
    ("unknown route", CONSENT.replace("routes: [iv]", "routes: [iv, oral_spray]"),
     "form.yaml:5 routes[1]: 'oral_spray' is not a route"),
    # routes on an intake form
    ("routes on an intake form", INTAKE.replace("resign_on_change", "routes: [iv]\nresign_on_change"),
     "form.yaml:5 routes: only a consent names the treatment routes it covers"),
    # an id that is not lower-case letters and digits
    ("bad question id", CONSENT.replace("id: meds", "id: Current Meds"),
     "form.yaml:34 sections[0].questions[2].id: 'Current Meds': use lower-case letters"),
    # a label over two lines
    ("label over two lines", CONSENT.replace("label: Medications", "label: |\n          Medications\n          now"),
     "form.yaml:36 sections[0].questions[2].label: must be one line"),
    # a blank title
    ("blank title", CONSENT.replace("title: Consent to a demonstration", 'title: " "'),
     "form.yaml:4 title: must be text (not blank)"),
    # required must be true or false
    ("required not a boolean", CONSENT.replace("required: true", "required: often"),
     "form.yaml:21 sections[0].questions[0].required: must be true or false"),
    # multiple on a question that is not a choice
    ("multiple on a yes/no question", CONSENT.replace("        required: true\n",
                                                      "        required: true\n        multiple: true\n"),
     "form.yaml:22 sections[0].questions[0].multiple: only a choice question takes multiple"),
    # an intake form asking nothing
    ("intake without questions", INTAKE.replace(
        "    questions:\n      - id: concern\n        type: text\n        label: What brings you here?\n",
        "    text: Only words.\n"),
     "form.yaml:6 sections: an intake form asks at least one question"),
    # no sections at all
    ("empty sections", INTAKE.split("sections:")[0] + "sections: []\n",
     "form.yaml:6 sections: must be a list of at least one section"),
    # a section with neither text nor questions
    ("empty section", INTAKE + "  - id: empty\n    title: Nothing\n",
     "form.yaml:13 sections[1]: a section shows text, asks questions, or both"),
    # the top level is not a mapping
    ("not a mapping", "- just\n- a list\n", "form.yaml:1 (top level): must be a mapping"),
    # the shape check: a key given twice in one mapping (YAML keeps the last silently)
    ("repeated key", CONSENT.replace("title: Consent to a demonstration", "title: A\ntitle: B"),
     "form.yaml:5 title: is given twice in the same mapping"),
    # the shape check: an alias
    ("YAML alias", CONSENT.replace("title: Consent to a demonstration", "title: &t A\nsummary: *t"),
     "form.yaml:5 summary: uses a YAML alias"),
    # the shape check: a control character
    ("control character", CONSENT.replace("I agree.", '"I agree.\\u0000"'),
     "form.yaml:13 consent.agreement: holds a control character (U+0000)"),
    # who countersigns: a role the format knows
    ("unknown countersigner", CONSENT.replace("resign_on_change: true", "resign_on_change: true\ncountersign: nurse"),
     "form.yaml:7 countersign: 'nurse' is not who countersigns; use one of: prescriber, therapist, staff"),
    # withdrawal_blocks_dosing is true or false
    ("withdrawal_blocks_dosing not a boolean",
     CONSENT.replace("resign_on_change: true", "resign_on_change: true\nwithdrawal_blocks_dosing: often"),
     "form.yaml:7 withdrawal_blocks_dosing: must be true or false"),
    # an intake form is not withdrawn
    ("withdrawal_blocks_dosing on an intake form",
     INTAKE.replace("resign_on_change: false", "resign_on_change: false\nwithdrawal_blocks_dosing: true"),
     "form.yaml:6 withdrawal_blocks_dosing: only a consent is withdrawn"),
    # values that are lists or mappings where a word is asked for (they cannot be looked up: no TypeError)
    ("question type as a list", CONSENT.replace("type: date", "type: [phone]"),
     "form.yaml:38 sections[0].questions[3].type: ['phone'] is not a question type"),
    ("question type as a mapping", CONSENT.replace("type: date", "type: {a: 1}"),
     "form.yaml:38 sections[0].questions[3].type: {'a': 1} is not a question type"),
    ("section id as a list", CONSENT.replace("  - id: before", "  - id: [x]"),
     "form.yaml:15 sections[0].id: ['x']: use lower-case letters"),
    ("question id as a list", CONSENT.replace("      - id: meds", "      - id: [x]"),
     "form.yaml:34 sections[0].questions[2].id: ['x']: use lower-case letters"),
    ("kind as a list", CONSENT.replace("kind: consent", "kind: [consent]"),
     "form.yaml:2 kind: ['consent'] is not a kind of form"),
    ("countersign as a mapping", CONSENT.replace("routes: [iv]", "routes: [iv]\ncountersign: {a: 1}"),
     "form.yaml:6 countersign: {'a': 1} is not who countersigns"),
    ("route as a list", CONSENT.replace("routes: [iv]", "routes: [[iv]]"),
     "form.yaml:5 routes[0]: ['iv'] is not a route"),
    ("not_after as a list", CONSENT.replace("        label: Last blood pressure check",
                                            "        label: Last blood pressure check\n        not_after: [today]"),
     "form.yaml:40 sections[0].questions[3].not_after: ['today']: a date question's latest day"),
    # a syntax error
    ("not YAML", "form: [unclosed\n", "form.yaml:2 (file): is not valid YAML"),
]


@pytest.mark.parametrize("text, expected", [row[1:] for row in ERRORS], ids=[row[0] for row in ERRORS])
def test_every_kind_of_error_names_file_line_and_field(tmp_path, text, expected):
    problems = check(tmp_path, text)
    assert any(p.startswith(expected) for p in problems), problems


def test_a_file_with_an_unhashable_type_is_unusable_at_runtime(tmp_path):
    """`type: [phone]` is a field error, and the library leaves the file out (no page raises on it)."""
    _write(tmp_path, "good.yaml", INTAKE)
    _write(tmp_path, "bad.yaml", CONSENT.replace("type: date", "type: [phone]"))
    library = load_folder(tmp_path)
    assert [f.id for f in library.forms] == ["intake-demo"]
    assert any("bad.yaml:38 sections[0].questions[3].type" in p for f in library.files for p in f.problems)


def test_every_problem_of_a_file_is_reported(tmp_path):
    text = CONSENT.replace("type: date", "type: slider").replace("when: [friend]", "when: [neighbour]") \
        .replace("version: 1", "version: -1")
    problems = check(tmp_path, text)
    assert [p.split(":", 2)[1].split(" ")[1] for p in problems] == \
        ["version", "sections[0].questions[1].flag.when", "sections[0].questions[3].type"]


def test_a_broken_option_list_is_reported_once(tmp_path):
    # the flag is not checked against half a list of options
    problems = check(tmp_path, CONSENT.replace('{key: friend, label: "Friend"}', "{key: friend}"))
    assert problems == ["form.yaml:30 sections[0].questions[1].options[1].label: required key is missing"]


def test_the_same_form_version_in_two_files_refuses_both(tmp_path):
    library = build([_write(tmp_path, "a.yaml", CONSENT), _write(tmp_path, "b.yaml", CONSENT)])
    assert library.forms == ()
    assert library.files[0].problems == ("a.yaml: version: consent-demo version 1 is also defined in b.yaml; "
                                         "raise the version of the newer file",)
    newer = build([_write(tmp_path, "a.yaml", CONSENT),
                   _write(tmp_path, "b.yaml", CONSENT.replace("version: 1", "version: 2"))])
    assert [f.version for f in newer.newest()] == [2] and newer.find("consent-demo", 1) is not None


@pytest.mark.parametrize("text, expected", [
    # a file over the size limit is refused unread
    ("x" * (MAX_FILE_BYTES + 1), f"form.yaml: (file): is {MAX_FILE_BYTES + 1:,} bytes"),
    # nested lists past the depth limit: refused before any object is built
    ("a: " + "[" * 50 + "]" * 50 + "\n", "nests deeper than 10 levels"),
    # a billion-laughs-shaped file: thousands of values
    ("a: [" + ", ".join(["1"] * 6000) + "]\n", "has more than 5,000 values"),
])
def test_hostile_files_are_refused_within_limits(tmp_path, text, expected):
    problems = check(tmp_path, text)
    assert len(problems) == 1 and expected in problems[0], problems


def test_a_file_that_is_not_utf8(tmp_path):
    path = tmp_path / "latin.yaml"
    path.write_bytes("title: caf\xe9\n".encode("latin-1"))
    assert read_file(path).problems == ("latin.yaml: (file): is not UTF-8 text",)


@pytest.mark.parametrize("text, expected", [
    ("One.\n\nTwo\nlines.\n", ["One.", "Two lines."]),   # paragraphs split on blank lines, lines joined
    ("  \n\nOnly.  \n\n\n", ["Only."]),                  # blank edges dropped
])
def test_paragraphs(text, expected):
    assert paragraphs(text) == expected


@pytest.mark.parametrize("form_id, kind, noun", [
    ("agreement-transport-no-driving", "consent", "agreement"),   # the id names it: withdrawn like a consent
    ("consent-iv-ketamine", "consent", "consent"),                 # the id says consent
    ("telehealth", "consent", "consent"),                          # no word in the id: the kind's
    ("intake-questionnaire", "intake", "intake form"),             # an intake form
    ("agreements_extra", "consent", "consent"),                    # "agreements" is not the word "agreement"
    ("consent_psychotherapy", "consent", "consent"),               # the id's first word before an underscore
])
def test_a_form_is_called_what_its_id_says(form_id, kind, noun):
    assert form_noun(form_id, kind) == noun
