"""A signed form rendered (issue 26, point 3): the tagged PDF carries the form's exact text and every
answer, is titled by form and MRN (never the patient's name) and holds no other patient's data; the
page's read-only view says the same; the answer form's page markup is accessible (a legend per
group, help and errors tied to their controls, required said in words, ids unique, problems listed
first and linked to their fields).

The signed documents are built here in the contract's shape (issue 26: "The signed document") by a
small builder, as signing will build them (signed_forms.services)."""
import logging
import re
from datetime import datetime, timezone
from html.parser import HTMLParser
from io import BytesIO
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from markupsafe import escape
from pypdf import PdfReader
from werkzeug.datastructures import MultiDict

from ketamine_integration.documents.signed_form import signed_form_pdf, signed_form_view
from ketamine_integration.domain.form_definitions import FormDefinition, Question
from ketamine_integration.domain.form_library import load_folder
from ketamine_integration.signed_forms.answer_form import answer_form_class
from tests.integration.test_pdf_accessibility import assert_tagged_pdf_ua

SHIPPED = load_folder(Path(__file__).resolve().parents[2] / "forms")
IV = next(f for f in SHIPPED.forms if f.id == "consent-iv-ketamine")
INTAKE = next(f for f in SHIPPED.forms if f.id == "intake-questionnaire")
NEW_YORK = ZoneInfo("America/New_York")
CLINIC = "Riverside Ketamine Clinic"

PATIENT = {"id": 7, "name": "Marisol Quennell", "mrn": "MRN-SF-0007", "date_of_birth": "1984-03-09"}
#: another patient's, which no document of PATIENT's may carry
OTHER = {"id": 8, "name": "Tobias Wrenfield", "mrn": "MRN-SF-0008", "date_of_birth": "1979-11-21"}

INTAKE_ANSWERS = {
    "main_concern": "Low mood for two years;\nsleep is poor.",
    "previous_treatments": "Sertraline (2019), CBT (2021)",
    "previous_ketamine": "no", "history_of_psychosis": "no", "history_of_mania": "no",
    "self_harm_thoughts": "passing", "high_blood_pressure": "uncontrolled",
    "last_blood_pressure_check": "2026-10-14", "heart_or_vessel_disease": "no", "raised_eye_or_head_pressure": "no",
    "liver_or_bladder": "no", "pregnancy": "not_applicable", "alcohol_per_week": "up_to_7",
    "substance_use": ["cannabis", "opioids"],
    "current_medications": [{"name": "Sertraline", "dose": "100 mg", "how_often": "once daily"},
                            {"name": "Melatonin", "dose": "3 mg", "how_often": "at night when needed"}],
    "interacting_medications": ["none"],
    # allergies left unanswered
}


def answer_text(question: Question, value) -> str:
    """What a reader sees of an answer, as the contract words it."""
    if value is None:
        return ""
    if question.type == "medication_list":
        return "; ".join(", ".join(part for part in (r["name"], r["dose"], r["how_often"]) if part) for r in value)
    if question.type in ("yes_no", "choice"):
        keys = value if isinstance(value, list) else [value]
        return "; ".join(question.option_label(k) for k in keys)
    return value


def flag_reason(question: Question, value) -> str | None:
    keys = value if isinstance(value, list) else [value]
    return question.flag.reason if question.flag and any(k in question.flag.when for k in keys) else None


def build_document(form: FormDefinition, patient: dict, answers: dict, **signature) -> dict:
    """A signed document in the contract's shape."""
    sections = [{"id": s.id, "title": s.title, "paragraphs": [p for p in s.text.split("\n\n") if p] if s.text else [],
                 "questions": [{"id": q.id, "type": q.type, "label": q.label, "answer": answers.get(q.id),
                                "answer_text": answer_text(q, answers.get(q.id)),
                                "flag_reason": flag_reason(q, answers.get(q.id))} for q in s.questions]}
                for s in form.sections]
    return {"schema": 1,
            "form": {"id": form.id, "version": form.version, "kind": form.kind, "title": form.title,
                     "content_sha256": form.content_hash},
            "patient": patient,
            "consent": {"paragraphs": form.consent.paragraphs, "agreement": form.consent.agreement}
            if form.consent else None,
            "sections": sections,
            "signature": {"typed_name": patient["name"], "agreed": True, "signed_at": "2026-12-05T21:30:00Z",
                          "method": "portal", "portal_account": "marisol@example.org", "witness": None, **signature}}


