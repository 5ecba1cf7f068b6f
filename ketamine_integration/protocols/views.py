"""A protocol version's page (the list, with how many courses use each: pages/protocols.py)."""
from __future__ import annotations

import json

from flask import Blueprint, abort, render_template

from ..web import access
from . import services
from .forms import current_forms

bp = Blueprint("protocols", __name__, url_prefix="/protocols")


@bp.route("/<protocol_id>/v<id:version>")
@access.permission("protocols.read")
def protocol_detail(protocol_id: str, version: int):
    """A version as courses follow it: the registered snapshot if any, else the file."""
    registered = services.fetch_registered(protocol_id, version)
    entry = services.current_library().find(protocol_id, version)
    if registered is not None:
        protocol = services.protocol_of(registered)
        definition = registered.definition
    elif entry is not None:
        protocol, definition = entry.protocol, entry.definition
    else:
        abort(404)
    refusal = services.refusal_for(entry, registered) if entry is not None else None
    return render_template("protocols/detail.html", protocol=protocol, registered=registered,
                           entry=entry, refusal=refusal,
                           definition=json.dumps(definition, indent=2, sort_keys=False, default=str))




@bp.route("/forms/")
@access.permission("forms.read")
def form_list():
    """The intake and consent forms: the newest version of each, and any file that cannot be used.
    Not audited: a form definition is the clinic's document, no patient's data."""
    library = current_forms()
    return render_template("protocols/forms.html", forms=library.newest(), library=library)


@bp.route("/forms/<form_id>/v<id:version>")
@access.permission("forms.read")
def form_detail(form_id: str, version: int):
    """One form version as a patient will see it: sections, questions, consent text; and, for
    staff, which answers are flagged for a prescriber's review."""
    form = current_forms().find(form_id, version)
    if form is None:
        abort(404)
    return render_template("protocols/form.html", form=form)
