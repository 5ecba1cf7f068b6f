"""The course page: everything a course shows, gathered from the features that feed it, and the
views that show it (again, with a refused form's errors): above every feature it composes."""
from __future__ import annotations

from datetime import timedelta

from flask import abort, flash, redirect, render_template, request, url_for
from flask_login import current_user

from ..accounts.models import PRESCRIBER, THERAPIST
from ..accounts.services import user_choices
from ..audit import services as audit
from ..courses import services
from ..courses.forms import PhaseForm, PreparationForm, VoidForm
from ..courses.models import TreatmentCourse
from ..discharge.access import may_write as may_write_discharge
from ..discharge.received import copies_received
from ..discharge.services import course_status as discharge_status
from .booking_forms import book_form_choices, only_team_choices
from .calendar_booking import booking_page, calendar_back
from .course_end import ending_preview
from .course_forms import countersigns_owed
from .course_next import CoursePageFacts, next_actions
from .practice_panel import practice_parts
from ..domain.measures import MEASURES
from ..domain.protocols import DOCUMENTED_ITEMS
from ..domain.phases import NEXT_PHASES
from ..experience.forms import PlanForm
from ..experience.models import SIGNED
from ..experience import dose_roles, services as dosing
from ..experience.fidelity import unexplained_deviations
from ..experience.provisional import booked_for_doses, booked_minutes, provisional_rows, provisional_windows
from ..experience.monitoring import flagged_sessions
from ..experience.services import dosing_clinician_choices, fetch_dosing_sessions
from ..experience.timeline import drawings
from ..experience.windows import course_windows
from ..web import access
from ..web.fields import options
from ..web.forms import form_version, parse_id, submit
from ..journal.staff import readable_entries
from ..notes.forms import NewNoteForm
from ..notes.questionnaires import course_questionnaires, to_prompt
from ..notes.safety import safety_history
from ..notes.services import course_notes
from ..notes.views_data import open_steps_with_check_ins
from ..patients.access import active_caseload, can_read_clinical, load_patient_record, team_roles
from ..patients.care_team import may_add_members
from ..domain.windows import WindowStatus
from ..patients.services import clinician_choices
from ..scheduling import attendance, services as scheduling
from ..bookings.availability import active_rooms, first_free_room, room_choices, session_minutes, suggest_for_windows
from ..bookings.booking import integration_sessions
from ..scheduling.after_series import after_series_sessions, course_plan
from ..scheduling.forms import BookForm, HeldSessionForm, OutcomeForm
from ..scheduling.services import fetch_course_appointments
from ..signed_forms.checklist import checklist_lines, form_evidence, titles_to_sign
from ..signed_forms.services import packet_status
from ..telehealth.services import video_links_of
from ..db.clinic_time import clinic_today, clinic_zone, to_clinic
from ..db.types import utcnow
from ..domain.phases import Phase


def plan_form_choices(form: PlanForm, clinicians=None, rooms=None) -> PlanForm:
    """Who may run dosing sessions and where: the choices a plan form offers and accepts
    (`clinicians` and `rooms`: what the page read already for its other forms)."""
    form.clinician.choices = options(dosing_clinician_choices(clinicians))
    form.room.choices = room_choices(first_free=False, rooms=rooms)
    return form