def words(text: str) -> str:
    return " ".join(text.split())


def pdf_text(data: bytes) -> str:
    return words(" ".join(page.extract_text() for page in PdfReader(BytesIO(data)).pages))


@pytest.fixture
def ctx(app):
    with app.test_request_context():
        yield app


def test_the_signed_consent_pdf_carries_its_exact_text_and_answers(ctx, caplog):
    document = build_document(IV, PATIENT, {"read_and_understood": "yes", "fasting_told": "no"},
                              method="in_clinic", portal_account=None, witness={"id": 3, "name": "Hazel Quint"})
    with caplog.at_level(logging.WARNING, logger="weasyprint"):
        data = signed_form_pdf(document, clinic=CLINIC, zone=NEW_YORK,
                               countersignatures=[{"name": "Orrin Vale, MD", "role": "prescriber",
                                                   "signed_at": datetime(2026, 12, 6, 14, 5, tzinfo=timezone.utc)}],
                               withdrawal=None)
    # WeasyPrint logs an error for each PDF/UA requirement it cannot meet
    assert not [r for r in caplog.records if r.name.startswith("weasyprint") and r.levelno >= logging.ERROR]
    assert_tagged_pdf_ua(data, title=f"Signed form {IV.title}, MRN {PATIENT['mrn']}",
                         forbidden=("Marisol", "Quennell"))
    text = pdf_text(data)
    for paragraph in IV.consent.paragraphs:
        assert words(paragraph) in text, paragraph[:60]
    assert words(IV.consent.agreement) in text
    for question in IV.questions:
        assert words(question.label) in text
    assert ("Signed by Marisol Quennell (typed signature: Marisol Quennell) on 5 December 2026, 4:30 PM EST in the "
            "clinic, witnessed by Hazel Quint") in text
    assert "Countersigned by Orrin Vale, MD (prescriber) on 6 December 2026, 9:05 AM EST" in text
    assert PATIENT["mrn"] in text and "Marisol Quennell" in text     # on the page: whose form it is
    for other in (OTHER["name"], OTHER["mrn"], OTHER["date_of_birth"]):
        assert other not in text


def test_the_signed_intake_pdf_carries_every_answer_and_its_flags(ctx):
    document = build_document(INTAKE, PATIENT, INTAKE_ANSWERS)
    data = signed_form_pdf(document, clinic=CLINIC, zone=NEW_YORK, countersignatures=[],
                           withdrawal={"withdrawn_at": "2026-12-07T15:00:00Z", "how": "in the portal",
                                       "reason": "I have decided not to go ahead."})
    assert_tagged_pdf_ua(data, title=f"Signed form {INTAKE.title}, MRN {PATIENT['mrn']}",
                         forbidden=("Marisol", "Quennell"))
    text = pdf_text(data)
    answered = [q for s in document["sections"] for q in s["questions"] if q["answer_text"]]
    assert len(answered) == len(INTAKE_ANSWERS)
    for question in answered:
        assert words(question["answer_text"]) in text, question["id"]
    for section in document["sections"]:
        assert section["title"] in text
        for paragraph in section["paragraphs"]:
            assert words(paragraph) in text
    assert "Sertraline, 100 mg, once daily; Melatonin, 3 mg, at night when needed" in text
    assert "Cannabis; Opioids not prescribed to you" in text
    # the two flagged answers, in words; the unanswered question said to be so
    assert text.count("Flagged for a prescriber's review") == 2
    assert "Flagged for a prescriber's review: Uncontrolled hypertension" in text
    assert "Substance use with misuse or interaction risk" in text
    assert "Not answered" in text
    assert "Withdrawn on 7 December 2026, 10:00 AM EST in the portal: I have decided not to go ahead." in text
    assert "in the portal" in text and "witnessed" not in text
    for other in (OTHER["name"], OTHER["mrn"]):
        assert other not in text


