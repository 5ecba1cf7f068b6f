"""The Messages page: what the clinic sent or will send, and the failed deliveries with their reason."""
from __future__ import annotations

from flask import Blueprint, render_template

from ..audit import services as audit
from ..web import access
from .models import STATUSES
from .services import fetch_messages_page

bp = Blueprint("messaging", __name__)

#: failed deliveries, and others, the page lists at most (newest first)
RECENT = 100


@bp.route("/messages")
@access.permission("messages.read")
def messages():
    failed, failed_total, recent = fetch_messages_page(RECENT)
    # Recipients and MRNs are patient data: the viewing is audited, with the counts only.
    audit.record("message.list", detail=f"{len(failed)} failed, {len(recent)} others shown")
    return render_template("messaging/messages.html", failed=failed, failed_total=failed_total, recent=recent,
                           statuses=STATUSES)
