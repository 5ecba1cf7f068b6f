"""A signed intake or consent form as typed data for reading, and its tagged PDF (issue 26, point 3).

The signed document (signed_forms.services builds it at signing; its digest covers it) holds the
exact text and answers; this module only reads it. The same view feeds the page's read-only
macro (templates/signed_forms/_document.html) and the PDF, so both say the same words. Times come
in as stored (UTC) and are written in the clinic's zone, which the caller passes in: this package
renders plain data and reads no settings.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone, tzinfo

from flask import render_template

from ..domain.form_definitions import form_noun
from .pdf import render_pdf

#: how the patient signed, in the signature line's words
METHOD_WORDS = {"portal": "in the portal", "in_clinic": "in the clinic"}
#: what a form's kind is called on the page
KIND_WORDS = {"consent": "Consent", "intake": "Intake questionnaire"}


@dataclass(frozen=True)
class AnswerLine:
    label: str
    #: the answer as a reader sees it ("" unanswered)
    text: str
    #: why a prescriber reviews this answer (None: not flagged)
    flag_reason: str | None = None


@dataclass(frozen=True)
class SectionView:
    title: str
    paragraphs: tuple[str, ...]
    answers: tuple[AnswerLine, ...]


@dataclass(frozen=True)
class SignedFormView:
    form_id: str
    title: str
    version: int
    #: "Consent", "Agreement" or "Intake questionnaire"
    kind: str
    #: what the reader calls it in a sentence: "consent", "agreement", "intake form"
    noun: str
    content_sha256: str
    patient_name: str
    mrn: str
    date_of_birth: str
    #: the consent's text as signed, paragraph by paragraph (empty for an intake form)
    consent_paragraphs: tuple[str, ...]
    #: the sentence the patient agreed to (None for an intake form)
    agreement: str | None
    sections: tuple[SectionView, ...]
    #: "Signed by Ada Example (typed signature: ada example) on 5 December 2026, 4:30 PM EST in the portal"
    signature: str
    #: "Countersigned by Orrin Vale, MD (prescriber) on ..."
    countersignatures: tuple[str, ...]
    #: "Withdrawn on ... in the portal: reason" (None: not withdrawn)
    withdrawal: str | None
    #: "Flagged answers reviewed by Orrin Vale, MD on ...": the prescriber's review (None: none, or not shown)
    review: str | None = None
    #: the review's note, as the prescriber wrote it
    review_note: str | None = None

    @property
    def flagged(self) -> tuple[AnswerLine, ...]:
        return tuple(a for s in self.sections for a in s.answers if a.flag_reason)


def clinic_time(value: datetime | str, zone: tzinfo) -> str:
    """A stored instant (an aware or naive-UTC datetime, or ISO 8601 text as a document holds it,
    "2026-12-05T21:30:00Z") in the clinic's time: "5 December 2026, 4:30 PM EST"."""
    if isinstance(value, str):
        value = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    local = value.astimezone(zone)
    return f"{local.day} {local:%B %Y}, {int(local.strftime('%I'))}:{local:%M %p %Z}"


def signature_line(signature: dict, patient_name: str, zone: tzinfo) -> str:
    """Who signed (the patient's name as the record has it, and the signature as they typed it: the match
    ignores case and spacing, so the two can differ), when (clinic time), how, and who witnessed it."""
    line = (f"Signed by {patient_name} (typed signature: {signature['typed_name']}) on "
            f"{clinic_time(signature['signed_at'], zone)} {METHOD_WORDS.get(signature['method'], signature['method'])}")
    witness = signature.get("witness")
    return f"{line}, witnessed by {witness['name']}" if witness else line


def _section(section: dict, flags: bool) -> SectionView:
    return SectionView(title=section["title"], paragraphs=tuple(section.get("paragraphs") or ()),
                       answers=tuple(AnswerLine(label=q["label"], text=q.get("answer_text") or "",
                                                flag_reason=q.get("flag_reason") if flags else None)
                                     for q in section.get("questions") or ()))


def signed_form_view(document: dict, *, countersignatures: list[dict], withdrawal: dict | None,
                     zone: tzinfo, review: dict | None = None, flags: bool = True) -> SignedFormView:
    """The document as a reader sees it. countersignatures: {"name", "role", "signed_at"} each;
    withdrawal: {"withdrawn_at", "reason", "how"} ("in the portal", "recorded by A. Example");
    review: the prescriber's review of the flagged answers, {"name", "reviewed_at", "note"};
    flags: show why answers were flagged (False: the patient's copy; the reasons are written for staff,
    "The patient has questions...", and the prescriber follows them up with the patient)."""
    form, patient, consent = document["form"], document["patient"], document.get("consent")
    withdrawn = None
    if withdrawal is not None:
        withdrawn = f"Withdrawn on {clinic_time(withdrawal['withdrawn_at'], zone)}"
        withdrawn += f" {withdrawal['how']}" if withdrawal.get("how") else ""
        withdrawn += f": {withdrawal['reason']}" if withdrawal.get("reason") else ""
    noun = form_noun(form["id"], form["kind"])
    return SignedFormView(
        form_id=form["id"], title=form["title"], version=form["version"], noun=noun,
        kind=noun.capitalize() if noun == "agreement" else KIND_WORDS.get(form["kind"], form["kind"]),
        content_sha256=form["content_sha256"],
        patient_name=patient["name"], mrn=patient["mrn"], date_of_birth=patient["date_of_birth"],
        consent_paragraphs=tuple(consent["paragraphs"]) if consent else (),
        agreement=consent["agreement"] if consent else None,
        sections=tuple(_section(s, flags) for s in document["sections"]),
        signature=signature_line(document["signature"], patient["name"], zone),
        countersignatures=tuple(f"Countersigned by {c['name']} ({c['role']}) on {clinic_time(c['signed_at'], zone)}"
                                for c in countersignatures),
        withdrawal=withdrawn,
        review=f"Flagged answers reviewed by {review['name']} on {clinic_time(review['reviewed_at'], zone)}"
        if review is not None else None,
        review_note=review["note"] if review is not None else None)


TEMPLATE = "documents/signed_form.html"


def signed_form_pdf(document: dict, *, countersignatures: list[dict], withdrawal: dict | None, clinic: str,
                    zone: tzinfo, review: dict | None = None, flags: bool = True) -> bytes:
    """The signed form as a tagged PDF (documents/pdf.py): the exact text and every answer, titled by
    form and MRN (the metadata travels with the file: never the patient's name)."""
    view = signed_form_view(document, countersignatures=countersignatures, withdrawal=withdrawal, zone=zone,
                            review=review, flags=flags)
    return render_pdf(render_template(TEMPLATE, view=view, clinic=clinic))
