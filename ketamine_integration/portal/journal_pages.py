"""The portal's journal pages (issue 23, point 4): the prompts open now, each with a form answering it,
and the patient's entries newest first, each private or shared with their therapist, with sharing, its
withdrawal and the editing of a private entry.

Every read and write goes through journal/services.py, which takes the signed-in patient (from the
session, never from the URL), checks that an entry is theirs and audits it: another patient's entry and
an unknown id are both 404. Text sent after the session timed out is kept and offered back on the same
page (portal/recovery.py).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, time, timedelta

from flask import Blueprint, Flask, abort, flash, redirect, render_template, request, url_for
from wtforms import FormField

from ..courses.services import current_course
from ..db.clinic_time import format_local_day, to_clinic
from ..db.errors import DomainError
from ..db.types import utcnow
from ..domain import journal as rules
from ..domain.text import is_written
from ..journal import services as journal_services
from ..web import access
from ..web.forms import CONFLICT_STATUS, INVALID_FORM_STATUS, form_version, parse_id, submit
from . import nav, recovery
from .journal_forms import JournalEditForm, JournalWriteForm, as_boxes
from .sessions import current_portal_account, current_portal_patient

bp = Blueprint("portal_journal", __name__, url_prefix="/portal/journal")

#: the free entry's form when no daily or weekly invitation is open: the patient may always write
WRITE_FREELY = "Write in your journal"
SAVED = "Saved in your journal. It is private: only you can read it unless you share it."
SAVED_SEVERAL = ("Saved in your journal: {count} entries, one for each box you wrote in. They are private: only you "
                 "can read them unless you share them.")
RECOVERED = "What you wrote before you were signed out is back in its form below. Save it to keep it."


def register(app: Flask) -> None:
    """The journal's pages, its menu item and the pages whose text a timed-out session keeps."""
    app.register_blueprint(bp)
    nav.add_item("portal_journal.journal", "Journal", order=30)
    recovery.keep_text_of("portal_journal.journal", "portal_journal.entry_edit")


@dataclass(frozen=True)
class Slot:
    """One prompt's box on the journal page (a row of the page's one write form)."""
    box: FormField
    hint: str


@dataclass
class PromptGroup:
    """Prompts shown together: one dose's review prompts, the free entry, or text not saved yet."""
    key: str
    heading: str
    #: how long they are offered (empty: always)
    note: str = ""
    slots: list[Slot] = field(default_factory=list)


@dataclass(frozen=True)
class Typed:
    """What a box held when the page is shown again: posted and refused, or kept from a timed-out session."""
    prompt: str
    dose: str
    text: str
    errors: tuple[str, ...] = ()


# -- pages ---------------------------------------------------------------------------------------

@bp.route("/", methods=["GET", "POST"])
@access.portal_page
def journal():
    """The prompts open now, each a box of one form, and the patient's entries; a POST writes every box
    written in, each as its own entry, or none of them (what was typed is shown again in every box)."""
    patient, account = current_portal_patient(), current_portal_account()
    if request.method == "POST":
        form = JournalWriteForm(formdata=as_boxes(request.form))
        done, entries = submit(form, lambda: _write_all(patient, form, utcnow()))
        if done:
            recovery.mark_recovered(account.id, request.path)
            flash(SAVED if len(entries) == 1 else SAVED_SEVERAL.format(count=len(entries)), "success")
            return redirect(url_for("portal_journal.journal", _anchor=f"entry-{entries[-1].id}"))
        return _journal(patient, _typed(form), _general_errors(form)), INVALID_FORM_STATUS
    kept = recovery.offered_back(account.id)
    if kept is not None:
        flash(RECOVERED, "info")
        return _journal(patient, _typed(JournalWriteForm(formdata=as_boxes(kept))))
    return _journal(patient, [])


def _write_all(patient, form: JournalWriteForm, now: datetime) -> list:
    """Write each box that holds text (a form with none: its first box, which the service refuses as
    empty). A refusal of any box refuses them all, each box's reasons on its text area (which prompt or
    dose too: the box is where the patient sees them) and the form's above it."""
    boxes = list(enumerate(form.entries))
    chosen = [(i, box) for i, box in boxes if is_written(box.text.data or "")] or boxes[:1] or [(0, None)]
    entries, reasons = [], {}
    for index, box in chosen:
        prompt, text, dose = _box_values(box)
        try:
            entries.append(journal_services.write_entry(patient, prompt=prompt, text=text, now=now,
                                                        dosing_session_id=_dose_id(dose)))
        except DomainError as err:
            _gather(reasons, err, f"entries-{index}-text" if box is not None else "")
    if reasons:
        raise DomainError(reasons)
    return entries


