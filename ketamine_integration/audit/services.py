"""Writing audit events: one call per audited action, kept even when the request fails."""
from __future__ import annotations

from flask import flash, g, has_request_context, request

from ..db.append_only import AUDITED_DIGEST_PREFIX, AUDITED_DIGESTS, audited_digest
from ..db.types import utcnow
from ..extensions import db
from ..web.forms import flash_form_problems
from ..web.lifecycle import keep_after_rollback
from . import chain
from .models import DENIED, FAILURE, SUCCESS, AuditEvent

#: The audited actions and how the audit page names them.
ACTIONS = {
    "login.success": "Signed in",
    "login.failure": "Sign-in failed",
    "login.mfa_due": "Password accepted; second sign-in step due",
    "login.mfa_success": "Sign-in code accepted",
    "login.mfa_failure": "Sign-in code refused",
    "mfa.enrol": "Set up an authenticator",
    "mfa.recovery_codes": "Made new recovery codes",
    "mfa.turn_off": "Turned off two-step sign-in",
    "login.limited": "Sign-in refused: too many failed attempts",
    "logout": "Signed out",
    "session.expired": "Session ended automatically",
    "access.denied": "Access denied",
    "patient.list": "Listed patients",
    "patient.view": "Viewed patient",
    "patient.create": "Created patient",
    "patient.update": "Edited patient",
    "patient.archive": "Archived patient",
    "patient.restore": "Restored patient",
    "patient.import": "Registered a patient from an import file",
    "import.check": "Checked an import file",
    "care_team.change": "Changed a care team",
    "course.view": "Viewed treatment course",
    "course.create": "Enrolled patient in a protocol",
    "course.phase_change": "Changed course phase",
    "preparation.record": "Recorded preparation item",
    "preparation.void": "Voided preparation item",
    "dosing.plan": "Planned dosing sessions",
    "dosing.view": "Viewed dosing session",
    "dosing.update": "Recorded dosing session",
    "dosing.sign": "Signed dosing session",
    "dosing.addendum": "Added addendum to dosing session",
    "dosing.reschedule": "Moved planned dosing session",
    "dosing.cancel": "Cancelled dosing session",
    "rems.list": "Listed REMS forms",
    "rems.print": "Printed REMS monitoring form",
    "rems.submitted": "Marked REMS form submitted",
    "appointment.create": "Booked appointment",
    "appointment.update": "Changed appointment",
    "appointment.view": "Viewed appointment",
    "schedule.propose": "Proposed an auto-schedule",
    "schedule.confirm": "Confirmed an auto-schedule",
    "user.create": "Created user",
    "user.update": "Edited user",
    "user.password_reset": "Reset a user's password",
    "user.mfa_reset": "Reset a user's authenticator",
    "account.notifications": "Changed own notification settings (daily summary, video room)",
    "settings.notifications": "Changed the on-call address for urgent safety alerts",
    "settings.mfa": "Changed which roles must use two-step sign-in",
    "settings.session_type": "Changed a session type's default length",
    "settings.calendar": "Changed what calendar feeds show",
    "settings.file_names": "Changed what patient documents' file names carry",
    "settings.telehealth": "Changed the telehealth link settings",
    "settings.reminders": "Changed the appointment reminder settings",
    "contact_consent.view": "Viewed a patient's contact consent",
    "contact_consent.record": "Recorded a patient's contact consent",
    "contact_consent.opt_out": "Opted a patient out of every message",
    "calendar.feed_create": "Created a calendar feed address",
    "calendar.feed_revoke": "Revoked a calendar feed address",
    "calendar.feed_read": "A calendar feed was read",
    "calendar.import": "Imported busy time from a calendar",
    "appointment.invite": "Downloaded a calendar invitation",
    "note.create": "Started a session note",
    "note.view": "Viewed a session note",
    "note.update": "Saved a session note draft",
    "note.sign": "Signed a session note",
    "note.discard": "Discarded own draft note (its text not kept)",
    "note.addendum": "Added an addendum to a session note",
    "note.themes": "Viewed a patient's themes",
    "note.action_steps": "Viewed a course's action steps",
    "note.techniques": "Viewed the techniques used across a course and the patient's responses",
    "journal.write": "The patient wrote a journal entry (its text not kept here)",
    "journal.edit": "The patient changed a private journal entry",
    "journal.share": "The patient shared a journal entry with their therapist",
    "journal.unshare": "The patient stopped sharing a journal entry",
    "journal.view": "The patient read their journal",
    "journal.prompts": "The patient's open journal prompts were read",
    "process_note.read": "Read own process notes",
    "process_note.update": "Saved own process notes",
    "formulation.view": "Viewed a case formulation",
    "formulation.update": "Saved a case formulation",
    "plan.view": "Viewed a treatment plan",
    "plan.create": "Started a treatment plan revision",
    "plan.update": "Saved a treatment plan draft",
    "plan.sign": "Signed a treatment plan revision",
    "plan.addendum": "Added an addendum to a treatment plan revision",
    "plan.stage": "Moved a course on the decision map",
    "safety_plan.view": "Viewed a patient's safety plan",
    "safety_plan.save": "Saved a safety plan draft",
    "safety_plan.sign": "Signed a safety plan revision",
    "safety_plan.addendum": "Added an addendum to a safety plan revision",
    "safety_plan.review": "Signed a review of a safety plan",
    "settings.practices": "Changed the practice vocabulary",
    "practice.assign": "Assigned a self-guided practice",
    "practice.end": "Ended a practice assignment",
    "practice.view": "The patient viewed their practices",
    "practice.log": "The patient logged a practice",
    "step.view": "The patient viewed their action steps",
    "step_check_in.record": "The patient checked in on an action step",
    "measure.view": "Viewed measures",
    "measure.create": "Recorded a measure",
    "measure.import": "Recorded a measure from an import file",
    "measure.void": "Voided a measure entry",
    "measure.patient_submit": "The patient completed a questionnaire in the portal",
    "alert.acknowledge": "Acknowledged a safety alert",
    "alert.portal_answer": "Safety alert opened by the patient's answer on an incomplete portal questionnaire",
    "release.view": "Viewed releases of information",
    "release.create": "Recorded a release of information",
    "release.revoke": "Revoked a release of information",
    "coordination.view": "Viewed prescriber coordination",
    "coordination.send": "Sent a coordination note",
    "coordination.acknowledge": "Acknowledged a coordination note",
    "report.preview": "Previewed a coordination report",
    "report.create": "Generated a coordination report",
    "report.download": "Downloaded a coordination report",
    "discharge.view": "Viewed a discharge summary",
    "discharge.create": "Started a discharge summary",
    "discharge.update": "Saved a discharge summary draft",
    "discharge.sign": "Signed a discharge summary",
    "discharge.addendum": "Added an addendum to a discharge summary",
    "discharge.download": "Downloaded a discharge summary",
    "discharge.send": "Sent a discharge summary to a prescriber",
    "discharge.copy_download": "Downloaded a prescriber's copy of a discharge summary",
    "record_export.view": "Opened a patient's right-of-access page (the copies made, the request form)",
    "record_export.create": "Recorded a right-of-access request and made the copy of the patient's record (who "
                            "asked, for whom and the delivery are in its row)",
    "record_export.portal_view": "A patient opened the page to download their record",
    "record_export.portal_download": "A patient downloaded a copy of their record in the portal",
    "forms.packet_create": "Asked for a course's intake and consent forms (its protocol's packet, at enrolment)",
    "forms.sign": "A patient signed an intake or consent form (in the portal or on a clinic tablet)",
    "forms.countersign": "Countersigned a patient's signed form",
    "forms.review_flags": "Reviewed the flagged answers of a patient's signed form",
    "forms.withdraw": "A patient withdrew a signed consent (in the portal, or as recorded by the clinic)",
    "forms.tablet_start_view": "Opened the step that hands a clinic tablet to a patient (the forms they will sign)",
    "forms.tablet_start": "Handed a clinic tablet to a patient to sign their forms",
    "forms.tablet_end": "A clinic tablet's signing session ended (completed, ended by staff or expired)",
    "forms.packet_view": "Opened a course's intake and consent forms (their states; the answers for the care team)",
    "forms.view": "Read a patient's signed intake or consent form",
    "forms.download": "Downloaded a patient's signed intake or consent form (PDF)",
    "forms.portal_list": "A patient opened their forms in the portal (to sign, signed, withdrawn)",
    "forms.portal_view": "A patient opened one of their forms in the portal (to sign, signed, or to withdraw)",
    "forms.portal_download": "A patient downloaded one of their signed forms (PDF)",
    "forms.tablet_view": "A patient opened the forms to sign on a clinic tablet (an in-clinic signing)",
    "record.changed": "Refused: the record had changed meanwhile (append-only guard)",
    "audit.view": "Viewed audit log",
    "audit.export": "Exported the audit log (CSV)",
    "fhir.export": "Exported a patient's record as FHIR (a Bundle)",
    "fhir.bulk_export": "Exported the clinic's record as FHIR NDJSON files (flask export fhir)",
    "message.sent": "Sent a message (its content not kept)",
    "message.failed": "A message could not be delivered",
    "message.withdrawn": "Withdrew a message not sent yet",
    "message.requeued": "A withdrawn message is due again (patient restored, consent or address given again)",
    "message.list": "Viewed the clinic's messages",
    "outcomes.view": "Viewed the clinic's outcomes (aggregates over courses)",
    "outcomes.export": "Downloaded the clinic's outcomes (CSV)",
    "reminder.opted_out": "A reminder was due but not sent: the patient does not consent on that channel",
    "portal.invite": "Invited a patient to the patient portal",
    "portal.invite_resend": "Sent a patient's portal invitation again (the earlier link no longer works)",
    "portal.invite_revoke": "Revoked a patient's portal invitation",
    "portal.turn_off_view": "Opened the page to turn a patient's portal account off",
    "portal.turn_off": "Turned a patient's portal account off (open portal sessions ended)",
    "portal.turn_on": "Turned a patient's portal account on again",
    "portal.reset": "Sent a patient a link to reset their portal password and second step",
    "portal.reset_cancel": "Cancelled a patient's waiting portal reset link",
    "portal.reset_use": "A patient used a reset link and set a new portal password",
    "portal.accept": "A patient accepted a portal invitation and set a password",
    "portal.sign_in": "A patient signed in to the portal",
    "portal.sign_in_failure": "A patient's portal sign-in failed",
    "portal.code_failure": "A patient's portal sign-in code was refused",
    "portal.enrol": "A patient set up their second sign-in step",
    "portal.sign_out": "A patient signed out of the portal",
    "portal.session_expired": "A patient's portal session ended automatically",
    "portal.password_change": "A patient changed their portal password",
    "portal.factor_change": "A patient asked to change how they confirm sign-ins (the current password checked)",
    "portal.home": "A patient opened their portal home page (sessions, phase)",
    "portal.calendar": "A patient downloaded a session's calendar file",
    "portal.account_view": "A patient opened their portal account page",
    "portal.questionnaires": "A patient opened their questionnaires (what is due, what they completed)",
    "portal.questionnaire_view": "A patient opened one of their questionnaires",
    "portal.questionnaire_support": "A patient was shown the crisis resources after answers that raised a safety alert",
    "backup.create": "Backed up the database",
    "backup.verify": "Verified a backup",
    "backup.restore": "Restored the database from a backup",
}


