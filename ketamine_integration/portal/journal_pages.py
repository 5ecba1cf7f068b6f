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

from ..db.clinic_time import to_clinic
from ..db.types import utcnow
from ..domain import journal as rules
from ..journal import services as journal_services
from ..web import access
from ..web.forms import CONFLICT_STATUS, INVALID_FORM_STATUS, form_version, parse_id, submit
from . import nav, recovery
from .journal_forms import JournalEditForm, JournalEntryForm
from .sessions import current_portal_account, current_portal_patient

bp = Blueprint("portal_journal", __name__, url_prefix="/portal/journal")

#: the free entry's form when no daily or weekly invitation is open: the patient may always write
WRITE_FREELY = "Write in your journal"
SAVED = "Saved in your journal. It is private: only you can read it unless you share it."
RECOVERED = "What you wrote before you were signed out is back in its form below. Save it to keep it."


def register(app: Flask) -> None:
    """The journal's pages, its menu item and the pages whose text a timed-out session keeps."""
    app.register_blueprint(bp)
    nav.add_item("portal_journal.journal", "Journal", order=30)
    recovery.keep_text_of("portal_journal.journal", "portal_journal.entry_edit")


@dataclass(frozen=True)
class Slot:
    """One prompt's write form on the journal page."""
    form: JournalEntryForm
    hint: str


@dataclass
class PromptGroup:
    """Prompts shown together: one dose's review prompts, the free entry, or text not saved yet."""
    key: str
    heading: str
    #: how long they are offered (empty: always)
    note: str = ""
    slots: list[Slot] = field(default_factory=list)


# -- pages ---------------------------------------------------------------------------------------

@bp.route("/", methods=["GET", "POST"])
@access.portal_page
def journal():
    """The prompts open now with their forms, and the patient's entries; a POST writes one entry."""
    patient, account = current_portal_patient(), current_portal_account()
    if request.method == "POST":
        form = JournalEntryForm()
        done, entry = submit(form, lambda: journal_services.write_entry(
            patient, prompt=form.prompt.data or "", text=form.text.data, now=utcnow(),
            dosing_session_id=_dose_id(form.dosing_session_id.data)))
        if done:
            recovery.mark_recovered(account.id, request.path)
            flash(SAVED, "success")
            return redirect(url_for("portal_journal.journal", _anchor=f"entry-{entry.id}"))
        _hidden_errors_to_form(form)
        return _journal(patient, form), INVALID_FORM_STATUS
    kept = recovery.offered_back(account.id)
    if kept is not None:
        flash(RECOVERED, "info")
    return _journal(patient, JournalEntryForm(formdata=kept) if kept is not None else None)


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

def _journal(patient, pending: JournalEntryForm | None) -> str:
    """The journal page; `pending`: a form posted with errors, or text kept from a timed-out session,
    shown in its prompt's place (or first, when that prompt is no longer offered)."""
    now = utcnow()
    course = journal_services.current_course(patient)
    groups = _write_groups(journal_services.open_prompts(patient, now), course is not None, pending)
    return render_template("portal/journal/journal.html", groups=groups, course=course,
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


def _write_groups(prompts: list[rules.OpenPrompt], has_course: bool,
                  pending: JournalEntryForm | None) -> list[PromptGroup]:
    """The write forms by group: each dose's open review prompts, then the free entry (always offered
    once the patient has a course). A pending form takes its prompt's place, or comes first."""
    groups = _review_groups([p for p in prompts if not p.cadence], pending)
    if has_course:
        groups.append(_free_group(next((p for p in prompts if p.cadence), None), pending))
    if pending is not None and not any(slot.form is pending for g in groups for slot in g.slots):
        prompt = rules.PROMPTS.get(pending.prompt.data or "")
        kept = PromptGroup("kept", "Not saved yet", "What you wrote is still here: save it to keep it.",
                           [Slot(pending.place("kept", prompt.question if prompt else WRITE_FREELY), "")])
        groups.insert(0, kept)
    return groups


def _review_groups(prompts: list[rules.OpenPrompt], pending: JournalEntryForm | None) -> list[PromptGroup]:
    """Each dose's open review prompts under its heading, in the order the rules give them."""
    groups: dict[int, PromptGroup] = {}
    for p in prompts:
        dose = p.dosing_session_id
        group = groups.setdefault(dose, PromptGroup(f"dose-{dose}", f"About your session on {day_words(p.opened_at)}",
                                                    f"While it is fresh. {until_words(p.closes_at)}"))
        form = _matching(pending, p.prompt.key, dose) or JournalEntryForm(
            formdata=None, data={"prompt": p.prompt.key, "dosing_session_id": dose})
        group.slots.append(Slot(form.place(f"{p.prompt.key}-{dose}", p.question), p.prompt.hint))
    return list(groups.values())


def _free_group(free: rules.OpenPrompt | None, pending: JournalEntryForm | None) -> PromptGroup:
    """The free entry: today's or this week's invitation when one is open, else writing freely."""
    form = _matching(pending, rules.FREE, None) or JournalEntryForm(
        formdata=None, data={"prompt": rules.FREE, "dosing_session_id": free.dosing_session_id if free else ""})
    if free is None:
        return PromptGroup("free", "Any time", "", [Slot(form.place("free", WRITE_FREELY), rules.FREE_PROMPT.hint)])
    heading = "Today" if free.cadence == "daily" else "This week"
    return PromptGroup("free", heading, until_words(free.closes_at),
                       [Slot(form.place("free", free.question), rules.FREE_PROMPT.hint)])


def _matching(pending: JournalEntryForm | None, prompt: str, dose_id: int | None) -> JournalEntryForm | None:
    """The pending form if it answers this prompt (a review prompt: about this dose)."""
    if pending is None or pending.prompt.data != prompt:
        return None
    if dose_id is not None and pending.dosing_session_id.data != str(dose_id):
        return None
    return pending


def _prompt_words() -> dict[str, str]:
    """How the patient's own pages name what an entry answered."""
    return {key: (p.question if key != rules.FREE else "Journal entry") for key, p in rules.PROMPTS.items()}


def day_words(instant: datetime) -> str:
    """A clinic day as the patient reads it: "Tuesday 3 March"."""
    local = to_clinic(instant)
    return f"{local:%A} {local.day} {local:%B}"


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


def _hidden_errors_to_form(form: JournalEntryForm) -> None:
    """Reasons about the hidden fields (which prompt, which dose) are said above the form."""
    for hidden in (form.prompt, form.dosing_session_id):
        if hidden.errors:
            form.form_errors = list(getattr(form, "form_errors", [])) + list(hidden.errors)
