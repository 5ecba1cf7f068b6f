"""A clinic whose every free-text field holds an XSS payload, written through the real forms
(Flask test client, CSRF and validation included) or, where the app has no form, its services.

Each stored value is `<tag><payload>`: the tag ("f07:") names the field, so the browser suite can
prove every field was really stored and shown as literal text on some page, not dropped.
"""
from __future__ import annotations

import re
import shutil
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import yaml
from sqlalchemy import select

from ketamine_integration.coordination.models import CoordinationNote, CoordinationReport
from ketamine_integration.accounts.models import User
from ketamine_integration.courses.models import PreparationRecord, TreatmentCourse
from ketamine_integration.experience.models import DosingSession
from ketamine_integration.extensions import db
from ketamine_integration.notes.models import ActionStep, MeasureResponse, SafetyAlert, SessionNote
from ketamine_integration.notes.technique_models import NoteTechnique
from ketamine_integration.bookings.models import Appointment, Room
from tests.conftest import Auth
from tests.factories import DISCHARGE_MET_FORM, sign_dosing_forms

NY = ZoneInfo("America/New_York")
PROJECT_PROTOCOLS = Path(__file__).resolve().parents[2] / "protocols"

#: OWASP-style payloads: script and event-handler injection, attribute breakout, a JS-string
#: breakout, a javascript: URL, textarea/style breakouts and Jinja template injection. Each
#: calls window.__xss(n) if it ever runs. None is over 32 characters, so each fits with its
#: tag into the shortest free-text columns (40 characters).
PAYLOADS = (
    "<script>window.__xss(1)</script>",
    "<img src=x onerror=__xss(2)>",
    '"><svg onload=__xss(3)>',
    "'-__xss(4)-'",
    "javascript:__xss(5)",
    "</textarea><svg onload=__xss(6)>",
    "{{7*7}}",
    "</style><svg onload=__xss(8)>",
)


def local(days: float, hour: int = 9) -> datetime:
    """A clinic wall-clock time `days` from today (negative: in the past)."""
    day = datetime.now(NY).date() + timedelta(days=days)
    return datetime(day.year, day.month, day.day, hour, 0, tzinfo=NY)


def form_time(instant: datetime) -> str:
    return instant.astimezone(NY).strftime("%Y-%m-%dT%H:%M")


@dataclass
class Payloads:
    """Hands out the tagged payload of each field: field i gets payload (i + shift) mod P."""
    shift: int = 0
    fields: dict[str, str] = field(default_factory=dict)  #: field name -> the stored value

    def __call__(self, name: str) -> str:
        if name not in self.fields:
            n = len(self.fields)
            self.fields[name] = f"f{n:02d}:{PAYLOADS[(n + self.shift) % len(PAYLOADS)]}"
        return self.fields[name]


def xss_protocol_version() -> int:
    """The payload protocol's version: the shipped REMS protocol's, which it copies."""
    return yaml.safe_load((PROJECT_PROTOCOLS / "esketamine-trd-rems.yaml").read_text())["version"]


def protocols_dir(tmp: Path, p: Payloads) -> Path:
    """The shipped library, plus a REMS protocol whose free text is payloads and a broken file
    whose problem names a payload (listed on the Protocols page as unusable)."""
    target = tmp / "protocols"
    shutil.copytree(PROJECT_PROTOCOLS, target, ignore=shutil.ignore_patterns("README.md"))
    definition = yaml.safe_load((PROJECT_PROTOCOLS / "esketamine-trd-rems.yaml").read_text())
    definition.update(id="xss-rems", name=p("protocol name"), summary=p("protocol summary"))
    definition["experience"]["dose_guidance"] = p("protocol dose guidance")
    # a therapist present at each dose: its dosing-session note is written and shown too
    definition["experience"]["therapist_present"] = True
    definition["evidence"] = [{"claim": p("protocol evidence claim"), "source": p("protocol evidence source")}]
    definition["vital_signs"]["sources"] = [{"claim": p("vital-sign source claim"),
                                             "source": p("vital-sign source")}]
    (target / "xss-rems.yaml").write_text(yaml.safe_dump(definition, allow_unicode=True))
    broken = {"id": "broken", "version": 1, p("protocol file unknown key"): 1}
    (target / "broken.yaml").write_text(yaml.safe_dump(broken, allow_unicode=True))
    return target


