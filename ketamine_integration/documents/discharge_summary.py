"""The discharge summary as typed data, and its HTML and PDF.

Built by discharge/document.py from the summary's frozen (or, on a draft, live) sections: plain
data only. A section a prescriber's copy may not carry is absent and named among those left out.
"""
from __future__ import annotations

from dataclasses import dataclass

from flask import render_template

from .pdf import render_pdf


@dataclass(frozen=True)
class DischargeHeader:
    clinic: str
    #: "Draft, not signed" or "Signed by A. Example, LCSW on 2026-12-04 10:00 EST"
    state: str
    #: when this copy was made, clinic time
    generated: str
    #: the prescriber a copy is for (None: the clinic's own copy)
    recipient: str | None
    author: str
    #: how a reader reaches the author (documents/contact.py; "" when none is on file)
    author_contact: str = ""


@dataclass(frozen=True)
class DischargePatient:
    """What every copy carries: whom it is about."""
    name: str
    mrn: str
    dob: str


@dataclass(frozen=True)
class WrittenText:
    key: str
    title: str
    text: str


@dataclass(frozen=True)
class AddendumText:
    author: str
    when: str
    body: str


@dataclass(frozen=True)
class DischargeDocument:
    header: DischargeHeader
    patient: DischargePatient
    #: the computed sections this copy carries, by key (discharge.content.COMPUTED), as plain JSON
    computed: dict
    #: the computed sections' titles by key, in the document's order
    computed_titles: tuple[tuple[str, str], ...]
    written: tuple[WrittenText, ...]
    #: the titles of the sections the patient's release does not let this copy carry
    omitted: tuple[str, ...]
    addenda: tuple[AddendumText, ...]


TEMPLATE = "documents/discharge_summary.html"


def render_discharge_html(document: DischargeDocument, *, for_pdf: bool) -> str:
    return render_template(TEMPLATE, doc=document, for_pdf=for_pdf)


def render_discharge_pdf(document: DischargeDocument) -> bytes:
    return render_pdf(render_discharge_html(document, for_pdf=True))
