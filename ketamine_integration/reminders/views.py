"""The contact consent page of a patient and the clinic's reminder settings page."""
from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import current_user

from ..audit import services as audit
from ..bookings.models import KINDS
from ..domain.reminders import CHANNELS, format_offsets
from ..patients.access import load_patient
from ..web import access
from ..web.forms import form_fields_in_error, render_form, submit
from ..db.types import utcnow
from . import consent, rules, sweep
from .forms import ContactConsentForm, OptOutForm, ReminderSettingsForm
from .models import METHODS

bp = Blueprint("reminders", __name__)

OPT_OUT_PREFIX = "opt_out"


def _consent_page(patient, form: ContactConsentForm, opt_out: OptOutForm):
    history = consent.consent_history(patient.id)
    return render_form("reminders/consent.html", form, opt_out=opt_out, patient=patient, history=history,
                       current=consent.current_consents(patient, history), channels=CHANNELS, methods=METHODS)


@bp.route("/patients/<id:patient_id>/contact-consent", methods=["GET", "POST"])
@access.permission("contacts.consent")
def contact_consent(patient_id: int):
    patient = load_patient(patient_id)
    form = ContactConsentForm()
    done, row = submit(form, lambda: consent.record_consent(
        patient, channel=form.channel.data, granted=form.decision.data == "grant", method=form.method.data,
        by=current_user))
    if done:
        verb = "granted" if row.granted else "withdrawn"
        audit.record("contact_consent.record", obj=row, patient_id=patient.id,
                     detail=f"{row.channel} {verb} ({row.method})")
        flash(f"Recorded: {CHANNELS[row.channel].lower()} reminders {verb}.", "success")
        return redirect(url_for("reminders.contact_consent", patient_id=patient.id))
    if form.is_submitted():
        audit.record("contact_consent.record", obj=patient, patient_id=patient.id, outcome=audit.FAILURE,
                     detail=f"refused: {', '.join(form_fields_in_error(form))}"[:200])
    else:
        audit.record("contact_consent.view", obj=patient, patient_id=patient.id)
    return _consent_page(patient, form, OptOutForm(prefix=OPT_OUT_PREFIX, formdata=None))


@bp.route("/patients/<id:patient_id>/contact-consent/opt-out", methods=["POST"])
@access.permission("contacts.consent")
def opt_out(patient_id: int):
    patient = load_patient(patient_id)
    form = OptOutForm(prefix=OPT_OUT_PREFIX)
    done, rows = submit(form, lambda: consent.opt_out_of_everything(patient, method=form.method.data,
                                                                     by=current_user))
    if done:
        audit.record("contact_consent.opt_out", obj=patient, patient_id=patient.id,
                     detail=f"withdrawn: {', '.join(r.channel for r in rows)} ({form.method.data})")
        flash("Recorded: the patient is sent no reminders on any channel.", "success")
        return redirect(url_for("reminders.contact_consent", patient_id=patient.id))
    audit.record("contact_consent.opt_out", obj=patient, patient_id=patient.id, outcome=audit.FAILURE,
                 detail=f"refused: {', '.join(form_fields_in_error(form))}"[:200])
    page, _ = _consent_page(patient, ContactConsentForm(formdata=None), form)
    return page, 422


def _settings_form(settings: rules.ReminderSettings) -> ReminderSettingsForm:
    data = dict(sender=settings.sender, quiet_hours=settings.quiet_hours_text,
                clinic_address=settings.clinic_address, clinic_phone=settings.clinic_phone)
    for kind, rule in settings.rules.items():
        data[kind] = dict(offsets=format_offsets(rule.offsets), channels=list(rule.channels),
                          wording=rule.wording or "")
    return ReminderSettingsForm(data=data)


def _submitted(form: ReminderSettingsForm) -> dict:
    return dict(sender=form.sender.data, quiet_hours=form.quiet_hours.data, clinic_address=form.clinic_address.data,
                clinic_phone=form.clinic_phone.data,
                rules={kind: dict(getattr(form, kind).data) for kind in KINDS})


def _save_and_replan(form: ReminderSettingsForm) -> None:
    """Save the settings, then bring every waiting reminder in line with them (sweep.follow_settings)."""
    rules.save_reminder_settings(_submitted(form), by_id=current_user.id)
    sweep.follow_settings(utcnow())


@bp.route("/settings/reminders", methods=["GET", "POST"])
@access.permission("clinic.configure")
def reminder_settings():
    form = ReminderSettingsForm() if request.method == "POST" else _settings_form(rules.reminder_settings())
    done, _ = submit(form, lambda: _save_and_replan(form))
    if done:
        audit.record("settings.reminders", object_type="clinic_setting", object_id="reminders")
        flash("Saved: every reminder not yet sent follows these rules.", "success")
        return redirect(url_for("reminders.reminder_settings"))
    if form.is_submitted():
        audit.record("settings.reminders", outcome=audit.FAILURE,
                     detail=f"refused: {', '.join(form_fields_in_error(form))}"[:200])
    return render_form("reminders/settings.html", form, kinds=KINDS)