def test_the_pdf_carries_the_prescribers_review_and_keeps_each_question_with_its_answer(ctx):
    """A new-user review of issue 26 (findings 4 and 10): the review note was missing from the signed record's
    PDF, and a page could break between a question and its answer."""
    document = build_document(INTAKE, PATIENT, INTAKE_ANSWERS)
    review = {"name": "Orrin Vale, MD", "reviewed_at": datetime(2026, 12, 6, 14, 5, tzinfo=timezone.utc),
              "note": "BP 128/80 today on amlodipine; cannabis stopped a week before each dose. Cleared."}
    data = signed_form_pdf(document, clinic=CLINIC, zone=NEW_YORK, countersignatures=[], withdrawal=None,
                           review=review)
    assert_tagged_pdf_ua(data, title=f"Signed form {INTAKE.title}, MRN {PATIENT['mrn']}",
                         forbidden=("Marisol", "Quennell"))
    text = pdf_text(data)
    # who reviewed, when in the clinic's time, and the note as written
    assert "Flagged answers reviewed by Orrin Vale, MD on 6 December 2026, 9:05 AM EST." in text
    assert f"Review note: {review['note']}" in text
    for other in (OTHER["name"], OTHER["mrn"], OTHER["date_of_birth"]):
        assert other not in text
    # forty questions of three-line answers run over several pages: each answer is on its label's page, right
    # after it (without the rule, pages broke between a question and its answer at 7, 19 and 31)
    document["sections"] = [{"id": "long", "title": "Answers", "paragraphs": [], "questions": [
        {"id": f"q{n}", "type": "text", "label": f"Question number {n} asks this?", "answer": "x",
         "answer_text": f"Answer {n} first line\nsecond line\nthird line", "flag_reason": None} for n in range(40)]}]
    data = signed_form_pdf(document, clinic=CLINIC, zone=NEW_YORK, countersignatures=[], withdrawal=None)
    pages = [words(page.extract_text()) for page in PdfReader(BytesIO(data)).pages]
    assert len(pages) > 2
    for n in range(40):
        label = f"Question number {n} asks this?"
        [page] = [p for p in pages if label in p]
        assert page.split(label, 1)[1].startswith(f" Answer {n} first line second line third line"), n


def test_the_view_shows_the_review_only_when_given(ctx):
    document = build_document(INTAKE, PATIENT, INTAKE_ANSWERS)
    plain = signed_form_view(document, countersignatures=[], withdrawal=None, zone=NEW_YORK)
    assert plain.review is None and plain.review_note is None
    reviewed = signed_form_view(document, countersignatures=[], withdrawal=None, zone=NEW_YORK,
                                review={"name": "Orrin Vale, MD", "reviewed_at": "2026-07-01T13:00:00Z",
                                        "note": "Discussed; cleared."})
    assert reviewed.review == "Flagged answers reviewed by Orrin Vale, MD on 1 July 2026, 9:00 AM EDT"
    assert reviewed.review_note == "Discussed; cleared."


def test_times_are_the_clinics_across_a_change_of_clock(ctx):
    """The same wall-clock hour before and after New York's clocks go back (1 November 2026)."""
    before = signed_form_view(build_document(IV, PATIENT, {}, signed_at="2026-10-31T13:30:00Z"),
                              countersignatures=[], withdrawal=None, zone=NEW_YORK)
    after = signed_form_view(build_document(IV, PATIENT, {}, signed_at="2026-11-02T14:30:00Z"),
                             countersignatures=[], withdrawal=None, zone=NEW_YORK)
    assert "on 31 October 2026, 9:30 AM EDT in the portal" in before.signature
    assert "on 2 November 2026, 9:30 AM EST in the portal" in after.signature


class Page(HTMLParser):
    """The ids, labels' targets, fieldsets with their legends, and described-by references of markup."""

    def __init__(self):
        super().__init__()
        self.ids, self.label_for, self.described, self.links = [], [], [], []
        self.fieldsets = self.legends = 0
        self.controls = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if "id" in attrs:
            self.ids.append(attrs["id"])
        if tag == "label":
            self.label_for.append(attrs.get("for"))
        if "aria-describedby" in attrs:
            self.described += attrs["aria-describedby"].split()
        if tag == "a" and attrs.get("href", "").startswith("#"):
            self.links.append(attrs["href"][1:])
        if tag in ("input", "textarea", "select") and attrs.get("type") not in ("hidden", "submit"):
            self.controls.append(attrs["id"])
        self.fieldsets += tag == "fieldset"
        self.legends += tag == "legend"


def render_form(app, form_definition, pairs=None, problems=None, **kwargs) -> str:
    method = "POST" if pairs is not None else "GET"
    with app.test_request_context(method=method, data=MultiDict(pairs or [])):
        form = answer_form_class(form_definition)(**kwargs)
        if pairs is not None:
            form.validate()
        if problems:
            form.show_problems(problems)
        macros = app.jinja_env.get_template("signed_forms/_answer_form.html").make_module({})
        return str(macros.answer_form(form, "/sign", "Sign"))