def _box_values(box: FormField | None) -> tuple[str, str | None, str]:
    """A box's prompt, text and dose as posted (no box at all: an empty entry, which the service refuses)."""
    if box is None:
        return "", None, ""
    return box.prompt.data or "", box.text.data, box.dosing_session_id.data or ""


def _gather(reasons: dict[str, str], err: DomainError, text_field: str) -> None:
    """A box's reasons onto its text area (the form's own, about no field, above the form), each said once."""
    for name, message in err.reasons.items():
        key = text_field if name else ""
        if message not in reasons.get(key, ""):
            reasons[key] = f"{reasons[key]} {message}" if key in reasons else message


@bp.route("/<id:entry_id>/edit", methods=["GET", "POST"])
@access.portal_page
def entry_edit(entry_id: int):
    """A private entry's text to change (a shared one is shown with the way to stop sharing it)."""
    patient, account = current_portal_patient(), current_portal_account()
    if request.method == "POST":
        form = JournalEditForm()
        done, _ = submit(form, lambda: _or_404(lambda: journal_services.edit_entry(
            patient, entry_id, text=form.text.data, expected_version=form_version(form), now=utcnow())))
        if done:
            recovery.mark_recovered(account.id, request.path)
            flash("Your changes are saved.", "success")
            return redirect(url_for("portal_journal.journal", _anchor=f"entry-{entry_id}"))
        status = CONFLICT_STATUS if getattr(form, "edit_conflict", False) else INVALID_FORM_STATUS
        return _edit(patient, entry_id, form), status
    kept = recovery.offered_back(account.id)
    if kept is not None:
        flash(RECOVERED, "info")
        return _edit(patient, entry_id, JournalEditForm(formdata=kept))
    return _edit(patient, entry_id, None)


@bp.route("/<id:entry_id>/share", methods=["POST"])
@access.portal_page
def entry_share(entry_id: int):
    """Share one entry with the therapist (audited as journal.share)."""
    entry = _or_404(lambda: journal_services.share_entry(current_portal_patient(), entry_id, utcnow()))
    flash("Shared with your therapist: they can read this entry now. You can stop sharing it at any time.",
          "success")
    return redirect(url_for("portal_journal.journal", _anchor=f"entry-{entry.id}"))


@bp.route("/<id:entry_id>/stop-sharing", methods=["POST"])
@access.portal_page
def entry_unshare(entry_id: int):
    """Withdraw an entry's share: it is private again (audited as journal.unshare)."""
    entry = _or_404(lambda: journal_services.unshare_entry(current_portal_patient(), entry_id, utcnow()))
    flash("This entry is private again: your therapist no longer sees it. Words they already quoted in a signed "
          "session note stay in that note.", "success")
    return redirect(url_for("portal_journal.journal", _anchor=f"entry-{entry.id}"))


# -- what the pages show ---------------------------------------------------------------------------

def _journal(patient, typed: list[Typed], general: list[str] | None = None) -> str:
    """The journal page; `typed`: what the boxes held (a refused save, or text kept from a timed-out
    session), each in its prompt's box (or first, under "Not saved yet", when that prompt is no longer
    offered); `general`: the reasons that belong to no box."""
    now = utcnow()
    course = current_course(patient.id)
    form = JournalWriteForm(formdata=None)
    groups = _write_groups(form, journal_services.open_prompts(patient, now), course is not None, typed)
    form.form_errors = list(general or [])
    return render_template("portal/journal/journal.html", form=form, groups=groups, course=course,
                           entries=journal_services.entries_for(patient), prompt_words=_prompt_words(),
                           day_words=day_words)


def _edit(patient, entry_id: int, form: JournalEditForm | None):
    entry = _or_404(lambda: journal_services.entry_for(patient, entry_id))
    if form is None:
        form = JournalEditForm(formdata=None, data={"text": entry.text, "version": entry.version})
    once_shared = journal_services.SHARED_STAYS if entry.shared else journal_services.ONCE_SHARED_STAYS
    return render_template("portal/journal/edit.html", entry=entry, form=form, prompt_words=_prompt_words(),
                           day_words=day_words, conflict=getattr(form, "edit_conflict", False),
                           once_shared=once_shared)


@dataclass(frozen=True)
class _Box:
    """Where a box goes and what it answers."""
    group: PromptGroup
    prompt: str
    dose: str
    question: str
    hint: str = ""


