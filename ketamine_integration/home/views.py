"""The home page each role lands on (issue 21, point 1): today's and tomorrow's sessions, what waits
on the user (counts linking to where the work is done), then the lists; and the health check."""
from __future__ import annotations

from collections import Counter

from flask import Blueprint, jsonify, render_template
from flask_login import current_user
from sqlalchemy import func, select, text
from sqlalchemy.exc import SQLAlchemyError

from ..web import access
from ..audit import services as audit
from ..coordination import inbox
from ..db.clinic_time import clinic_today
from ..discharge.services import fetch_due as discharge_due
from ..db.types import utcnow
from ..extensions import db
from ..notes.forms import NewNoteForm
from ..notes.services import open_alerts
from ..patients.access import active_caseload, caseload, sees_all_patients
from ..patients.models import Patient
from ..scheduling.attendance import unconfirmed
from ..signed_forms import waiting as forms_waiting
from .caseload import caseload_patients, caseload_rows, reports_listed
from .sessions import home_sessions
from .waiting import BY_KEY, current_waiting, home_counts

bp = Blueprint("home", __name__)

RECENT_LIMIT = 10
#: the courses with forms to sign the front desk's home lists (its count counts them all)
FORMS_TO_SIGN_LIMIT = 25


@bp.route("/")
@access.permission("account.own")
def home():
    now, today, user = utcnow(), clinic_today(), current_user
    sessions = home_sessions(user, now)
    lists = _clinician_lists(now, today) if user.can("care_team.member") else {}
    recent, total = [], None
    if sees_all_patients(user):
        active = select(Patient).where(Patient.archived_at.is_(None))
        recent = db.session.scalars(active.order_by(Patient.created_at.desc()).limit(RECENT_LIMIT)).all()
        total = db.session.scalar(select(func.count()).select_from(active.subquery()))
    if BY_KEY["forms_to_sign"].applies(user):  # what its count counted (signed_forms.waiting)
        lists["forms_to_sign"] = forms_waiting.courses_with_forms_to_sign(FORMS_TO_SIGN_LIMIT)
    counts = home_counts(current_waiting(), user)
    _audit(sessions, lists, recent, counts)
    # today's sessions of a therapist start their note in one click (the course page's form, prefilled)
    note_form = NewNoteForm(prefix="note") if user.can("notes.write") else None
    return render_template("core/home.html", sessions=sessions, counts=counts, recent=recent, total=total,
                           note_form=note_form, **lists)


def _clinician_lists(now, today) -> dict:
    """What a clinician's home lists: their caseload (with its alerts and reports due), their
    sessions to confirm, drafts to sign, notes waiting for them and new answers to their notes."""
    user, mine, waiting = current_user, active_caseload(current_user), current_waiting()
    drafts = list(waiting.drafts)  # what the count counted (home.waiting), read once
    patients = caseload_patients(caseload(user, select(Patient).where(Patient.archived_at.is_(None))), now,
                                 Counter(d.patient_id for d in drafts))
    # safety alerts come from measures, which only those who read clinical content see (not nurses)
    alerts = open_alerts(mine) if user.can("notes.read") else []
    rows = caseload_rows(patients, alerts, list(waiting.versions.values()) or None) if patients else []
    # the reports due the home page's count and the menu's badge counted (home.waiting: one function)
    due = reports_listed(list(waiting.pending_reports), waiting.versions, today)
    lists = dict(my_patients=patients, caseload_rows=rows, alerts=alerts, reports_due=due,
                 drafts=drafts, draft_names=_names({d.patient_id for d in drafts}))
    if user.can("schedule.book") and not user.can("schedule.manage"):
        # their own sessions over with no outcome (issue 20, point 2)
        lists["to_confirm"] = unconfirmed(now, clinician_id=user.id)
    if user.can("discharge.write"):
        lists["discharge_due"] = discharge_due(user, mine)
    if BY_KEY["form_flags"].applies(user):  # what the counts of signed forms counted (signed_forms.waiting)
        lists["form_flags"] = forms_waiting.flags_to_review(user)
        lists["withdrawals"] = forms_waiting.withdrawals(user)
    if BY_KEY["countersign"].applies(user):
        lists["to_countersign"] = forms_waiting.countersignatures_owed(user)
    if user.can("coordination.message"):
        lists["to_acknowledge"] = [] if user.can("reports.receive") else inbox.notes_to_acknowledge(user, today)
        lists["replies"] = inbox.new_replies(user)
    return lists


def _names(patient_ids: set[int]) -> dict[int, Patient]:
    if not patient_ids:
        return {}
    return {p.id: p for p in db.session.scalars(select(Patient).where(Patient.id.in_(sorted(patient_ids))))}


def _audit(sessions, lists, recent, counts) -> None:
    """One row for the page: how many patients and sessions it lists, and its counts (each worked
    out from patient records, so read like any list of them)."""
    shown = {"patients": len(lists.get("my_patients", [])) + len(recent),
             "sessions": sessions.grid.sessions if sessions else 0,
             "to confirm": len(lists["to_confirm"].appointments) if lists.get("to_confirm") else 0,
             "forms to sign": len(lists.get("forms_to_sign", [])),
             "to countersign": len(lists.get("to_countersign", []))}
    waiting = ", ".join(f"{c.kind.key} {c.count}" for c in counts if c.count)
    if any(shown.values()) or waiting:
        listed = ", ".join(f"{what} {n}" for what, n in shown.items() if n)
        detail = f"home page; listed: {listed or 'nothing'}; waiting: {waiting or 'nothing'}"
        audit.record("patient.list", detail=detail[:200])


@bp.route("/healthz")
@access.public
def healthz():
    """Liveness and database reachability, with no data in the answer."""
    try:
        db.session.execute(text("SELECT 1"))
    except SQLAlchemyError:
        return jsonify(status="database unavailable"), 503
    return jsonify(status="ok")