class World:
    """Builds the clinic; ids of what the pages show are kept for the page list."""

    def __init__(self, live, p: Payloads):
        self.live, self.make, self.p = live, live.make, p
        self.ids: dict[str, int] = {}

    def signed_in(self, username: str) -> Auth:
        auth = Auth(self.live.app, self.live.app.test_client())
        auth.sign_in(username)
        return auth

    def post(self, auth: Auth, url: str, data: dict, expect: int = 302, **kwargs):
        response = auth.post(url, data, **kwargs)
        if response.status_code != expect:
            html = response.get_data(as_text=True)
            problems = re.findall(r'id="[^"]*-error"[^>]*>(.*?)</', html, flags=re.S) or [html[-2000:]]
            raise AssertionError(f"{url} answered {response.status_code}: {problems}")
        return response

    def one(self, model, *where):
        return self.make.query(lambda: db.session.scalars(select(model).where(*where).order_by(model.id)).all())

    # -- the build ---------------------------------------------------------------------------

    def build(self) -> "World":
        p, make = self.p, self.make
        ids = self.ids
        ids["admin"] = make.user("admin", "staff", username="xadmin", full_name=p("admin full name"))
        ids["ther"] = make.user("therapist", username="xther", full_name=p("therapist full name"),
                                credentials=p("therapist credentials"), email="ther@clinic.example")
        ids["pres"] = make.user("prescriber", username="xpres", full_name="Set by the admin form below")
        # The form allows only [A-Za-z0-9._-] in a username; the service (and the CLI) take any.
        ids["odd"] = make.user("staff", username=p("username (service)"), full_name="Odd Username")
        admin, ther, pres = (self.signed_in(u) for u in ("xadmin", "xther", "xpres"))
        self._admin_pages(admin)
        self._patient(admin)
        self._course(admin, ther, pres)
        self._dosing(admin, pres)
        self._schedule(admin, ther)
        self._notes(ther)
        self._measures(ther)
        self._coordination(admin, ther, pres)
        self._calendars(ther)
        return self

    def _admin_pages(self, admin: Auth) -> None:
        p = self.p
        self.post(admin, f"/users/{self.ids['pres']}/edit",
                  {"username": "xpres", "full_name": p("prescriber full name (user form)"),
                   "credentials": p("prescriber credentials (user form)"), "email": "pres@clinic.example",
                   "roles": "prescriber", "active": "y"})
        for name in ("room name", "dosing room name"):
            self.post(admin, "/rooms/", {"name": p(name)})
        self.post(admin, "/themes/", {"name": p("theme vocabulary")})
        self.post(admin, "/session-types/", {"kind": "integration", "default_minutes": "50"})
        self.ids["room"] = self.make.query(lambda: db.session.scalar(select(Room.id).where(
            Room.name == p("dosing room name"))))

    def _patient(self, admin: Auth) -> None:
        p = self.p
        data = {"given_name": p("patient given name"), "family_name": p("patient family name"),
                "preferred_name": p("patient preferred name"), "date_of_birth": "1980-05-17",
                "mrn": "XSS-1", "phone": "555-0100", "email": "patient@example.com",
                "emergency_contact_name": p("emergency contact name"),
                "emergency_contact_relationship": p("emergency contact relationship"),
                "emergency_contact_phone": "555-0101",
                "therapists": str(self.ids["ther"]), "prescribers": str(self.ids["pres"])}
        response = self.post(admin, "/patients/new", data)
        self.ids["patient"] = int(response.headers["Location"].rstrip("/").rsplit("/", 1)[-1])

    def _course(self, admin: Auth, ther: Auth, pres: Auth) -> None:
        p, ids = self.p, self.ids
        response = self.post(admin, f"/patients/{ids['patient']}/courses/new", {
            "protocol": f"xss-rems@{xss_protocol_version()}", "start_date": (date.today() - timedelta(days=20)).isoformat(),
            "indication": p("course indication"), "therapist": ids["ther"], "prescriber": ids["pres"]})
        ids["course"] = course = int(response.headers["Location"].rsplit("/", 1)[-1])
        today = date.today().isoformat()
        # the consent and intake are met by signed forms (issue 26): the one ticked item is the prescriber's
        self.post(pres, f"/courses/{course}/preparation",
                  {"item": "medical_clearance", "completed_on": today, "note": "first clearance, dated wrongly"})
        voided = self.one(PreparationRecord, PreparationRecord.item == "medical_clearance")[0]
        self.post(ther, f"/courses/{course}/preparation/{voided.id}/void",
                  {"reason": p("preparation void reason")})
        self.post(pres, f"/courses/{course}/preparation",
                  {"item": "medical_clearance", "completed_on": today, "note": p("preparation note")})
        # no dose is planned before the intake and the dosing consents are signed, override or not (the
        # signing pages' own payloads are the forms tests'): signed through the service, the therapist witnessing
        self.make.run(lambda: sign_dosing_forms(db.session.get(TreatmentCourse, course),
                                                witness=db.session.get(User, ids["ther"])))
        version = self.make.query(lambda: db.session.get(TreatmentCourse, course).version)
        self.post(ther, f"/courses/{course}/phase", {"target": "experience", "override": "y",
                                                     "reason": p("phase change reason"), "version": version})

    def _dosing(self, admin: Auth, pres: Auth) -> None:
        p, ids, course = self.p, self.ids, self.ids["course"]
        # Two sessions 10 days apart break the protocol's twice-weekly stage: the prescriber's reason is stored.
        self.post(pres, f"/courses/{course}/dosing/plan", {
            "first_start": form_time(local(-2)), "days_between": 10, "count": 2, "clinician": ids["pres"],
            "room": ids["room"], "reason": p("dosing spacing reason")})
        first, second = self.one(DosingSession, DosingSession.course_id == course)
        ids["dosing"], ids["dosing_cancelled"] = first.id, second.id
        start = local(-2)
        self.dosing_day = start.date().isoformat()
        self.post(pres, f"/dosing/{first.id}", {
            "started_at": form_time(start), "ended_at": form_time(start + timedelta(minutes=40)),
            "route": "intranasal", "medication": "esketamine", "dose_mg": "56", "lot_number": p("lot number"),
            "administered_by": ids["pres"], "monitored_by": ids["pres"],
            **{f"{tp}-{k}": v for tp in ("baseline", "post_40", "discharge")
               for k, v in (("systolic", "128"), ("diastolic", "82"), ("heart_rate", "72"), ("spo2", "98"))},
            "sedation": "mild", "dissociation": "moderate",
            "discharged_at": form_time(start + timedelta(minutes=170)), **DISCHARGE_MET_FORM,
            "ready_to_leave_at": form_time(start + timedelta(minutes=100)),
            "vitals_acceptable_before_dosing": "yes", "vitals_acceptable_before_discharge": "yes",
            "concomitant_sedating_medications": p("concomitant sedating medications"),
            "adverse_events-0-event_type": p("adverse event type"), "adverse_events-0-severity": "mild",
            "adverse_events-0-action_taken": p("adverse event action taken"), "version": first.version,
            "spacing_reason": p("dosing spacing reason"),
            # a flagged reading before dosing, answered: the response is shown on four pages
            "baseline-systolic": "150", "response_baseline-action": p("vital-sign response action"),
            "response_baseline-decided_by": ids["pres"], "response_baseline-later_systolic": "132",
            "response_baseline-later_at": form_time(start - timedelta(minutes=5))})
        version = self.make.query(lambda: db.session.get(DosingSession, first.id).version)
        self.post(pres, f"/dosing/{first.id}/sign", {"version": version})
        self.post(pres, f"/dosing/{first.id}/addenda", {"body": p("dosing addendum")})
        self.post(admin, f"/dosing/{second.id}/cancel", {"reason": p("dosing cancel reason")})

    def _schedule(self, admin: Auth, ther: Auth) -> None:
        p, ids, course = self.p, self.ids, self.ids["course"]
        for hour in (10, 14):
            self.post(admin, f"/courses/{course}/sessions", {
                "kind": "integration", "starts_at": form_time(local(1, hour)), "clinician": ids["ther"],
                "modality": "telehealth", "room": 0})
        # One stays booked; the other is moved, then cancelled (both reasons are kept in its history).
        booked = self.one(Appointment, Appointment.course_id == course, Appointment.kind == "integration")
        moved = booked[1]
        ids["appointment_cancelled"] = moved.id  # its page shows its history: both reasons
        self.post(admin, f"/appointments/{moved.id}/reschedule",
                  {"starts_at": form_time(local(2, 16)), "reason": p("appointment move reason")})
        self.post(admin, f"/appointments/{moved.id}/cancel", {"reason": p("appointment cancel reason")})
        user = ids["ther"]
        self.post(ther, f"/availability/{user}/time-off", {
            "starts_at": form_time(local(3, 9)), "ends_at": form_time(local(3, 17)), "reason": p("time off reason")})
        self.post(ther, f"/availability/{user}/extra-hours", {
            "starts_at": form_time(local(4, 9)), "ends_at": form_time(local(4, 12)),
            "reason": p("extra hours reason")})

    def _notes(self, ther: Auth) -> None:
        p, ids, course = self.p, self.ids, self.ids["course"]
        today = date.today()

        def new_note(kind: str) -> int:
            response = self.post(ther, f"/courses/{course}/notes",
                                 {"note-kind": kind, "note-session_date": today.isoformat()})
            return int(response.headers["Location"].rsplit("/", 1)[-1])

        prep = new_note("preparation")
        fields = ("intentions", "expectations", "concerns", "set_setting_plan", "support_person",
                  "next_session_plan")
        self.post(ther, f"/notes/{prep}", {"session_date": today.isoformat(), "version": 1,
                                           **{f: p(f"preparation {f}") for f in fields}})
        ids["note_draft"] = prep
        first = new_note("integration")
        sections = ("stood_out", "emotions", "imagery", "surprises", "meaningful", "insights", "core_beliefs",
                    "connections_present", "connections_past", "practices_note", "challenges_note", "risk_notes",
                    "next_session_plan")
        self._sign(ther, first, {
            "session_date": today.isoformat(), "self_harm_thoughts": "no",
            "dosing_sessions": ids["dosing"], "practices": "journaling", "challenges": "overwhelm", **{s: p(f"integration {s}") for s in sections},
            "themes-0-theme": 0, "themes-0-free_theme": p("free theme"),
            "themes-0-patient_words": p("theme patient words"),
            "new_steps-0-what": p("action step what"), "new_steps-0-how_often": p("action step how often"),
            "new_steps-0-starts_on": today.isoformat(), "new_steps-0-review_on": (today + timedelta(14)).isoformat(),
            "new_steps-0-linked_insight": p("action step linked insight"),
            "new_steps-0-success_criterion": p("action step success criterion"),
            "new_steps-0-mechanism": p("action step mechanism"),
            "techniques-0-technique": "chair-work", "techniques-0-rationale": p("technique rationale")})
        self.post(ther, f"/notes/{first}/addenda", {"body": p("note addendum")})
        self.post(ther, f"/notes/{first}/process", {"body": p("process note"), "version": ""})
        ids["note_signed"] = first
        second = new_note("integration")
        step = self.one(ActionStep, ActionStep.course_id == course)[0]
        use = self.one(NoteTechnique, NoteTechnique.note_id == first)[0]
        self._sign(ther, second, {
            "technique_responses-0-use_id": use.id, "technique_responses-0-response": "mixed",
            "technique_responses-0-comment": p("technique response comment"),
            "session_date": today.isoformat(), "self_harm_thoughts": "no", "stood_out": "Calm.",
            "check_ins-0-step_id": step.id, "check_ins-0-progress": "partly",
            "check_ins-0-obstacles": p("check-in obstacles"), "check_ins-0-decision": "adjust",
            "check_ins-0-adjustment": p("check-in adjustment"),
            "move_stage": "clarify", "stage_reason": p("note stage reason")})
        ids["note_check_in"] = second
        self.post(ther, f"/courses/{course}/formulation", {
            "revision": 0, **{s: p(f"formulation {s}") for s in (
                "presenting_concerns", "patterns", "core_beliefs", "emotion_nervous_system",
                "development_context", "strengths", "why_now", "maintaining_factors", "what_might_help")},
            "host_theory": "act",
            "techniques-0-technique": p("formulation technique"),
            "techniques-0-rationale": p("formulation technique rationale")})
        self._safety_plan(ther)
        started = self.post(ther, f"/dosing/{ids['dosing']}/note", {})
        ids["note_dosing"] = dosing_note = int(started.headers["Location"].rsplit("/", 1)[-1])
        self._sign(ther, dosing_note, {s: p(f"dosing note {s}") for s in (
            "set_setting", "intention", "observations", "support_given", "reflections", "integration_plan")})

    def _safety_plan(self, ther: Auth) -> None:
        """The patient's signed safety plan, its addendum and a review, every free text a payload."""
        from ketamine_integration.safety_plans.models import SafetyPlanRevision
        p, patient = self.p, self.ids["patient"]
        self.post(ther, f"/patients/{patient}/safety-plan/edit", {
            **{s: p(f"safety plan {s}") for s in ("warning_signs", "coping_strategies", "distractions",
                                                   "means_safety", "reasons_for_living")},
            "help_contacts-0-name": p("safety plan help contact"), "help_contacts-0-phone": "555-0142",
            "professionals-0-name": p("safety plan professional"), "professionals-0-phone": "988",
            "action": "sign", "confirm_lock": "y", "version": "0"})
        plan = self.one(SafetyPlanRevision, SafetyPlanRevision.patient_id == patient)[0].id
        self.ids["safety_plan"] = plan
        self.post(ther, f"/safety-plans/{plan}/addenda", {"body": p("safety plan addendum")})
        self.post(ther, f"/patients/{patient}/safety-plan/review", {
            "reviewed_on": local(0).date().isoformat(), "with_patient": "yes", "changes": "none",
            "comment": p("safety plan review comment")})

    def stored_not_shown(self) -> dict[str, str | None]:
        """Values no page displays (the appointment history, an alert's acknowledgement), read
        back from the database so that the suite knows they were really stored."""
        from ketamine_integration.bookings.models import AppointmentChange

        def read():
            course = self.ids["course"]
            cancelled = db.session.scalar(select(Appointment).where(Appointment.course_id == course,
                                                                    Appointment.status == "cancelled",
                                                                    Appointment.kind == "integration"))
            moved = db.session.scalar(select(AppointmentChange.reason).where(
                AppointmentChange.appointment_id == cancelled.id, AppointmentChange.change == "rescheduled"))
            alert = db.session.scalar(select(SafetyAlert.acknowledgement).where(
                SafetyAlert.course_id == course, SafetyAlert.acknowledgement.is_not(None)))
            return {"appointment cancel reason": cancelled.cancel_reason, "appointment move reason": moved,
                    "safety alert acknowledgement": alert}
        return self.make.query(read)

    def _sign(self, ther: Auth, note_id: int, data: dict) -> None:
        """The whole note typed and signed in one request ("Sign and lock", confirmed)."""
        version = self.make.query(lambda: db.session.get(SessionNote, note_id).version)
        self.post(ther, f"/notes/{note_id}", {**data, "version": version, "then_sign": "1", "confirm_lock": "y"})

    def _measures(self, ther: Auth) -> None:
        p, course = self.p, self.ids["course"]
        for item9 in (0, 1):
            answers = {f"phq9-item{n}": "2" for n in range(1, 9)}
            self.post(ther, f"/courses/{course}/measures/phq9", {
                "phq9-administered_on": date.today().isoformat(), **answers, "phq9-item9": str(item9)})
        first = self.one(MeasureResponse, MeasureResponse.course_id == course)[0]
        self.post(ther, f"/measures/{first.id}/void", {"reason": p("measure void reason")})
        alert = self.one(SafetyAlert, SafetyAlert.course_id == course)[0]
        self.post(ther, f"/alerts/{alert.id}/acknowledge", {"note": p("safety alert acknowledgement")})
        # A second alert stays open, for the prescriber's worklist and the report.
        self.post(ther, f"/courses/{course}/measures/phq9", {
            "phq9-administered_on": date.today().isoformat(),
            **{f"phq9-item{n}": "1" for n in range(1, 10)}})

    def _coordination(self, admin: Auth, ther: Auth, pres: Auth) -> None:
        p, ids, course = self.p, self.ids, self.ids["course"]
        patient = ids["patient"]
        release = {"effective_on": (date.today() - timedelta(days=30)).isoformat(), "expires_on": "",
                   "categories": ["treatment", "dosing", "dosing_notes", "measures", "attendance", "themes",
                                  "action_plan", "safety"]}
        self.post(ther, f"/patients/{patient}/releases",
                  {**release, "recipient": ids["pres"], "purpose": p("release purpose")})
        self.post(admin, f"/patients/{patient}/releases", {**release, "recipient": 0,
                                                             "recipient_name": p("release outside recipient"),
                                                             "outside_care_team": "y",
                                                             "purpose": "Primary care follow-up"})
        self.post(ther, f"/courses/{course}/coordination", {"recipient": ids["pres"], "priority": "urgent",
                                                             "category": "safety", "body": p("coordination note")})
        self.post(ther, f"/courses/{course}/coordination", {"recipient": ids["pres"], "priority": "routine",
                                                             "category": "response",
                                                             "body": p("coordination note (acknowledged)")})
        answered = self.one(CoordinationNote, CoordinationNote.course_id == course)[1]
        self.post(pres, f"/coordination/{answered.id}/acknowledge", {"reply": p("coordination reply")})
        self.post(ther, f"/courses/{course}/reports", {"recipient": ids["pres"],
                                                        "questions": p("report questions"),
                                                        "recommendations": p("report recommendations")})
        ids["report"] = self.one(CoordinationReport, CoordinationReport.course_id == course)[0].id

    def _calendars(self, ther: Auth) -> None:
        p = self.p
        self.post(ther, "/calendars/feeds", {"label": p("calendar feed label")}, expect=200)
        start = local(5, 9).astimezone(ZoneInfo("UTC"))
        ics = ("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//xss//EN\r\nBEGIN:VEVENT\r\n"
               f"UID:xss-1@example.com\r\nDTSTAMP:{start:%Y%m%dT%H%M%SZ}\r\nDTSTART:{start:%Y%m%dT%H%M%SZ}\r\n"
               f"DURATION:PT1H\r\nSUMMARY:{p('imported event summary')}\r\n"
               f"DESCRIPTION:{p('imported event description')}\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n")
        from io import BytesIO
        # a file name holds no "/" and no '"' (the multipart header would end the name there)
        filename = p("imported calendar file name").replace("/", "").replace('"', "") + ".ics"
        self.p.fields["imported calendar file name"] = filename
        self.post(ther, f"/availability/{self.ids['ther']}/calendar-import",
                  {"calendar_file": (BytesIO(ics.encode()), filename)}, content_type="multipart/form-data")