def course_page(course: TreatmentCourse, *, phase_form=None, prep_form=None, plan_form=None,
                book_form=None, held_form=None, practice_form=None, status=200):
    """The course page, with any submitted form (and its errors) in place of a fresh one."""
    protocol = services.course_protocol(course)
    phase_form, prep_form = _phase_forms(course, protocol, phase_form, prep_form)
    may_add_to_team = may_add_members(current_user, course.patient)
    clinicians = []
    if not course.current_phase.ended:  # an ended course plans and books nothing: no forms to fill
        clinicians, plan_form, book_form = _planning_forms(course, protocol, plan_form, book_form, may_add_to_team)
    now = utcnow()
    sessions, appointments = fetch_dosing_sessions(course.id), fetch_course_appointments(course.id)
    # the course's integration sessions, from the appointments read: what covers its windows, real
    # and provisional (issue 20, point 1), assigned to all of them at once by the one rule
    integration, minutes = integration_sessions(appointments), booked_minutes(appointments)
    planned = provisional_windows(course, sessions, minutes)
    windows = course_windows(course, sessions, integration, now, [w for _s, w in planned])
    provisional = provisional_rows(course, planned, integration, windows, minutes, now)
    after_series = course_plan(course, sessions, after_series_sessions(appointments), now)
    clinical = can_read_clinical(current_user, course.patient)
    # the packet read once: the page shows it, and its checklist items and gate are found from it
    packet = packet_status(course)
    found = services.evidence(course, forms=form_evidence(packet))
    facts = services.course_facts(course, dosing_sessions_done=sum(s.status == SIGNED for s in sessions),
                                  found=found, forms_to_sign=titles_to_sign(packet))
    blockers, records_dosing = services.next_phase_blockers(course, facts), dose_roles.may_record(current_user, course)
    suggestions, after_series_suggestions = _suggestions(course, windows + provisional, after_series, now)
    clinical_parts = _clinical_parts(course, clinical)
    discharge, writes_discharge, discharge_copies = _discharge_parts(course)
    todo = next_actions(current_user, CoursePageFacts(
        course=course, sessions=sessions, windows=windows + provisional, after_series_rows=after_series.rows,
        appointments=appointments, notes=clinical_parts["notes"], open_alerts=clinical_parts["open_alerts"],
        blockers=blockers, suggested=_offered(suggestions), after_suggested=_offered(after_series_suggestions),
        clinical=clinical, may_record_dose=records_dosing, now=now, today=clinic_today(now), discharge=discharge,
        writes_discharge=writes_discharge, countersigns_owed=tuple(countersigns_owed(course, packet))))
    return render_template(
        "courses/detail.html", course=course, protocol=protocol, clinical=clinical, next_actions=todo,
        history=services.phase_history(course), blockers=blockers,
        facts=facts, checklist=services.checklist_items(protocol), found=found,
        measure_names={m.baseline_item: m.name for m in MEASURES.values() if m.has_baseline},
        documented={item: words for item, (_section, words) in DOCUMENTED_ITEMS.items()},
        records=course.preparation_records, phase_form=phase_form, prep_form=prep_form,
        void_form=VoidForm(), Phase=Phase, sessions=sessions, windows=windows, provisional=provisional,
        flagged=flagged_sessions(sessions) if clinical else {},
        deviations=unexplained_deviations(course, sessions) if clinical else [],
        timeline=drawings(windows + provisional, now, clinic_zone()), plan_form=plan_form, book_form=book_form,
        may_add_to_team=may_add_to_team,
        dosing_readable=can_read_clinical(current_user, course.patient, "dosing.read"),
        records_dosing=records_dosing, suggestions=suggestions, after_series=after_series,
        after_series_suggestions=after_series_suggestions,
        names={user_id: name for user_id, name, _roles in clinicians},
        new_note_form=NewNoteForm(session_date=clinic_today(), prefix="note"),
        **clinical_parts, **practice_parts(course, clinical, practice_form),
        appointments=appointments, video_links=video_links_of(appointments, viewer_id=current_user.id),
        booked_for=booked_for_doses(appointments, sessions, windows + provisional, now),
        dosing_bookings={a.dosing_session_id: a for a in appointments
                                                    if a.dosing_session_id is not None},
        now=now, outcome_form=OutcomeForm(), held_form=held_form or HeldSessionForm(prefix="held"),
        measures=MEASURES, discharge=discharge, packet=packet, form_lines=checklist_lines(packet),
        discharge_copies=discharge_copies, **_questionnaires(course, now)), status


def _discharge_parts(course: TreatmentCourse) -> tuple[str | None, bool, list]:
    """The discharge summary's state ("due", "signed", None), whether the user writes it while it is due,
    and the copies of the signed one sent to the user (a prescriber finds them here and on the worklist)."""
    state = discharge_status(course)
    writes = state == "due" and may_write_discharge(current_user, course)
    copies = copies_received(current_user, active_caseload(current_user), course.id) \
        if state == "signed" and current_user.can("reports.read") else []
    return state, writes, copies


def _phase_forms(course: TreatmentCourse, protocol, phase_form, prep_form):
    """The phase and preparation forms (the submitted ones, else fresh), with their choices."""
    if phase_form is None:
        phase_form = PhaseForm(version=course.version)
    phase_form.target.choices = options((p.value, p.label) for p in NEXT_PHASES[course.current_phase])
    if prep_form is None:
        prep_form = PreparationForm(completed_on=clinic_today())
    prep_form.item.choices = options(services.recordable_items(protocol))
    return phase_form, prep_form


