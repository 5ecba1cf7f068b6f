"""Coordination pages: releases of information, the therapist–prescriber conversation, the
coordination report (preview, generate, download), and the prescriber's worklist."""
from __future__ import annotations

from flask import Blueprint, Response, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy import select
from sqlalchemy.orm import joinedload

from ..web import access
from ..accounts.models import PRESCRIBER, THERAPIST, User
from ..audit import services as audit
from ..courses.models import TreatmentCourse
from ..db.types import utcnow
from ..documents.coordination_report import PreviewActions, render_report_html
from ..experience import monitoring, overdue, rems
from ..extensions import db
from ..web.fields import options
from ..web.lifecycle import CONTENT_SECURITY_POLICY
from ..notes.services import open_alerts
from ..signed_forms import waiting as forms_waiting
from ..patients.access import active_caseload, load_patient, load_patient_record, team_roles
from ..patients.services import clinician_choices
from ..accounts.services import user_choices
from ..clinic_settings.file_names import patient_file_name
from ..db.clinic_time import clinic_today
from ..web.forms import parse_id, submit
from . import inbox, services
from .received import received
from .due import reports_due_for
from .forms import AcknowledgeNoteForm, NoteForm, ReleaseForm, ReportForm, RevokeForm
from .models import CATEGORIES, CoordinationNote, CoordinationReport, ReleaseOfInformation

bp = Blueprint("coordination", __name__)


def _prescribers(patient) -> list[tuple[int, str]]:
    return [(m.user_id, m.user.display_name) for m in patient.care_team if m.role == PRESCRIBER]


# -- releases of information -------------------------------------------------------------------

def _release_form(form=None):
    form = form or ReleaseForm(effective_on=clinic_today())
    form.recipient.choices = options([(0, "— (an outside recipient)")] + clinician_choices(PRESCRIBER))
    return form


def _may_change_releases(record, patient_id: int) -> None:
    """403 (audited) for a prescriber: releases are recorded and revoked by staff, the admin or
    the therapist, never by a prescriber (what may be shared with prescribers is not theirs to set)."""
    if not current_user.can("releases.manage"):
        audit.denial("releases are recorded by staff, admin or the therapist", obj=record, patient_id=patient_id)
        abort(403)


@bp.route("/patients/<id:patient_id>/releases", methods=["GET", "POST"])
@access.permission("releases.read")
def releases(patient_id: int):
    patient = load_patient(patient_id)
    form = _release_form(ReleaseForm() if request.method == "POST" else None)
    if request.method == "POST":
        _may_change_releases(patient, patient.id)
        done, release = submit(form, lambda: services.create_release(
            patient, recipient_user_id=form.recipient.data or None, recipient_name=form.recipient_name.data,
            categories=form.categories.data or [], purpose=form.purpose.data, effective_on=form.effective_on.data,
            expires_on=form.expires_on.data, by=current_user, outside_care_team=form.outside_care_team.data))
        if done:
            audit.record("release.create", obj=release, patient_id=patient.id,
                         detail=",".join(release.categories) + ("; outside the care team"
                                                                if release.covers_outside_recipient else ""))
            flash("Release of information recorded.", "success")
            return redirect(url_for("coordination.releases", patient_id=patient.id))
        audit.record("release.create", obj=patient, patient_id=patient.id, outcome=audit.FAILURE, detail="refused")
    else:
        audit.record("release.view", obj=patient, patient_id=patient.id)
    return render_template("coordination/releases.html", patient=patient, releases=services.patient_releases(patient.id),
                           form=form, revoke_form=RevokeForm(revoked_on=clinic_today()), categories=CATEGORIES,
                           today=clinic_today()), 422 if form.errors else 200


@bp.route("/releases/<id:release_id>/revoke", methods=["POST"])
@access.permission("releases.read")
def release_revoke(release_id: int):
    release = load_patient_record(ReleaseOfInformation, release_id, clinical=False)
    _may_change_releases(release, release.patient_id)
    form = RevokeForm()
    done, _ = submit(form, lambda: services.revoke_release(release, on=form.revoked_on.data, by=current_user))
    audit.report_submission(done, form, "release.revoke", obj=release, patient_id=release.patient_id,
                      message="Release revoked: nothing more is shared under it from that date.")
    return redirect(url_for("coordination.releases", patient_id=release.patient_id))


