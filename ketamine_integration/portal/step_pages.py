"""The portal's Action steps page (issue 23, point 6): the steps agreed in the patient's signed notes
as the patient may see them (what, how often, from when, the review date: nothing else of the
note), a check-in form for each (done, partly or not; the day; what got in the way) and the
patient's recent check-ins. The patient comes from the session; another patient's step is 404."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for

from ..audit import services as audit
from ..db.clinic_time import clinic_today
from ..db.types import utcnow
from ..domain.practices import OUTCOMES
from ..notes.patient_check_ins import (CHECK_IN_STAYS, LATE_CHECK_IN_DAYS, StepNotThePatients, VisibleStep,
                                       check_in_on_step, patient_steps, visible_step)
from ..web import access
from .log_forms import (OFFERED_BACK, WORDS, StepCheckInForm, cards_page, day_form, day_words, loggable_days,
                        offer_days, save_day)
from .recovery import mark_recovered, offered_back
from .sessions import current_portal_account, current_portal_patient

bp = Blueprint("portal_steps", __name__, url_prefix="/portal/steps")


@dataclass(frozen=True)
class StepCard:
    """One step as its card shows it, with its check-in form (None until the step starts)."""

    step: VisibleStep
    form: StepCheckInForm | None
    #: why there is no form, in words (None when there is one)
    closed: str | None


def _form(step: VisibleStep, today: date, kept=None) -> StepCheckInForm | None:
    """The step's check-in form (blank, or the text kept after a time-out); None before it starts."""
    days = loggable_days(step.starts_on, today, today, LATE_CHECK_IN_DAYS, _checked_in(step))
    return day_form(StepCheckInForm, f"step-{step.step_id}", days, today, kept=kept) if days else None


def _card(step: VisibleStep, today: date, form: StepCheckInForm | None = None) -> StepCard:
    if form is None:
        form = _form(step, today)
    closed = (None if form is not None else f"You can check in from {day_words(step.starts_on, today)}."
              if step.starts_on > today else f"You have checked in on every day you can now. {CHECK_IN_STAYS}")
    return StepCard(step, form, closed)


def _checked_in(step: VisibleStep) -> frozenset[date]:
    """The days the patient checked in on this step (one check-in a day: the day picker leaves them out)."""
    return frozenset(day for day, _, _ in step.check_ins)


@bp.route("/")
@access.portal_page
def steps():
    return cards_page("portal/steps/list.html", patient_steps, _card)


def _step(patient, step_id: int, now) -> VisibleStep:
    try:
        return visible_step(patient, step_id, now)
    except StepNotThePatients:
        abort(404)


@bp.route("/<id:step_id>", methods=["GET", "POST"])
@access.portal_page
def step(step_id: int):
    """One step with all the patient's check-ins, and its form: where the list's forms post (a
    refusal is shown here, 422, what was typed kept) and where text kept after a time-out is
    offered back."""
    patient, account = current_portal_patient(), current_portal_account()
    now = utcnow()
    today = clinic_today(now)
    if request.method == "POST":
        return _check_in(patient, account, step_id, now)
    shown = _step(patient, step_id, now)
    kept = offered_back(account.id)
    if kept is not None:
        flash(OFFERED_BACK, "info")
    card = _card(shown, today, _form(shown, today, kept) if kept is not None else None)
    return render_template("portal/steps/step.html", card=card, today=today, **WORDS)


def _check_in(patient, account, step_id: int, now):
    """The check-in posted: saved (back to the list), or refused on its fields (422)."""
    today = clinic_today(now)
    form = StepCheckInForm(meta={"id_prefix": f"step-{step_id}-"})

    def refused(fields: str) -> None:
        _step(patient, step_id, now)  # another patient's step: 404, before any refusal is recorded
        audit.record("step_check_in.record", object_type="actionstep", object_id=step_id, patient_id=patient.id,
                     outcome=audit.FAILURE, detail=f"refused: {fields}")
    try:
        saved = save_day(form, lambda: check_in_on_step(patient, step_id, form.progress.data, form.for_date.data,
                                                        form.obstacles.data, now), refused)
    except StepNotThePatients:
        abort(404)
    if saved:
        mark_recovered(account.id, request.path)
        flash(f"Checked in: {day_words(form.for_date.data, today)} — {OUTCOMES[form.progress.data].lower()}. "
              "Thank you.", "success")
        return redirect(url_for(".steps", _anchor=f"step-{step_id}"))
    shown = _step(patient, step_id, now)
    offer_days(form, loggable_days(shown.starts_on, today, today, LATE_CHECK_IN_DAYS, _checked_in(shown)), today)
    return render_template("portal/steps/step.html", card=_card(shown, today, form), today=today, **WORDS), 422
