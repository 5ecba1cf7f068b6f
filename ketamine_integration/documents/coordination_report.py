"""The prescriber coordination report as a document: its HTML (the app's autoescaping
templates, from the plain data coordination.services.report_data builds) and its PDF."""
from __future__ import annotations

from flask import render_template

from .pdf import render_pdf

TEMPLATE = "coordination/report.html"


def render_report_html(report: dict, *, for_pdf: bool) -> str:
    """The report page; `for_pdf` drops what only the on-screen preview shows."""
    return render_template(TEMPLATE, report=report, for_pdf=for_pdf)


def render_report_pdf(report: dict) -> bytes:
    return render_pdf(render_report_html(report, for_pdf=True))