# -- the conversation and reports of a course --------------------------------------------------

def _course(course_id: int) -> TreatmentCourse:
    return load_patient_record(TreatmentCourse, course_id, clinical=True)


def _course_as_therapist(course_id: int) -> TreatmentCourse:
    """A course whose patient has the user on the care team as a therapist: reports are the
    therapist's to write (a clinician on this team only as prescriber may be a therapist elsewhere)."""
    course = _course(course_id)
    if THERAPIST not in team_roles(current_user, course.patient):
        audit.denial("reports are written by the patient's therapist", obj=course, patient_id=course.patient_id)
        abort(403)
    return course


def _page(course, *, note_form=None, report_form=None, status=200, seen=False):
    """The conversation; `seen`: opened to read it, so the answers to the user's notes shown are seen
    (the home page stops counting them as new)."""
    note_form = note_form or NoteForm()
    note_form.recipient.choices = options(services.note_recipients(course, current_user, clinic_today()))
    report_form = report_form or ReportForm()
    report_form.recipient.choices = options(_prescribers(course.patient))
    notes, reports = services.course_notes(course.id), services.course_reports(course.id)
    is_therapist, documents = THERAPIST in team_roles(current_user, course.patient), []
    if not is_therapist:
        # a prescriber sees their own conversation and reports, not what went to a colleague, and the
        # documents sent to them (the therapists find a discharge summary's copies on its page)
        notes = [n for n in notes if current_user.id in (n.author_id, n.recipient_id)]
        reports = [r for r in reports if r.recipient_id == current_user.id]
        documents = received(current_user, active_caseload(current_user), course.id)
    if seen:
        inbox.mark_answers_seen(notes, current_user, utcnow())
    return render_template("coordination/course.html", course=course, notes=notes, is_therapist=is_therapist,
                           sent_times={n.id: n.sent_at for n in notes},
                           reports=reports, documents=documents, note_form=note_form, report_form=report_form,
                           ack_form=AcknowledgeNoteForm()), status


@bp.route("/courses/<id:course_id>/coordination", methods=["GET", "POST"])
@access.permission("coordination.message")
def course_coordination(course_id: int):
    course = _course(course_id)
    if request.method == "GET":
        audit.record("coordination.view", obj=course, patient_id=course.patient_id)
        return _page(course, seen=True)
    form = NoteForm()
    # any id: the service says why one is refused (outside the care team without a release, say)
    form.recipient.choices = options((user_id, name) for user_id, name, _roles in user_choices())
    follows = None
    if request.form.get("follows"):
        follows = db.session.get(CoordinationNote, parse_id(request.form.get("follows")) or 0)
        if follows is None or follows.course_id != course.id \
                or current_user.id not in (follows.author_id, follows.recipient_id):
            abort(400)  # a follow-up answers a note of this course that the user sent or received
    done, note = submit(form, lambda: services.send_note(
        course, recipient_id=form.recipient.data, priority=form.priority.data, category=form.category.data,
        body=form.body.data, by=current_user, today=clinic_today(), follows=follows))
    if done:
        outside = all(member.user_id != note.recipient_id for member in course.patient.care_team)
        audit.record("coordination.send", obj=note, patient_id=course.patient_id,
                     detail=f"{note.priority} {note.category}" + ("; outside the care team, under a release"
                                                                   if outside else ""))
        flash("Sent.", "success")
        return redirect(url_for("coordination.course_coordination", course_id=course.id))
    audit.record("coordination.send", obj=course, patient_id=course.patient_id, outcome=audit.FAILURE,
                 detail="refused: " + ", ".join(sorted(k or "form" for k in form.errors))[:180])
    return _page(course, note_form=form, status=422)