def _planning_forms(course: TreatmentCourse, protocol, plan_form, book_form, may_add_to_team: bool):
    """The clinicians, and the plan and booking forms (the submitted ones, else fresh) with their choices."""
    # the clinic's clinicians and rooms, read once for both forms and the suggestions' names
    clinicians, rooms = user_choices(PRESCRIBER, THERAPIST), active_rooms()
    # the form plans one stage at a time: the series' first, or in maintenance one booster
    maintenance = course.current_phase is Phase.MAINTENANCE and protocol.experience.maintenance_stage
    stage = maintenance or protocol.experience.plan[0]
    plan_form = plan_form_choices(plan_form or PlanForm(
        days_between=stage.days_between.min, count=1 if maintenance else stage.sessions.max,
        clinician=course.prescriber_id, minutes=dosing.booked_minutes(protocol)), clinicians, rooms)
    book_form = book_form_choices(course, book_form or BookForm(clinician=course.therapist_id), may_add_to_team,
                                  clinicians=clinicians, rooms=rooms)
    if not may_add_to_team:
        only_team_choices(course, plan_form)
    return clinicians, plan_form, book_form


#: the sessions after the series offered suggested times at once: the nearest still to book
SUGGESTED_AFTER_SERIES = 3


def _suggestions(course: TreatmentCourse, rows, after_series, now) -> tuple[dict, dict]:
    """Free slots for each open window, real or provisional, with nothing booked, by dosing session id
    (none while the course books no integration session: in preparation, or once it has ended); and for
    the nearest sessions after the series still to book, by number, for a user who books (none for an
    ended course). The therapists' hours and bookings are read once for both (suggest_for_windows)."""
    books_windows = course.current_phase in scheduling.BOOKABLE_IN["integration"]
    books_after = not course.current_phase.ended and current_user.can("schedule.book")
    if not (books_windows or books_after):
        return {}, {}
    wanted = [r.window for r in _to_book(rows)] if books_windows else []
    sessions = [r.session for r in _to_book(after_series.rows)[:SUGGESTED_AFTER_SERIES]] if books_after else []
    # asked even with no window wanting times: the page's statements then do not depend on its windows
    found = suggest_for_windows(course, wanted + sessions, now)
    return ({w.key: slots for w, slots in zip(wanted, found)},
            {s.number: slots for s, slots in zip(sessions, found[len(wanted):])})


def _to_book(rows) -> list:
    """The rows (of windows, or of sessions after the series) with nothing booked that have not closed."""
    return [r for r in rows if r.needs_booking and r.status is not WindowStatus.CLOSED]


def _offered(suggestions: dict) -> frozenset:
    """The keys of the windows (or sessions after the series) the page shows suggested times for."""
    return frozenset(key for key, slots in suggestions.items() if slots is not None)


def _clinical_parts(course: TreatmentCourse, clinical: bool) -> dict:
    """The course's notes, open action steps with the patient's check-ins, open safety alerts, the
    patient's safety history and the journal entries they shared, for a user who may read clinical records."""
    if not clinical:
        return {"notes": [], "open_alerts": 0, "safety_history": [], "journal": None, "open_steps": []}
    history = safety_history(course.patient_id)
    return {"notes": course_notes(course.id), "safety_history": history,
            # the open action steps, each with the patient's own check-ins from the portal (issue 23)
            "open_steps": open_steps_with_check_ins(course.id),
            "open_alerts": sum(a.open and a.course_id == course.id for a in history),
            # what the patient shared from their journal: for the care team's therapists only (None: not shown)
            "journal": readable_entries(current_user, course.patient, course.id)}


def _questionnaires(course: TreatmentCourse, now) -> dict:
    """The protocol's questionnaires of the course, and those staff may prompt the patient for."""
    asked = course_questionnaires(course, now)
    return {"questionnaires": asked, "prompt": to_prompt(asked, now)}


def _back_to_course(course_id: int, anchor: str | None = None):
    return redirect(url_for("courses.course_detail", course_id=course_id) + (f"#{anchor}" if anchor else ""))


@access.permission("patients.read")
def course_detail(course_id: int):
    course = load_patient_record(TreatmentCourse, course_id, clinical=False)
    audit.record("course.view", obj=course, patient_id=course.patient_id)
    return course_page(course)


