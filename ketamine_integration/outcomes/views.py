"""The clinic outcomes page and its CSV (issue 25, point 4): aggregates only, never a patient's record."""
from __future__ import annotations

from flask import Blueprint, Response, render_template, request
from sqlalchemy import select

from ..audit import services as audit
from ..db.clinic_time import clinic_today
from ..db.types import utcnow
from ..extensions import db
from ..protocols.models import ProtocolVersion
from ..web import access
from .charts import bar_rows
from .export import outcomes_csv
from .forms import OutcomesFilterForm
from .queries import Filters, Outcomes, fetch_outcomes, protocol_names

bp = Blueprint("outcomes", __name__, url_prefix="/outcomes")


def _read(form: OutcomesFilterForm) -> tuple[Outcomes | None, bool]:
    """The figures for the form's filters (None when they are not valid), and whether they were."""
    versions = db.session.scalars(select(ProtocolVersion)).all()
    form.set_protocols(protocol_names(versions))
    if not form.validate():
        return None, False
    filters = Filters(starts=form.date_from.data, ends=form.date_to.data, protocol=form.protocol.data or None)
    return fetch_outcomes(filters, versions, now=utcnow(), today=clinic_today()), True


def _described(outcomes: Outcomes | None) -> str:
    """The audit row's detail: the filters and how many courses the figures rest on (no figure itself)."""
    if outcomes is None:
        return "refused: filters not valid"
    f = outcomes.filters
    used = ", ".join(f"{k} {v}" for k, v in (("from", f.starts), ("to", f.ends), ("protocol", f.protocol)) if v)
    return f"clinic outcomes over {outcomes.courses} courses; filters: {used or 'none'}"[:200]


@bp.route("/")
@access.permission("outcomes.read")
def overview():
    form = OutcomesFilterForm(request.args)
    outcomes, valid = _read(form)
    # aggregates of patients' measures and sessions: read like a list of them, audited with the filters
    audit.record("outcomes.view", outcome=audit.SUCCESS if valid else audit.FAILURE, detail=_described(outcomes))
    filters = {k: v for k, v in request.args.items() if k in form.data}
    return render_template("outcomes/overview.html", form=form, outcomes=outcomes, filters=filters,
                           charts=bar_rows(outcomes) if outcomes else None), 200 if valid else 422


@bp.route("/outcomes.csv")
@access.permission("outcomes.read")
def export():
    form = OutcomesFilterForm(request.args)
    outcomes, valid = _read(form)
    audit.record("outcomes.export", outcome=audit.SUCCESS if valid else audit.FAILURE, detail=_described(outcomes))
    if not valid:
        return render_template("outcomes/overview.html", form=form, outcomes=None, filters={}, charts=None), 422
    response = Response(outcomes_csv(outcomes), mimetype="text/csv")
    response.headers["Content-Type"] = "text/csv; charset=utf-8"
    response.headers["Content-Disposition"] = f"attachment; filename=clinic-outcomes-{clinic_today().isoformat()}.csv"
    return response