def _note_to_acknowledge(note_id: int) -> CoordinationNote:
    """A note addressed to the user: through the care team, or from outside it under a release
    active today (a prescriber of another practice acknowledges on their worklist)."""
    note = db.session.get(CoordinationNote, note_id)
    if note is not None and note.recipient_id == current_user.id and db.session.scalar(
            services.outside_patients(current_user, clinic_today())
            .where(ReleaseOfInformation.patient_id == note.patient_id).limit(1)) is not None:
        return note
    return load_patient_record(CoordinationNote, note_id, clinical=True)


@bp.route("/coordination/<id:note_id>/acknowledge", methods=["POST"])
@access.permission("coordination.message")
def note_acknowledge(note_id: int):
    note = _note_to_acknowledge(note_id)
    form = AcknowledgeNoteForm()
    done, _ = submit(form, lambda: services.acknowledge_note(note, reply=form.reply.data, by=current_user,
                                                             now=utcnow()))
    audit.report_submission(done, form, "coordination.acknowledge", obj=note, patient_id=note.patient_id,
                      message="Acknowledged.")
    if request.form.get("next_page") == "worklist":
        return redirect(url_for("coordination.prescriber_worklist"))
    return redirect(url_for("coordination.course_coordination", course_id=note.course_id))


@bp.route("/courses/<id:course_id>/report-preview", methods=["POST"])
@access.permission("reports.generate")
def report_preview(course_id: int):
    """The report as it would be generated, not stored. A POST (CSRF-checked) so that the
    questions and recommendations typed for the prescriber never land in URLs and logs."""
    course = _course_as_therapist(course_id)
    recipient_id = parse_id(request.form.get("recipient"))
    if recipient_id is None or recipient_id not in {uid for uid, _ in _prescribers(course.patient)}:
        audit.record("report.preview", obj=course, patient_id=course.patient_id, outcome=audit.FAILURE,
                     detail="no such prescriber on the care team")
        abort(404)
    categories, _ = services.permitted(course.patient_id, recipient_id, clinic_today())
    if not categories:
        audit.record("report.preview", obj=course, patient_id=course.patient_id, outcome=audit.FAILURE,
                     detail=f"no active release for user {recipient_id}")
        flash("No release of information lets this record go to that prescriber today.", "error")
        # the page again, what was typed still in the report form (the note form starts empty)
        return _page(course, note_form=NoteForm(formdata=None), report_form=ReportForm(), status=422)
    audit.record("report.preview", obj=course, patient_id=course.patient_id,
                 detail=f"for user {recipient_id}: " + ",".join(sorted(categories)))
    questions = request.form.get("questions", "")[:3000]
    recommendations = request.form.get("recommendations", "")[:3000]
    data = services.report_data(course, recipient=db.session.get(User, recipient_id), author=current_user,
                                categories=categories, now=utcnow(), questions=questions,
                                recommendations=recommendations)
    actions = PreviewActions(back_url=url_for("coordination.report_form", course_id=course.id) + "#report-form",
                             generate_url=url_for("coordination.report_generate", course_id=course.id),
                             recipient=recipient_id, questions=questions, recommendations=recommendations)
    response = Response(render_report_html(data, for_pdf=False, actions=actions), mimetype="text/html")
    # The report carries its own print stylesheet (the same markup becomes the PDF): inline
    # styles only, still no script at all.
    response.headers["Content-Security-Policy"] = CONTENT_SECURITY_POLICY.replace(
        "style-src 'self'", "style-src 'self' 'unsafe-inline'")
    return response


@bp.route("/courses/<id:course_id>/report-form", methods=["POST"])
@access.permission("reports.generate")
def report_form(course_id: int):
    """Back from the preview: the coordination page with the report form as it was typed (posted,
    so questions and recommendations stay out of URLs, as for the preview itself)."""
    course = _course_as_therapist(course_id)
    audit.record("coordination.view", obj=course, patient_id=course.patient_id)
    return _page(course, note_form=NoteForm(formdata=None), report_form=ReportForm())