@access.permission("courses.treat")
def course_phase(course_id: int):
    course = load_patient_record(TreatmentCourse, course_id, clinical=True)
    form = PhaseForm()
    form.target.choices = options((p.value, p.label) for p in Phase)
    if form.target.data in ENDINGS and form.validate_on_submit():
        return _end_course(course, form, Phase(form.target.data))
    done, decision = submit(form, lambda: services.change_phase(
        course, Phase(form.target.data), by=current_user, expected_version=form_version(form),
        reason=form.reason.data, override=form.override.data))
    if done:
        detail = f"to {decision.target.value}" + ("; gate overridden" if decision.overridden else "")
        audit.record("course.phase_change", obj=course, patient_id=course.patient_id, detail=detail)
        flash(f"The course is now in {decision.target.value}.", "success")
        return _back_to_course(course.id)
    audit.record("course.phase_change", obj=course, patient_id=course.patient_id,
                 outcome=audit.FAILURE, detail="refused")
    return course_page(course, phase_form=form, status=422)


#: the phases that end a course (and cancel what is ahead of it)
ENDINGS = frozenset(p.value for p in Phase if p.ended)


def _end_course(course: TreatmentCourse, form: PhaseForm, target: Phase):
    """End the course once the user has seen what that cancels (issue 20, point 8): the first post
    shows the preview; a confirmation of another preview (something was booked, planned or written
    since) shows the new one instead of cancelling what nobody saw."""
    services.lock_course(course)  # nothing is booked or planned on the course between preview and end
    preview = ending_preview(course, target.value, utcnow())
    if form.reviewed.data != preview.fingerprint:
        changed = bool(form.reviewed.data)
        form.reviewed.data = preview.fingerprint
        audit.record("course.view", obj=course, patient_id=course.patient_id, detail=f"preview of {target.value}")
        return render_template("courses/end.html", course=course, form=form, preview=preview, changed=changed)
    done, decision = submit(form, lambda: services.change_phase(
        course, target, by=current_user, expected_version=form_version(form), reason=form.reason.data,
        override=False))
    if done:
        audit.record("course.phase_change", obj=course, patient_id=course.patient_id,
                     detail=f"to {target.value}; {preview.summary()}")
        flash(f"The course is now {target.value}: {preview.summary()}.", "success")
        return _back_to_course(course.id)
    audit.record("course.phase_change", obj=course, patient_id=course.patient_id, outcome=audit.FAILURE,
                 detail="refused")
    return render_template("courses/end.html", course=course, form=form, preview=preview, changed=False), 422


@access.permission("courses.treat")
def preparation_record(course_id: int):
    course = load_patient_record(TreatmentCourse, course_id, clinical=True)
    form = PreparationForm()
    form.item.choices = options(services.checklist_items(services.course_protocol(course)))
    done, record = submit(form, lambda: services.record_preparation(
        course, item=form.item.data, completed_on=form.completed_on.data, note=form.note.data,
        by=current_user, today=clinic_today()))
    if done:
        audit.record("preparation.record", obj=record, patient_id=course.patient_id, detail=record.item)
        flash("Recorded.", "success")
        return _back_to_course(course.id, "preparation")
    # the refusal re-renders the whole course page: its one row is the failed entry (durable)
    audit.record("preparation.record", obj=course, patient_id=course.patient_id, outcome=audit.FAILURE,
                 detail="refused")
    return course_page(course, prep_form=form, status=422)


@access.permission("schedule.book")
def dosing_plan(course_id: int):
    course = load_patient_record(TreatmentCourse, course_id, clinical=False)
    form = plan_form_choices(PlanForm())
    done, planned = submit(form, lambda: dosing.plan_series(
        course, first_start=form.first_start.data, days_between=form.days_between.data,
        count=form.count.data, reason=form.reason.data, clinician_id=form.clinician.data,
        room_id=form.room.data, minutes=form.minutes.data, by=current_user, join=form.join_request(),
        setting=form.setting.data or "in_clinic"))
    if done:
        override = "; spacing override kept with a reason" if any(s.spacing_override_reason for s in planned) else ""
        audit.record("dosing.plan", obj=course, patient_id=course.patient_id, detail=f"{len(planned)} planned{override}")
        flash(f"Planned {len(planned)} dosing session(s).", "success")
        return _back_to_course(course.id, "dosing")
    audit.record("dosing.plan", obj=course, patient_id=course.patient_id, outcome=audit.FAILURE, detail="refused")
    return course_page(course, plan_form=form, status=422)


