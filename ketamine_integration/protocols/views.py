"""A protocol version's page (the list, with how many courses use each: pages/protocols.py)."""
from __future__ import annotations

import json

from flask import Blueprint, abort, render_template

from ..web import access
from . import services

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