@bp.route("/courses/<id:course_id>/reports", methods=["POST"])
@access.permission("reports.generate")
def report_generate(course_id: int):
    course = _course_as_therapist(course_id)
    form = ReportForm()
    form.recipient.choices = options(_prescribers(course.patient))
    done, report = submit(form, lambda: services.generate_report(
        course, recipient_id=form.recipient.data, by=current_user, now=utcnow(), today=clinic_today(),
        questions=form.questions.data, recommendations=form.recommendations.data))
    if done:
        audit.record("report.create", obj=report, patient_id=course.patient_id, detail=",".join(report.categories))
        flash("Report generated and stored; it is listed below and on the prescriber's worklist.", "success")
        return redirect(url_for("coordination.course_coordination", course_id=course.id))
    audit.record("report.create", obj=course, patient_id=course.patient_id, outcome=audit.FAILURE, detail="refused")
    return _page(course, report_form=form, status=422)


@bp.route("/reports/<id:report_id>.pdf")
@access.permission("reports.read")
def report_pdf(report_id: int):
    report = db.session.get(CoordinationReport, report_id)
    if report is None:
        abort(404)
    course = load_patient_record(TreatmentCourse, report.course_id, clinical=True)
    therapists = {m.user_id for m in course.patient.care_team if m.role == THERAPIST}
    if current_user.id not in {report.recipient_id, report.created_by_id} | therapists:
        audit.denial("a report goes to its recipient (and the treating therapists)", obj=report,
                     patient_id=report.patient_id)
        abort(403)
    audit.record("report.download", obj=report, patient_id=report.patient_id)
    response = Response(report.pdf, mimetype="application/pdf")
    name = patient_file_name("coordination-report", mrn=course.patient.mrn, name=course.patient.full_name,
                             day=clinic_today(report.created_at))
    response.headers["Content-Disposition"] = f'attachment; filename="{name}"'
    return response


# -- the prescriber's worklist ----------------------------------------------------------------------

@bp.route("/prescriber/")
@access.permission("reports.receive")
def prescriber_worklist():
    """Urgent and unacknowledged notes, new reports and reports due, open safety alerts, planned doses
    not recorded, REMS forms due (by patient): own patients only."""
    # The caseload as a subquery, not a list: a prescriber's caseload is hundreds of patients, and
    # the page names just those its notes and alerts are about (loaded with them).
    mine = active_caseload(current_user)
    # notes sent from outside the care team under a release active today reach the worklist too
    notes = inbox.notes_to_acknowledge(current_user, clinic_today())
    reports = db.session.scalars(select(CoordinationReport).where(
        CoordinationReport.recipient_id == current_user.id, CoordinationReport.patient_id.in_(mine))
        .order_by(CoordinationReport.created_at.desc()).limit(20)
        .options(joinedload(CoordinationReport.patient))).all()
    documents = received(current_user, mine)
    alerts = open_alerts(mine)
    forms = rems.by_patient(rems.forms_outstanding(current_user, today=clinic_today()))
    overdue_doses = overdue.overdue_planned(current_user, utcnow())
    flagged = monitoring.recent_flagged(current_user, utcnow())
    due = reports_due_for(mine, utcnow(), clinic_today())
    form_flags, withdrawals = forms_waiting.flags_to_review(current_user), forms_waiting.withdrawals(current_user)
    to_countersign = forms_waiting.countersignatures_owed(current_user)
    listed = {"notes": notes, "reports": reports, "documents": documents, "alerts": alerts, "flagged doses": flagged,
              "doses not recorded": overdue_doses, "reports due": due, "form flags": form_flags,
              "withdrawals": withdrawals, "to countersign": to_countersign}
    # how many of each it lists, in words short enough for the audit's 200 characters
    audit.record("patient.list", detail=("prescriber worklist; " + ", ".join(
        f"{what} {len(rows)}" for what, rows in listed.items()))[:200])
    return render_template("coordination/worklist.html", notes=notes, reports=reports, documents=documents,
                           alerts=alerts,
                           rems_groups=forms, ack_form=AcknowledgeNoteForm(), flagged=flagged,
                           flagged_days=monitoring.WORKLIST_DAYS, reports_due=due, overdue_doses=overdue_doses,
                           form_flags=form_flags, withdrawals=withdrawals, to_countersign=to_countersign)
