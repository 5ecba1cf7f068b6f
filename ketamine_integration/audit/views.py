"""The admin's audit log page: filter by user, patient, action and date; paginated; exported as CSV.

The trail sits below accounts and patients, so it reads who and which patient from their
tables (as its foreign keys name them) rather than importing their models."""
from __future__ import annotations

from datetime import date, datetime, time, timedelta

from flask import Blueprint, Response, current_app, render_template, request
from flask_login import current_user
from flask_wtf import FlaskForm
from sqlalchemy import select
from wtforms import SelectField, StringField
from wtforms.validators import Length, Optional, ValidationError

from ..db.clinic_time import clinic_today, clinic_zone
from ..extensions import db
from ..web import access
from ..web.fields import ClinicDateField, options
from ..web.forms import paginate, parse_id
from . import services as audit
from .export import EXPORT_LIMIT, csv_stream, matching
from .models import AuditEvent
from .object_names import resolve

bp = Blueprint("audit", __name__, url_prefix="/audit")


class AuditFilterForm(FlaskForm):
    class Meta:
        csrf = False  # a GET search form changes nothing

    user = SelectField("User", coerce=str, validators=[Optional()])
    patient = StringField("Patient MRN", validators=[Optional(), Length(max=32)])
    action = SelectField("Action", validators=[Optional()],
                         choices=options([("", "Any action"), *audit.ACTIONS.items()]))
    date_from = ClinicDateField("From", validators=[Optional()])
    date_to = ClinicDateField("To", validators=[Optional()])

    def validate_date_from(self, field):
        _within_audit_era(field)

    def validate_date_to(self, field):
        _within_audit_era(field)


def _within_audit_era(field) -> None:
    if field.data and not AUDIT_ERA[0] <= field.data <= AUDIT_ERA[1]:
        raise ValidationError(f"Use a date between {AUDIT_ERA[0]} and {AUDIT_ERA[1]}.")


#: dates an audit filter may name (wider than any clinic's records; keeps date arithmetic safe)
AUDIT_ERA = (date(2000, 1, 1), date(2199, 12, 31))


def _local_day_start(day) -> datetime:
    return datetime.combine(day, time.min, tzinfo=clinic_zone())


def _table(name: str):
    return db.metadata.tables[name]


def filtered_events(form: AuditFilterForm):
    stmt = select(AuditEvent).order_by(AuditEvent.occurred_at.desc(), AuditEvent.id.desc())
    # Optional() lets whitespace through as "no filter", past the choices check: parse, never int()
    user_id = parse_id(form.user.data)
    if user_id is not None:
        stmt = stmt.where(AuditEvent.user_id == user_id)
    if (form.patient.data or "").strip():
        patients = _table("patients")
        stmt = stmt.join(patients, patients.c.id == AuditEvent.patient_id).where(
            patients.c.mrn == form.patient.data.strip())
    if form.action.data:
        stmt = stmt.where(AuditEvent.action == form.action.data)
    if form.date_from.data:
        stmt = stmt.where(AuditEvent.occurred_at >= _local_day_start(form.date_from.data))
    if form.date_to.data:  # inclusive: up to the start of the next clinic day
        stmt = stmt.where(AuditEvent.occurred_at < _local_day_start(form.date_to.data + timedelta(days=1)))
    return stmt


def _filter_form() -> AuditFilterForm:
    form = AuditFilterForm(request.args)
    users = _table("users")
    people = db.session.execute(select(users.c.id, users.c.full_name, users.c.username)
                                .order_by(users.c.full_name)).all()
    form.user.choices = options([("", "Anyone")] + [(str(u.id), f"{u.full_name} ({u.username})") for u in people])
    return form


def _page(form: AuditFilterForm, valid: bool, status: int = 200):
    page = paginate(filtered_events(form) if valid else select(AuditEvent).where(False))
    names = resolve(page.items, current_user.can)
    audit.record("audit.view", detail="audit log page")
    filters = {k: v for k, v in request.args.items() if k != "page"}
    return render_template("audit/list.html", form=form, page=page, names=names, filters=filters,
                           labels=audit.ACTIONS, export_limit=EXPORT_LIMIT), status


@bp.route("/")
@access.permission("audit.read")
def event_list():
    form = _filter_form()
    return _page(form, form.validate())


def _filtered_patient(form: AuditFilterForm) -> int | None:
    """The patient whose trail the export is of (the row then shows on that patient's trail too)."""
    mrn = (form.patient.data or "").strip()
    if not mrn:
        return None
    patients = _table("patients")
    return db.session.scalar(select(patients.c.id).where(patients.c.mrn == mrn))


def _filters_used(form: AuditFilterForm) -> str:
    """The export's filters with their values, so the audit row says what was exported: the user
    by id, the patient by MRN, the action by key, the dates as ISO days."""
    values = {"user": parse_id(form.user.data), "patient": (form.patient.data or "").strip() or None,
              "action": form.action.data or None, "from": form.date_from.data, "to": form.date_to.data}
    return ", ".join(f"{name} {value}" for name, value in values.items() if value is not None) or "none"


@bp.route("/export.csv")
@access.permission("audit.read")
def event_export():
    """The filtered log as CSV (the same filters as the page, the same permission), itself audited."""
    form = _filter_form()
    if not form.validate():
        audit.record("audit.export", outcome=audit.FAILURE, detail="refused: filters not valid")
        return _page(form, False, status=422)
    stmt = filtered_events(form)
    count = matching(stmt, EXPORT_LIMIT)
    audit.record("audit.export", patient_id=_filtered_patient(form),
                 detail=(f"{min(count, EXPORT_LIMIT)} rows"
                         + (f" (more matched: cut at {EXPORT_LIMIT})" if count > EXPORT_LIMIT else "")
                         + f"; filters: {_filters_used(form)}")[:200])
    response = Response(csv_stream(current_app._get_current_object(), stmt, labels=audit.ACTIONS,
                                   limit=EXPORT_LIMIT), mimetype="text/csv")
    response.headers["Content-Type"] = "text/csv; charset=utf-8"
    response.headers["Content-Disposition"] = f'attachment; filename="audit-log-{clinic_today()}.csv"'
    return response
