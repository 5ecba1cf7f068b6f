"""The portal's "Your record" page (issue 25, point 2): the patient downloads a copy of their own record,
the same zip a clinician makes for a right-of-access request (45 CFR 164.524; psychotherapy notes are
never in it). The patient comes from the session, never from the URL; each download is recorded
(record_exports) and audited, and at most record_access.services.PORTAL_DAILY_LIMIT a day are made."""
from __future__ import annotations

from datetime import timedelta

from flask import Blueprint, render_template

from ..audit import services as audit
from ..db.types import utcnow
from ..record_access import services
from ..record_access.forms import PortalDownloadForm
from ..record_access.sources import fhir_bundle
from ..record_access.views import zip_response
from ..web import access
from ..web.forms import submit
from .sessions import current_portal_account, current_portal_patient

bp = Blueprint("portal_record", __name__, url_prefix="/portal/record")
#: answered when the day's downloads are used up
TOO_MANY = 429


def _page(form: PortalDownloadForm, *, refused: bool = False):
    """The page; a refused download answers 429 when the day's downloads are used up, 422 otherwise."""
    patient = current_portal_patient()
    used = services.portal_downloads_since(patient.id, utcnow() - timedelta(days=1))
    left = max(services.PORTAL_DAILY_LIMIT - used, 0)
    status = (TOO_MANY if not left else 422) if refused else 200
    return render_template("portal/record.html", form=form, left=left, limit=services.PORTAL_DAILY_LIMIT), status


@bp.route("/")
@access.portal_page
def record():
    patient = current_portal_patient()
    audit.record("record_export.portal_view", obj=patient, patient_id=patient.id)
    return _page(PortalDownloadForm())


@bp.route("/", methods=["POST"])
@access.portal_page
def record_download():
    patient, account = current_portal_patient(), current_portal_account()
    form = PortalDownloadForm()
    done, export = submit(form, lambda: services.make_for_portal(patient, portal_account_id=account.id, now=utcnow(),
                                                                 bundle=fhir_bundle()))
    if not done:
        audit.record("record_export.portal_download", obj=patient, patient_id=patient.id, outcome=audit.FAILURE,
                     detail="refused")
        return _page(form, refused=True)
    audit.record("record_export.portal_download", obj=export.row, patient_id=patient.id,
                 detail=f"sha256 {export.row.zip_sha256}")
    return zip_response(export)