def _client_ip() -> str | None:
    # Behind a proxy, ProxyFix (create_app, from TRUSTED_PROXY_HOPS) rewrites remote_addr.
    return request.remote_addr if has_request_context() else None


def _acting_user_id() -> int | None:
    if not has_request_context():
        return None
    user = g.get("_login_user")  # the already-loaded user; never trigger a load from here
    if user is not None and getattr(user, "is_authenticated", False):
        return user.id
    return None


#: g key: the portal account acting in this request (set by the portal's access check)
PORTAL_ACTOR = "portal_account_id"


def act_as_portal_account(account_id: int | None) -> None:
    """From here on in this request, audit rows name this patient's portal account as the actor."""
    setattr(g, PORTAL_ACTOR, account_id)


def _acting_portal_account_id() -> int | None:
    return g.get(PORTAL_ACTOR) if has_request_context() else None


def _with_audited_digest(action: str, obj, detail: str | None) -> str | None:
    """A void, acknowledgement or revocation carries the digest of what it set, a signed form (its
    countersignature, review, withdrawal) the digest of the record as created, kept here by the chain
    for `signatures verify`; added in this one place so no view can leave it out."""
    if action not in AUDITED_DIGESTS or getattr(obj, "__tablename__", None) != AUDITED_DIGESTS[action][0]:
        return detail
    table, columns = AUDITED_DIGESTS[action]
    stamp = AUDITED_DIGEST_PREFIX + audited_digest(action, {c: getattr(obj, c) for c in ("id", *columns)})
    return f"{detail}; {stamp}" if detail else stamp


