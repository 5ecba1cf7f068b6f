"""What the portal's Practices and Action steps pages share: the patient's form for one day (done,
partly or not; which day, from a list of the recent ones; what got in the way), the days offered,
the days in words, saving such a form with a refusal's audit row, and the list page of cards."""
from __future__ import annotations

import re
from datetime import date, datetime, timedelta
from typing import Any, Callable, Collection

from flask import render_template
from flask_wtf import FlaskForm
from wtforms import RadioField, SelectField, TextAreaField
from wtforms.validators import InputRequired, Length, Optional

from ..db.clinic_time import clinic_today
from ..db.types import utcnow
from ..domain.practices import LOG_STAYS, NOTE_LIMIT, OUTCOMES, date_words
from ..notes.patient_check_ins import CHECK_IN_STAYS
from ..web.fields import options
from ..web.forms import form_fields_in_error, submit
from .sessions import current_portal_patient

CHOOSE_OUTCOME = "Choose done, partly or not done."
HINT = "Anything that made it hard, in your own words: your therapist will see it."
_ISO_DAY = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
#: logs (check-ins) shown under each card on a list page (a practice's or step's own page shows them all)
RECENT = 5
#: said on a practice's or step's page when the text kept after a time-out fills its form again
OFFERED_BACK = "What you wrote before you were signed out is back in the form: check it, then save it."


def _as_day(value) -> date | None:
    """A day as the list sends it (2026-03-10); empty is None (InputRequired says so)."""
    if value is None or isinstance(value, date):
        return value
    text = str(value).strip()
    if not text:
        return None
    if not _ISO_DAY.fullmatch(text):
        raise ValueError(text)
    return date.fromisoformat(text)  # ValueError for a day no calendar has (2026-02-30)


class DayField(SelectField):
    """One of the recent days, from a list. A day the list does not hold (an old page, a forged
    value) is passed on: the service says why it cannot be logged."""

    def __init__(self, label=None, validators=None, **kwargs):
        super().__init__(label, validators, coerce=_as_day, validate_choice=False,
                         invalid_value_message="Choose one of the days in the list.", **kwargs)
        # drawn as a select by the form macro's select_list, which leaves out `required` where the
        # W3C checker refuses it (a list without an empty first option)
        self.type = "SelectField"


class _DayForm(FlaskForm):
    """A form a page shows once per practice (or step): each copy's ids start with its own
    `id_prefix` (meta), so the page's ids stay unique while the names stay plain."""

    class Meta:
        id_prefix = ""

        def bind_field(self, form, unbound_field, binding):
            return unbound_field.bind(form=form, id=f"{self.id_prefix}{binding.get('prefix', '')}{binding['name']}",
                                      **binding)


class PracticeLogForm(_DayForm):
    outcome = RadioField("How did it go?", choices=options(OUTCOMES.items()),
                         validators=[InputRequired(CHOOSE_OUTCOME)], invalid_choice_message=CHOOSE_OUTCOME)
    for_date = DayField("Which day", validators=[InputRequired("Choose the day this is for.")])
    note = TextAreaField("What got in the way? (optional)", validators=[Optional(), Length(max=NOTE_LIMIT)],
                         description=HINT)


class StepCheckInForm(_DayForm):
    progress = RadioField("How did it go?", choices=options(OUTCOMES.items()),
                          validators=[InputRequired(CHOOSE_OUTCOME)], invalid_choice_message=CHOOSE_OUTCOME)
    for_date = DayField("Which day", validators=[InputRequired("Choose the day this is about.")])
    obstacles = TextAreaField("What got in the way? (optional)", validators=[Optional(), Length(max=NOTE_LIMIT)],
                              description=HINT)


def day_words(day: date, today: date) -> str:
    """"today", "yesterday", else "Sunday 8 March"."""
    if day == today:
        return "today"
    if day == today - timedelta(days=1):
        return "yesterday"
    return date_words(day, today)


def loggable_days(first: date, last: date, today: date, back: int, full: Collection[date] = ()) -> list[date]:
    """The days a patient may pick, newest first: from `first` (the practice's or step's first day)
    to `last` (its last day; today at most), no more than `back` days before today (the service's
    limit, which refuses an older day with its own words), leaving out the `full` ones (logged as
    often as they ask), so the list starts at the newest day still open."""
    newest, oldest = min(last, today), max(first, today - timedelta(days=back))
    return [day for n in range((newest - oldest).days + 1) if (day := newest - timedelta(days=n)) not in full]


def day_label(day: date, today: date) -> str:
    """A day as the list offers it: "Today, Tuesday 10 March", "Yesterday, ...", "Sunday 8 March"."""
    words, full = day_words(day, today), date_words(day, today)
    return full if words == full else f"{first_upper(words)}, {full}"


def day_form(cls: type[_DayForm], key: str, days: list[date], today: date, *, posted: bool = False,
             kept=None) -> _DayForm:
    """The form of one practice or step (`key`, e.g. "practice-12"), offering `days`: the request's
    submission (posted), the text kept when the session timed out (kept), else blank with the
    newest day chosen."""
    meta = {"id_prefix": f"{key}-"}
    if posted:
        form = cls(meta=meta)
    elif kept is not None:
        form = cls(formdata=kept, meta=meta)
    else:
        form = cls(formdata=None, data={"for_date": days[0] if days else None}, meta=meta)
    return offer_days(form, days, today)


def offer_days(form: _DayForm, days: list[date], today: date) -> _DayForm:
    form.for_date.choices = options((d.isoformat(), day_label(d, today)) for d in days)
    return form


def save_day(form: _DayForm, write: Callable[[], Any], refused: Callable[[str], Any]) -> bool:
    """Validate the submitted `form`, then `write()` (the service, in a savepoint; its reasons go on
    the fields). A form its own fields refuse never reaches the service: `refused(fields)` records
    that refusal's audit row (the service records its own)."""
    if not form.validate_on_submit():
        refused(", ".join(form_fields_in_error(form)) or "form")
        return False
    done, _ = submit(form, write)
    return done


def first_upper(text: str) -> str:
    """The first letter made a capital, the rest as written (Jinja's capitalize lowercases the rest:
    "Monday 30 november", a therapist's "with Sam" as "with sam")."""
    return text[:1].upper() + text[1:]


def cards_page(template: str, fetch: Callable[[Any, datetime], list], card: Callable[[Any, date], Any]) -> str:
    """The list page of the signed-in patient's practices or steps: `fetch(patient, now)` (the service,
    which audits the read), each item drawn as `card(item, today)` with its newest RECENT entries."""
    now = utcnow()
    today = clinic_today(now)
    cards = [card(item, today) for item in fetch(current_portal_patient(), now)]
    return render_template(template, cards=cards, today=today, recent=RECENT, **WORDS)


#: the words templates show days in, and what a patient can do about a day already logged (passed to the pages'
#: templates)
WORDS = {"day_words": day_words, "date_words": date_words, "first_upper": first_upper, "log_stays": LOG_STAYS,
         "check_in_stays": CHECK_IN_STAYS}