def _write_groups(form: JournalWriteForm, prompts: list[rules.OpenPrompt], has_course: bool,
                  typed: list[Typed]) -> list[PromptGroup]:
    """The boxes by group: each dose's open review prompts, then the free entry (always offered once the
    patient has a course); text typed for a prompt no longer offered comes first. Each becomes a row of
    `form`, in the order shown, holding what was typed for it."""
    places = _review_places([p for p in prompts if not p.cadence])
    if has_course:
        places.append(_free_place(next((p for p in prompts if p.cadence), None)))
    groups: list[PromptGroup] = []
    for place, was in _placed(places, typed):
        box = form.entries.append_entry({"prompt": place.prompt, "dosing_session_id": place.dose,
                                         "text": was.text if was else ""})
        box.text.label.text = place.question
        box.text.errors = list(was.errors) if was else []
        place.group.slots.append(Slot(box, place.hint))
        if not any(g is place.group for g in groups):
            groups.append(place.group)
    if any(box.text.errors for box in form.entries):
        form.entries.errors = [box.errors for box in form.entries]
    return groups


def _placed(places: list[_Box], typed: list[Typed]) -> list[tuple[_Box, Typed | None]]:
    """Each place with what was typed for it; what was typed for no place offered now goes first, under
    "Not saved yet" (a prompt answered or closed meanwhile: the text is still the patient's)."""
    left = list(typed)
    filled = [(place, _take(left, place.prompt, place.dose)) for place in places]
    unplaced = [t for t in left if is_written(t.text) or t.errors]
    if not unplaced:
        return filled
    kept = PromptGroup("kept", "Not saved yet", "What you wrote is still here: save it to keep it.")
    return [(_Box(kept, t.prompt, t.dose, _question_of(t.prompt)), t) for t in unplaced] + filled


def _review_places(prompts: list[rules.OpenPrompt]) -> list[_Box]:
    """Each dose's open review prompts under its heading, in the order the rules give them."""
    groups: dict[int, PromptGroup] = {}
    places = []
    for p in prompts:
        dose = p.dosing_session_id
        group = groups.setdefault(dose, PromptGroup(f"dose-{dose}", f"About your session on {day_words(p.opened_at)}",
                                                    f"While it is fresh. {until_words(p.closes_at)}"))
        places.append(_Box(group, p.prompt.key, str(dose), p.question, p.prompt.hint))
    return places


def _free_place(free: rules.OpenPrompt | None) -> _Box:
    """The free entry: today's or this week's invitation when one is open, else writing freely."""
    if free is None:
        return _Box(PromptGroup("free", "Any time"), rules.FREE, "", WRITE_FREELY, rules.FREE_PROMPT.hint)
    heading = "Today" if free.cadence == "daily" else "This week"
    return _Box(PromptGroup("free", heading, until_words(free.closes_at)), rules.FREE, str(free.dosing_session_id),
                free.question, rules.FREE_PROMPT.hint)


def _take(typed: list[Typed], prompt: str, dose: str) -> Typed | None:
    """Remove and return what was typed for this prompt (a review prompt: about this dose; the free entry
    whichever dose it was about)."""
    for index, was in enumerate(typed):
        if was.prompt == prompt and (prompt == rules.FREE or was.dose == dose):
            return typed.pop(index)
    return None


def _typed(form: JournalWriteForm) -> list[Typed]:
    return [Typed(box.prompt.data or "", (box.dosing_session_id.data or "").strip(), box.text.data or "",
                  tuple(box.text.errors)) for box in form.entries]


def _general_errors(form: JournalWriteForm) -> list[str]:
    """Reasons about the whole form (the service's, or the form's own fields', said above it)."""
    own = [m for name, messages in form.errors.items() if name != "entries" for m in messages]
    return list(getattr(form, "form_errors", [])) + own


def _question_of(prompt: str) -> str:
    found = rules.PROMPTS.get(prompt)
    return found.question if found is not None and prompt != rules.FREE else WRITE_FREELY


def _prompt_words() -> dict[str, str]:
    """How the patient's own pages name what an entry answered."""
    return {key: (p.question if key != rules.FREE else "Journal entry") for key, p in rules.PROMPTS.items()}


#: a clinic day as the patient reads it: "Tuesday 3 March" (the `localday` filter's words)
day_words = format_local_day


def until_words(closes_at: datetime) -> str:
    """When a prompt stops being offered: the end of a clinic day, or the moment the next dose ended."""
    local = to_clinic(closes_at)
    if local.time() == time(0):
        return f"Offered until the end of {day_words(local - timedelta(days=1))}."
    return f"Offered until {day_words(local)}, {local:%I:%M %p}.".replace(", 0", ", ")


# -- helpers -----------------------------------------------------------------------------------------

def _or_404(operation):
    """Run a journal service; an entry that is not the patient's (or none at all) is 404 (the service has
    audited the attempt)."""
    try:
        return operation()
    except journal_services.EntryNotFound:
        abort(404)


def _dose_id(value: str | None) -> int | None:
    """The posted dose: none for an empty field; an id, or 0 (no such dose: the service says so) otherwise."""
    if not (value or "").strip():
        return None
    return parse_id(value) or 0