def record(action: str, *, obj=None, object_type: str | None = None, object_id=None,
           patient_id: int | None = None, outcome: str = SUCCESS, detail: str | None = None,
           user_id: int | None = None, durable: bool | None = None, session=None,
           portal_account_id: int | None = None) -> AuditEvent:
    """Add one audit row to the current transaction (or to `session`'s); it is chained and
    written when the transaction commits (chain.py says why not at once).

    A durable row (by default: any outcome but success) is written again if the request's
    transaction is rolled back, so a denial or a failed login is recorded even though the
    request's other writes are discarded. `session` writes to another database (a restore
    records itself in the database it restored). In a portal request the actor is the patient's
    portal account (act_as_portal_account), unless `portal_account_id` names one.
    """
    if action not in ACTIONS:
        raise ValueError(f"unknown audit action {action!r}")
    if obj is not None:
        object_type = object_type or type(obj).__name__.lower()
        object_id = obj.id
        if outcome == SUCCESS:
            detail = _with_audited_digest(action, obj, detail)
    fields = dict(
        action=action, object_type=object_type,
        object_id=None if object_id is None else str(object_id),
        patient_id=patient_id, outcome=outcome, detail=detail,
        user_id=user_id if user_id is not None else _acting_user_id(), ip=_client_ip(),
        portal_account_id=portal_account_id if portal_account_id is not None else _acting_portal_account_id(),
        occurred_at=utcnow(),
    )
    event = AuditEvent(**fields)
    chain.enqueue(session or db.session(), event)
    if (outcome != SUCCESS if durable is None else durable) and has_request_context():
        keep_after_rollback(lambda: chain.enqueue(db.session(), AuditEvent(**fields)))
    return event