def _room_for(form: BookForm) -> int | None:
    """The chosen room, or the first free one for an in-person session with none chosen."""
    if form.modality.data != "in_person":
        return None
    if form.room.data:
        return form.room.data
    ends = form.starts_at.data + timedelta(minutes=form.minutes.data or session_minutes()[form.kind.data])
    room = first_free_room(form.starts_at.data, ends)
    return room.id if room else None


def _suggested_for() -> int | None:
    """The planned dose whose provisional window's suggestions the booking came from: only a
    preference (scheduling.services checks that its window holds the time), so anything else sent
    is ignored rather than refused."""
    return parse_id(request.form.get("for_dose"))


@access.permission("schedule.book")
def book_session(course_id: int):
    course = load_patient_record(TreatmentCourse, course_id, clinical=False)
    form = BookForm()
    form.clinician.choices = options(clinician_choices(THERAPIST))
    form.room.choices = room_choices()
    done, appointment = submit(form, lambda: scheduling.book_session(
        course, kind=form.kind.data, clinician_id=form.clinician.data, starts_at=form.starts_at.data,
        minutes=form.minutes.data, modality=form.modality.data, by=current_user, now=utcnow(),
        room_id=_room_for(form), join=form.join_request(), for_dose=_suggested_for()))
    from_calendar = request.form.get("return_to") == "calendar"
    if done:
        audit.record("appointment.create", obj=appointment, patient_id=course.patient_id, detail=appointment.kind)
        flash(f"{appointment.label} booked.", "success")
        if from_calendar:  # back to the view and filters it was booked from, on the day booked
            day = to_clinic(appointment.starts_at).date()
            back = calendar_back(day) if request.form.get("calendar") else {
                "therapist": str(appointment.clinician_id), "date": day.isoformat()}  # the therapist's week
            return redirect(url_for("scheduling.calendar_view", **back))
        return _back_to_course(course.id, "windows")
    audit.record("appointment.create", obj=course, patient_id=course.patient_id, outcome=audit.FAILURE,
                 detail="refused")
    if from_calendar:
        return booking_page(course, form, status=422)
    return course_page(course, book_form=form, status=422)


@access.permission("sessions.record_held")
def record_held_session(course_id: int):
    course = load_patient_record(TreatmentCourse, course_id, clinical=False)
    if THERAPIST not in team_roles(current_user, course.patient):
        # entered in their own name as the therapist who held it: only a therapist of the care team
        audit.denial("held sessions are entered by a therapist on the patient's care team", obj=course,
                     patient_id=course.patient_id)
        abort(403)
    form = HeldSessionForm(prefix="held")
    done, appointment = submit(form, lambda: attendance.record_held_session(
        course, by=current_user, starts_at=form.starts_at.data, minutes=form.minutes.data,
        modality=form.modality.data, reason=form.reason.data, now=utcnow()))
    if done:
        audit.record("appointment.create", obj=appointment, patient_id=course.patient_id,
                     detail="integration, entered after it was held")
        flash("Integration session entered as attended; the reason is kept in its history.", "success")
        return _back_to_course(course.id, "windows")
    audit.record("appointment.create", obj=course, patient_id=course.patient_id, outcome=audit.FAILURE,
                 detail="held session refused")
    return course_page(course, held_form=form, status=422)


#: (endpoint, URL, view, methods): the endpoint names of the blueprints these views were born on,
#: which templates and tests use; the URLs are unchanged
ROUTES = (
    ("courses.course_detail", "/courses/<id:course_id>", course_detail, ["GET"]),
    ("courses.course_phase", "/courses/<id:course_id>/phase", course_phase, ["POST"]),
    ("courses.preparation_record", "/courses/<id:course_id>/preparation", preparation_record, ["POST"]),
    ("experience.dosing_plan", "/courses/<id:course_id>/dosing/plan", dosing_plan, ["POST"]),
    ("scheduling.book_session", "/courses/<id:course_id>/sessions", book_session, ["POST"]),
    ("scheduling.record_held_session", "/courses/<id:course_id>/sessions/held", record_held_session, ["POST"]),
)
