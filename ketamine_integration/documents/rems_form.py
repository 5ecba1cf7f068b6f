"""The esketamine REMS Patient Monitoring Form as a PDF, from the plain data experience/rems.py builds."""
from __future__ import annotations

from flask import render_template

from .pdf import render_pdf


def rems_form_pdf(form: dict) -> bytes:
    return render_pdf(render_template("documents/rems_form.html", form=form))