def denial(detail: str, *, patient_id: int | None = None, obj=None) -> AuditEvent:
    if obj is None and patient_id is not None:
        return record("access.denied", object_type="patient", object_id=patient_id,
                      patient_id=patient_id, outcome=DENIED, detail=detail)
    return record("access.denied", obj=obj, patient_id=patient_id, outcome=DENIED, detail=detail)


def report_submission(done: bool, form, action: str, *, obj, patient_id: int, message: str,
                      detail: str | None = None) -> None:
    """After a form that redirects back: one audit row (success, or the refused attempt) and
    a message saying what happened or what to correct."""
    if done:
        record(action, obj=obj, patient_id=patient_id, detail=detail)
        flash(message, "success")
    else:
        record(action, obj=obj, patient_id=patient_id, outcome=FAILURE,
               detail=f"{detail + ' ' if detail else ''}refused")
        flash_form_problems(form, prefix="Not changed: ")


def record_refused_change(sender, *, endpoint: str | None) -> None:
    """Receiver of web.lifecycle.change_refused: an append-only guard refused a request's write."""
    record("record.changed", outcome=FAILURE, detail=f"guard refused {endpoint}"[:200])


__all__ = ["ACTIONS", "DENIED", "FAILURE", "SUCCESS", "act_as_portal_account", "record", "denial", "record_refused_change", "report_submission"]