@pytest.mark.parametrize("form_definition", [IV, INTAKE], ids=lambda f: f.id)
def test_the_answer_form_is_labelled_grouped_and_its_ids_unique(app, form_definition):
    html = render_form(app, form_definition)
    page = Page()
    page.feed(html)
    assert len(page.ids) == len(set(page.ids)), [i for i in page.ids if page.ids.count(i) > 1]
    # every control has a label pointing at it, and every reference points at something on the page
    assert set(page.controls) - {i for i in page.label_for} == set()
    assert set(page.described) <= set(page.ids)
    groups = [q for q in form_definition.questions if q.type in ("yes_no", "choice", "medication_list")]
    assert page.fieldsets == page.legends == len(groups)
    for question in form_definition.questions:
        label = str(escape(question.label))
        expected = f"{label} <span class=\"required-words\">(required)</span>" if question.required else label
        assert expected in html, question.id
    if form_definition.consent:
        for paragraph in form_definition.consent.paragraphs:
            assert str(escape(paragraph)) in html
        # the agreement and the typed name come last, in that order
        assert html.index(str(escape(form_definition.consent.agreement))) < html.index("Type your full name") \
            > html.index(str(escape(form_definition.questions[-1].label)))
    else:
        assert html.index("Type your full name") > html.index(str(escape(form_definition.questions[-1].label)))
        # a section's words before its questions, and a help text tied to its control
        assert "a &#34;yes&#34; does not by itself rule treatment out" in html
        assert 'aria-describedby="current_medications-hint"' in html
        assert "Include medicines taken only when needed" in html
        assert 'id="current_medications-7-name"' in html and "Medication 8: name" in html


def test_the_answer_forms_problems_are_listed_first_and_linked_to_their_fields(app):
    rows = [(f"current_medications-{i}-{part}", "") for i in range(8) for part in ("name", "dose", "how_often")]
    rows[7] = ("current_medications-2-dose", "x" * 201)
    html = render_form(app, INTAKE, pairs=[("main_concern", "a\x07")] + rows,
                       problems={"": "This form is not in your packet."})
    page = Page()
    page.feed(html)
    summary = html[:html.index("What brings you here")]
    assert "nothing was signed" in summary and "This form is not in your packet." in summary
    assert set(page.links) == {"main_concern", "current_medications-2-dose"}
    assert set(page.links) <= set(page.ids)
    assert 'aria-describedby="main_concern-error"' in html and 'aria-invalid="true"' in html
    # the domain's problems after signing was refused: a radio group's link lands on its first radio
    html = render_form(app, IV, pairs=[("typed_name", "Someone Else")],
                       problems={"read_and_understood": "Answer yes or no.",
                                 "typed_name": "Type your name as the clinic has it.",
                                 "agreed": "Tick the box to agree."})
    page = Page()
    page.feed(html)
    # in the page's order: the questions, the agreement, then the typed name (issue 26 review, point 11)
    assert page.links == ["read_and_understood-0", "agreed", "typed_name"]
    assert set(page.links) <= set(page.ids)


def test_the_read_only_view_says_what_the_pdf_says(app):
    # the name as typed (the match ignored its case) beside the name the record has
    document = build_document(INTAKE, PATIENT, INTAKE_ANSWERS, typed_name="marisol quennell")
    with app.test_request_context():
        view = signed_form_view(document, countersignatures=[{"name": "Orrin Vale, MD", "role": "prescriber",
                                                              "signed_at": "2026-12-06T14:05:00Z"}],
                                withdrawal=None, zone=NEW_YORK)
        macros = app.jinja_env.get_template("signed_forms/_document.html").make_module({})
        html = str(macros.signed_document(view))
    text = words(re.sub(r"<[^>]+>", " ", html)).replace("&#39;", "'").replace("&#34;", '"')
    for section in document["sections"]:
        for question in section["questions"]:
            assert words(question["answer_text"] or "Not answered") in text
    assert ("Signed by Marisol Quennell (typed signature: marisol quennell) on 5 December 2026, 4:30 PM EST in the "
            "portal.") in text
    assert "Countersigned by Orrin Vale, MD (prescriber) on 6 December 2026, 9:05 AM EST." in text
    assert "2 answers flagged for a prescriber's review." in text
    # flagged: words and an icon
    assert html.count('class="flag answer-flag"><svg') == 2
