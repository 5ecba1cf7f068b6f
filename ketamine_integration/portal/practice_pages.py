"""The portal's Practices page (issue 23, point 5): the practices the patient's therapist assigned, in
plain words, a log form for each (done, partly or not; the day; what got in the way) and the
patient's recent logs. The patient comes from the session; another patient's assignment is 404."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for

from ..audit import services as audit
from ..db.clinic_time import clinic_today
from ..db.types import utcnow
from ..domain.practices import LOG_STAYS, OUTCOMES
from ..practices.patient import (LATE_LOG_DAYS, NotThePatients, PatientPractice, full_days, log_practice,
                                 own_assignment, patient_practices)
from ..web import access
from .log_forms import (OFFERED_BACK, WORDS, PracticeLogForm, cards_page, day_form, day_words, loggable_days,
                        save_day)
from .recovery import mark_recovered, offered_back
from .sessions import current_portal_account, current_portal_patient

bp = Blueprint("portal_practices", __name__, url_prefix="/portal/practices")


@dataclass(frozen=True)
class PracticeCard:
    """One practice as its card shows it: the practice, its log form (None while no day can be
    logged), how it is going, in words."""

    practice: PatientPractice
    form: PracticeLogForm | None
    progress: str
    tally: str
    #: why there is no form, in words (None when there is one)
    closed: str | None


def _progress(p: PatientPractice, today: date) -> str:
    if p.progress is not None:
        block = p.progress.block
        when = ("Today" if block[0] == block[1] else
                f"This week ({day_words(block[0], today)} to {day_words(block[1], today)})")
        return f"{when}: {p.progress.logged} of {p.progress.expected} logged so far."
    if p.starts_on > today:
        return f"It starts {day_words(p.starts_on, today)}."
    return f"It ended {day_words(p.ends_on, today)}."


def _tally(p: PatientPractice) -> str:
    if not p.logs:
        return "Nothing logged yet."
    counts = {key: sum(log.outcome == key for log in p.logs) for key in OUTCOMES}
    return "Your logs so far: " + ", ".join(f"{counts[key]} {words.lower()}" for key, words in OUTCOMES.items()
                                            if counts[key]) + "."


def _form(assignment_id: int, first: date, last: date, today: date, *, full=frozenset(), posted: bool = False,
          kept=None) -> PracticeLogForm | None:
    """The practice's log form, None while no day of it can be logged (`full`: days logged in full)."""
    days = loggable_days(first, last, today, LATE_LOG_DAYS, full)
    if not days and not posted:
        return None
    return day_form(PracticeLogForm, f"practice-{assignment_id}", days, today, posted=posted, kept=kept)


def _card(p: PatientPractice, today: date, form: PracticeLogForm | None = None) -> PracticeCard:
    if form is None:
        form = _form(p.assignment_id, p.starts_on, p.ends_on, today, full=p.full_days)
    closed = None
    if form is None:
        closed = (f"You can log it from {day_words(p.starts_on, today)}." if p.starts_on > today
                  else f"Every day you can log now is logged. {LOG_STAYS}" if p.full_days
                  else f"Days more than {LATE_LOG_DAYS} days back can no longer be logged.")
    return PracticeCard(p, form, _progress(p, today), _tally(p), closed)


@bp.route("/")
@access.portal_page
def practices():
    return cards_page("portal/practices/list.html", patient_practices, _card)


@bp.route("/<id:assignment_id>", methods=["GET", "POST"])
@access.portal_page
def practice(assignment_id: int):
    """One practice with all its logs, and its log form: where the list's forms post (a refusal is
    shown here, 422, what was typed kept) and where text kept after a time-out is offered back."""
    patient, account = current_portal_patient(), current_portal_account()
    now = utcnow()
    try:
        assignment = own_assignment(patient, assignment_id)
    except NotThePatients:
        abort(404)
    today = clinic_today(now)
    posted = request.method == "POST"
    kept = None if posted else offered_back(account.id)
    form = _form(assignment_id, assignment.period.starts_on, assignment.period.ends_on, today,
                 full=full_days(assignment, today), posted=posted, kept=kept)
    if posted:
        if save_day(form, lambda: log_practice(patient, assignment_id, form.outcome.data, form.for_date.data,
                                               form.note.data, now),
                    lambda fields: audit.record("practice.log", obj=assignment, patient_id=patient.id,
                                                outcome=audit.FAILURE, detail=f"refused: {fields}")):
            mark_recovered(account.id, request.path)
            flash(f"Logged: {assignment.practice.name}, {day_words(form.for_date.data, today)} — "
                  f"{OUTCOMES[form.outcome.data].lower()}. Thank you.", "success")
            return redirect(url_for(".practices", _anchor=f"practice-{assignment_id}"))
    shown = next((p for p in patient_practices(patient, now) if p.assignment_id == assignment_id), None)
    if shown is None:
        abort(404)  # ended long ago: no longer on the patient's list
    if kept is not None:
        flash(OFFERED_BACK, "info")
    return render_template("portal/practices/practice.html", card=_card(shown, today, form), today=today, **WORDS), \
        422 if posted else 200
