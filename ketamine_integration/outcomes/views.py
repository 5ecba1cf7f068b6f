"""The clinic outcomes page and its CSV (issue 25, point 4): aggregates only, never a patient's record."""
from __future__ import annotations

from flask import Blueprint, Response, render_template, request
from sqlalchemy import func, select

from ..audit import services as audit
from ..db.clinic_time import clinic_today, to_clinic
from ..db.types import utcnow
from ..domain.disclosure import Quarter, quarters_between
from ..experience.models import CANCELLED, DosingSession
from ..extensions import db
from ..protocols.models import ProtocolVersion
from ..web import access
from .charts import bar_rows
from .export import outcomes_csv
from .figures import hidden_text, percent
from .forms import OutcomesFilterForm
from .queries import Filters, Outcomes, fetch_outcomes, protocol_names

bp = Blueprint("outcomes", __name__, url_prefix="/outcomes")


def _offered_quarters(today):
    """From the quarter of the clinic's first dose to today's (today's alone before any dose)."""
    first = db.session.scalar(select(func.min(DosingSession.started_at)).where(
        DosingSession.status != CANCELLED, DosingSession.started_at.is_not(None)))
    return quarters_between(to_clinic(first).date() if first else today, today)


def _read(form: OutcomesFilterForm) -> tuple[Outcomes | None, bool]:
    """The figures for the quarter asked for (None when it is not one offered), and whether it was."""
    today = clinic_today()
    form.set_quarters(_offered_quarters(today))
    versions = db.session.scalars(select(ProtocolVersion)).all()
    form.set_protocols(protocol_names(versions))
    if not form.validate() or form.chosen is None:
        return None, False
    quarter = form.chosen
    filters = Filters(starts=quarter.first_day, ends=quarter.last_day)
    return fetch_outcomes(filters, versions, now=utcnow(), today=today).of_protocol(form.protocol.data), True


def _described(outcomes: Outcomes | None, protocol: str | None) -> str:
    """The audit row's detail: the quarter and whether its figures were shown, never a count or a figure
    (review of issue 25: "over 3 courses" told an admin reading the log what a hidden quarter held)."""
    if outcomes is None:
        return "refused: not a quarter offered"
    f = outcomes.filters
    shown = (f"nothing shown (fewer than {outcomes.min_group} patients)" if outcomes.suppressed
             else f"figures of groups of {outcomes.min_group} or more patients shown")
    part = f", protocol {protocol}" if protocol else ""
    return f"clinic outcomes of {Quarter.of(f.starts).label}{part}, first doses {f.starts} to {f.ends}: {shown}"[:200]


def _page(form, outcomes, status):
    return render_template("outcomes/overview.html", form=form, outcomes=outcomes,
                           charts=bar_rows(outcomes) if outcomes else None, percent=percent,
                           hidden_text=hidden_text), status


@bp.route("/")
@access.permission("outcomes.read")
def overview():
    form = OutcomesFilterForm(request.args)
    outcomes, valid = _read(form)
    # aggregates of patients' measures and sessions: read like a list of them, audited with the period
    audit.record("outcomes.view", outcome=audit.SUCCESS if valid else audit.FAILURE,
                 detail=_described(outcomes, form.protocol.data))
    return _page(form, outcomes, 200 if valid else 422)


@bp.route("/outcomes.csv")
@access.permission("outcomes.read")
def export():
    form = OutcomesFilterForm(request.args)
    outcomes, valid = _read(form)
    audit.record("outcomes.export", outcome=audit.SUCCESS if valid else audit.FAILURE,
                 detail=_described(outcomes, form.protocol.data))
    if not valid:
        return _page(form, None, 422)
    response = Response(outcomes_csv(outcomes), mimetype="text/csv")
    response.headers["Content-Type"] = "text/csv; charset=utf-8"
    response.headers["Content-Disposition"] = (f"attachment; filename=clinic-outcomes-{form.chosen.key}-"
                                               f"{clinic_today().isoformat()}.csv")
    return response
