"""The admin's audit log page: filter by user, patient, action and date; paginated.

The trail sits below accounts and patients, so it reads who and which patient from their
tables (as its foreign keys name them) rather than importing their models."""
from __future__ import annotations

from datetime import date, datetime, time, timedelta

from flask import Blueprint, render_template, request
from flask_wtf import FlaskForm
from sqlalchemy import select
from wtforms import DateField, SelectField, StringField
from wtforms.validators import Length, Optional, ValidationError

from ..db.clinic_time import clinic_zone
from ..extensions import db
from ..web import access
from ..web.fields import options
from ..web.forms import paginate, parse_id
from . import services as audit
from .models import AuditEvent

bp = Blueprint("audit", __name__, url_prefix="/audit")


class AuditFilterForm(FlaskForm):
    class Meta:
        csrf = False  # a GET search form changes nothing

    user = SelectField("User", coerce=str, validators=[Optional()])
    patient = StringField("Patient MRN", validators=[Optional(), Length(max=32)])
    action = SelectField("Action", validators=[Optional()],
                         choices=options([("", "Any action"), *audit.ACTIONS.items()]))
    date_from = DateField("From", validators=[Optional()])
    date_to = DateField("To", validators=[Optional()])

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


@bp.route("/")
@access.permission("audit.read")
def event_list():
    form = AuditFilterForm(request.args)
    users = _table("users")
    people = db.session.execute(select(users.c.id, users.c.full_name, users.c.username)
                                .order_by(users.c.full_name)).all()
    form.user.choices = options([("", "Anyone")] + [(str(u.id), f"{u.full_name} ({u.username})") for u in people])
    valid = form.validate()
    page = paginate(filtered_events(form) if valid else select(AuditEvent).where(False))
    patients = {}
    ids = {e.patient_id for e in page.items if e.patient_id}
    if ids:
        table = _table("patients")
        patients = dict(db.session.execute(select(table.c.id, table.c.mrn).where(table.c.id.in_(ids))).all())
    audit.record("audit.view", detail="audit log page")
    filters = {k: v for k, v in request.args.items() if k != "page"}
    return render_template("audit/list.html", form=form, page=page, patients=patients,
                           filters=filters, labels=audit.ACTIONS)
