"""A small fictional clinic for the security suites, seeded lazily: each suite asks for the
records it needs (a signed dosing session, a draft note, a release...) and gets their ids.

Records are made the way users make them, through HTTP with the real forms (the `auth`
fixture), so they carry the state the views expect; only users, patients and courses come
from the factories.
"""
from __future__ import annotations

import re
from datetime import date, datetime, timedelta
from functools import cached_property
from zoneinfo import ZoneInfo

from sqlalchemy import select

from ketamine_integration.extensions import db
from tests.factories import DISCHARGE_MET_FORM

NY = ZoneInfo("America/New_York")  # tests.databases.app_settings: the clinic's zone in tests
#: what the note form's "Sign and lock" button adds: the button, and the signer's confirmation
SIGNING = {"then_sign": "1", "confirm_lock": "y"}
USERNAMES = {"admin": "fz-admin", "staff": "fz-staff", "therapist": "fz-ther", "prescriber": "fz-pres",
             "nurse": "fz-nurse", "victim": "fz-victim"}


def local(days: float, hour: int = 9) -> datetime:
    """A clinic wall-clock time `days` from today (negative: in the past)."""
    day = (datetime.now(NY) + timedelta(days=days)).date()
    return datetime(day.year, day.month, day.day, hour, 0, tzinfo=NY)


def form_time(instant: datetime) -> str:
    return instant.astimezone(NY).strftime("%Y-%m-%dT%H:%M")


def today() -> date:
    return datetime.now(NY).date()


def ics(*spans: tuple[datetime, datetime]) -> bytes:
    """A minimal calendar export with one busy event per (start, end)."""
    events = "".join(f"BEGIN:VEVENT\r\nUID:fz-{n}@example.invalid\r\nDTSTAMP:20240101T000000Z\r\n"
                     f"DTSTART:{s.astimezone(ZoneInfo('UTC')):%Y%m%dT%H%M%SZ}\r\n"
                     f"DTEND:{e.astimezone(ZoneInfo('UTC')):%Y%m%dT%H%M%SZ}\r\nSUMMARY:Busy\r\nEND:VEVENT\r\n"
                     for n, (s, e) in enumerate(spans))
    return ("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Fuzz//EN\r\n" + events + "END:VCALENDAR\r\n").encode()


def answer_data(form, typed_name: str) -> dict:
    """A form definition's answer form as the patient fills it in: every answer valid (none a flag names),
    medication rows by field, the typed name and, for a consent, the agreement ticked."""
    from ketamine_integration.signed_forms.answer_form import answer_form_class
    from ketamine_integration.domain.form_answers import sample_answers

    names, data = answer_form_class(form).question_fields, {}
    for question_id, value in sample_answers(form).items():
        name = names[question_id]
        if isinstance(value, list) and value and isinstance(value[0], dict):
            data.update({f"{name}-{n}-{part}": text for n, row in enumerate(value) for part, text in row.items()})
        else:
            data[name] = value
    return {**data, "typed_name": typed_name, **({"agreed": "y"} if form.consent is not None else {})}


class Clinic:
    """Ids of seeded records, made on first use. `text` goes into every free-text field the
    seeding writes (the audit suite sets it to a sentinel it then looks for)."""

    def __init__(self, make, auth, text: str = "Fictional text"):
        self.make, self.auth, self.text = make, auth, text
        self.signed_in: str | None = None

    # -- people --------------------------------------------------------------------------------

    @cached_property
    def users(self) -> dict[str, int]:
        make = self.make
        return {"admin": make.user("admin", username=USERNAMES["admin"]),
                "staff": make.user("staff", username=USERNAMES["staff"]),
                "therapist": make.user("therapist", username=USERNAMES["therapist"], full_name="Fenna Quill",
                                       email="fenna@clinic.example"),
                "prescriber": make.user("prescriber", username=USERNAMES["prescriber"], full_name="Odo Varn"),
                "nurse": make.user("nurse", username=USERNAMES["nurse"], full_name="Nell Brook"),
                "victim": make.user("therapist", username=USERNAMES["victim"], full_name="Vic Tim")}

    def login(self, role: str) -> None:
        """Be signed in as the seeded user of that role (signing out whoever was); "patient": the
        patient, signed in to the portal; "tablet": the patient, handed a clinic tablet."""
        self.users  # noqa: B018 - made before anyone signs in
        if self.signed_in == role:
            return
        if self.signed_in == "patient":
            self.auth.post("/portal/sign-out", {})
        elif self.signed_in is not None:
            self.auth.logout()  # a tablet's device answers 403: the next session replaces its cookie anyway
        if role == "patient":
            self.auth.portal_sign_in(self.portal_account)
        elif role == "tablet":
            self.hand_tablet()
        else:
            self.auth.sign_in(USERNAMES[role])
        self.signed_in = role

    # -- intake and consent forms (issue 26) -----------------------------------------------------------

    patient_name = "Fuzzy Fictional"

    def forms_course(self, protocol: str) -> int:
        """A course of the patient on `protocol` whose packet waits to be signed (made once per protocol)."""
        courses = self.__dict__.setdefault("_forms_courses", {})
        if protocol not in courses:
            courses[protocol] = self.make.course(self.patient, self.users["therapist"], self.users["prescriber"],
                                                 protocol=protocol)
        return courses[protocol]

    @cached_property
    def signed_consent(self) -> int:
        """The IV consent of an IV course of its own, signed on the clinic tablet with one flagged answer
        (its prescriber reviews it; the patient or the clinic may withdraw it)."""
        course = self.make.course(self.patient, self.users["therapist"], self.users["prescriber"])
        [signed] = self.make.sign_packet(course, only=["consent-iv-ketamine"], flagged=("read_and_understood",))
        return signed

    @cached_property
    def countersign_consent(self) -> int:
        """The IV consent of an IV course of its own, signed on the clinic tablet with no flagged answer: its
        prescriber countersigns it (one with flagged answers unreviewed is refused: signed_forms.services)."""
        course = self.make.course(self.patient, self.users["therapist"], self.users["prescriber"])
        [signed] = self.make.sign_packet(course, only=["consent-iv-ketamine"])
        return signed

    @cached_property
    def tablet_course(self) -> int:
        """An IV course of its own, its packet waiting: the one the clinic tablet is handed over for."""
        return self.make.course(self.patient, self.users["therapist"], self.users["prescriber"])

    @cached_property
    def handed_course(self) -> int:
        """An IV course of its own, its packet waiting, handed to the patient on a tablet of its own (staff end it)."""
        return self.make.course(self.patient, self.users["therapist"], self.users["prescriber"])

    def hand_tablet_elsewhere(self, course_id: int | None = None) -> str:
        """The therapist starts an in-clinic signing of the course (default: the tablet course) on a tablet of its
        own: its token."""
        from ketamine_integration.accounts.models import User
        from ketamine_integration.courses.models import TreatmentCourse
        from ketamine_integration.signed_forms.services import start_tablet_signing

        course_id = course_id or self.tablet_course
        return self.make.run(lambda: start_tablet_signing(db.session.get(TreatmentCourse, course_id),
                                                          by=db.session.get(User, self.users["therapist"]))[1])

    def hand_tablet(self) -> None:
        """The therapist starts an in-clinic signing of the tablet course and hands this client the tablet."""
        from ketamine_integration.portal.tablet import TABLET_KEY

        token = self.hand_tablet_elsewhere()
        with self.auth.client.session_transaction() as session:
            session.clear()
            session[TABLET_KEY] = token

    @cached_property
    def portal_account(self) -> int:
        """The patient's own portal account (accepted, enrolled with the factory's authenticator)."""
        return self.make.portal_account(self.patient)

    @cached_property
    def portal_invitation(self) -> str:
        """The token of a waiting invitation for another patient (portal_world.invitation_token)."""
        from .portal_world import invitation_token
        return invitation_token(self.make, email="invited@fictional.invalid")

    def post(self, role: str, url: str, data: dict, **kwargs):
        self.login(role)
        return self.auth.post(url, data, **kwargs)

    def get(self, role: str, url: str, **kwargs):
        self.login(role)
        return self.auth.client.get(url, **kwargs)

    @cached_property
    def patient(self) -> int:
        return self.make.patient(given_name="Fuzzy", family_name="Fictional",
                                 therapists=[self.users["therapist"]], prescribers=[self.users["prescriber"]],
                                 nurses=[self.users["nurse"]])

    @cached_property
    def course(self) -> int:
        """An IV course in its experience phase with three dosing sessions planned, two days apart."""
        return self.make.course(self.patient, self.users["therapist"], self.users["prescriber"], phase="experience")

    @cached_property
    def prep_course(self) -> int:
        """A second course, still in preparation (its checklist is open)."""
        return self.make.course(self.patient, self.users["therapist"], self.users["prescriber"],
                                protocol="sublingual-ketamine-kap")

    @cached_property
    def outcomes_course(self) -> int:
        """A course of the patient on the test protocol that asks the PCL-5, WSAS and WAI-SR at baseline
        (tests/outcome_protocol.py), no dose planned yet: their baseline questionnaires are open."""
        from pathlib import Path

        from tests.outcome_protocol import OUTCOMES, library_with_outcomes
        app = self.make.app
        app.config["PROTOCOLS_DIR"] = str(library_with_outcomes(Path(app.instance_path) / "outcome-protocols"))
        return self.make.course(self.patient, self.users["therapist"], self.users["prescriber"], protocol=OUTCOMES)

    @cached_property
    def shared_course(self) -> int:
        """The course, once it has a signed dosing session and a release to its prescriber."""
        self.signed_session, self.release  # noqa: B018
        return self.course

    @cached_property
    def dosing_sessions(self) -> list[int]:
        return self.make.dosing_plan(self.course, first_start=local(-6), days_between=2, count=3)

    @property
    def planned_session(self) -> int:
        """Planned two days ago and never recorded: to reschedule, cancel or record."""
        return self.dosing_sessions[2]

    @property
    def draft_session(self) -> int:
        """Planned four days ago: the dosing record form's target."""
        return self.dosing_sessions[1]

    def record_data(self, session_id: int, **overrides) -> dict:
        """A complete, plausible dosing record for a session (its current version included)."""
        from ketamine_integration.experience.models import DosingSession
        session = self.make.query(lambda: db.session.get(DosingSession, session_id))
        start, who = session.planned_start.astimezone(NY), str(self.users["prescriber"])
        data = {"started_at": form_time(start), "ended_at": form_time(start + timedelta(minutes=40)),
                "route": "iv", "medication": "ketamine", "dose_mg": "35", "weight_kg": "70",
                "lot_number": "LOT-7", "administered_by": who, "monitored_by": who,
                **{f"{tp}-{k}": v for tp in ("baseline", "post_40", "discharge")
                   for k, v in (("systolic", "128"), ("diastolic", "82"), ("heart_rate", "72"), ("spo2", "98"))},
                "sedation": "mild", "dissociation": "moderate",
                "discharged_at": form_time(start + timedelta(minutes=130)), **DISCHARGE_MET_FORM,
                "adverse_events-0-event_type": "nausea", "adverse_events-0-severity": "mild",
                "adverse_events-0-action_taken": self.text, "concomitant_sedating_medications": self.text,
                "spacing_reason": "", "version": str(session.version)}
        data.update(overrides)
        return data

    @cached_property
    def signed_session(self) -> int:
        session = self.dosing_sessions[0]
        from ketamine_integration.experience.models import DosingSession
        start = self.make.query(lambda: db.session.get(DosingSession, session).planned_start)
        # a flagged reading before dosing and its clinical response: a row of the signed record too
        answered = {"baseline-systolic": "182", "response_baseline-action": "Rested, repeated; prescriber reviewed",
                    "response_baseline-decided_by": str(self.users["prescriber"]),
                    "response_baseline-later_at": form_time(start - timedelta(minutes=5)),
                    "response_baseline-later_systolic": "168"}
        assert self.post("prescriber", f"/dosing/{session}", self.record_data(session, **answered)).status_code == 302
        signed = self.post("prescriber", f"/dosing/{session}/sign", {"version": self.version("dosing", session)})
        assert signed.status_code == 302
        return session

    @cached_property
    def rems_signed_session(self) -> int:
        """A signed esketamine session: it has a REMS monitoring form."""
        course = self.make.course(self.patient, self.users["therapist"], self.users["prescriber"],
                                  protocol="esketamine-trd-rems", phase="experience")
        [session] = self.make.dosing_plan(course, first_start=local(-3), days_between=3, count=1)
        data = self.record_data(session, route="intranasal", medication="esketamine", dose_mg="56", weight_kg="",
                                ready_to_leave_at=form_time(local(-3, 10)), vitals_acceptable_before_dosing="yes",
                                vitals_acceptable_before_discharge="yes",
                                started_at=form_time(local(-3)), ended_at=form_time(local(-3) + timedelta(minutes=30)),
                                discharged_at=form_time(local(-3) + timedelta(minutes=150)))
        saved = self.post("prescriber", f"/dosing/{session}", data)
        assert saved.status_code == 302, saved.status_code
        signed = self.post("prescriber", f"/dosing/{session}/sign", {"version": self.version("dosing", session)})
        assert signed.status_code == 302
        return session

    # -- notes and measures ----------------------------------------------------------------------

    def version(self, kind: str, row_id: int) -> str:
        from ketamine_integration.courses.models import TreatmentCourse
        from ketamine_integration.experience.models import DosingSession
        from ketamine_integration.notes.models import SessionNote
        from ketamine_integration.patients.models import Patient
        from ketamine_integration.journal.models import JournalEntry
        from ketamine_integration.plans.models import TreatmentPlan
        model = {"dosing": DosingSession, "note": SessionNote, "patient": Patient, "course": TreatmentCourse,
                 "journal": JournalEntry, "plan": TreatmentPlan}[kind]
        return str(self.make.query(lambda: db.session.get(model, row_id).version))

    def new_note(self, kind: str = "integration") -> int:
        self.signed_session  # noqa: B018 - an integration note may serve its window
        response = self.post("therapist", f"/courses/{self.course}/notes",
                             {"note-kind": kind, "note-session_date": today().isoformat()})
        assert response.status_code == 302, response.status_code
        return int(re.search(r"/notes/(\d+)$", response.headers["Location"]).group(1))

    @cached_property
    def theme(self) -> int:
        from ketamine_integration.notes.models import Theme

        def add():
            theme = Theme(name="Safety in the body")
            db.session.add(theme)
            db.session.flush()
            return theme.id
        return self.make.run(add)

    def integration_data(self, note_id: int, **overrides) -> dict:
        t = self.text
        data = {"session_date": today().isoformat(), "version": self.version("note", note_id),
                "dosing_sessions": [str(self.signed_session)], "stood_out": t, "emotions": t, "imagery": t,
                "surprises": t, "meaningful": t, "insights": t, "core_beliefs": t, "connections_present": t,
                "connections_past": t, "themes-0-theme": str(self.theme), "themes-0-patient_words": t,
                "new_steps-0-what": t, "new_steps-0-how_often": "3 times a week",
                "new_steps-0-starts_on": today().isoformat(),
                "new_steps-0-review_on": (today() + timedelta(days=14)).isoformat(), "new_steps-0-linked_insight": t,
                "new_steps-0-success_criterion": t, "new_steps-0-mechanism": t,
                "new_steps-0-objective": self.plan_objective() or "",
                "practices": ["movement"], "practices_note": t, "challenges": ["overwhelm"], "challenges_note": t,
                "host_theory": "act", "techniques-0-technique": "breath-and-grounding", "techniques-0-rationale": t,
                "self_harm_thoughts": "no", "safety_plan_reviewed": "no", "risk_notes": t, "next_session_plan": t}
        data.update(overrides)
        return data

    def plan_objective(self) -> str | None:
        """The lineage of the first objective of the course's active signed plan (a new step serves
        one of them once the course has a plan), or None."""
        from ketamine_integration.plans.services import active_plan

        def first_objective():
            plan = active_plan(self.course)
            return plan.objectives[0].lineage_id if plan is not None and plan.objectives else None
        return self.make.query(first_objective)

    def preparation_data(self, note_id: int, **overrides) -> dict:
        t = self.text
        data = {"session_date": today().isoformat(), "version": self.version("note", note_id), "intentions": t,
                "expectations": t, "concerns": t, "psychoeducation": ["dissociation"], "set_setting_plan": t,
                "support_person": t, "readiness": "ready", "consent_questions_answered": "yes",
                "next_session_plan": t}
        data.update(overrides)
        return data

    @cached_property
    def kap_dose(self) -> int:
        """A sublingual KAP dose given three days ago, its record saved: a therapist is present at
        each dose and documents one that was given."""
        course = self.make.course(self.patient, self.users["therapist"], self.users["prescriber"],
                                  protocol="sublingual-ketamine-kap", phase="experience")
        [session] = self.make.dosing_plan(course, first_start=local(-3, 14), days_between=7, count=1)
        saved = self.post("prescriber", f"/dosing/{session}", self.record_data(
            session, route="sublingual", dose_mg="200"))
        assert saved.status_code == 302, saved.status_code
        return session

    @cached_property
    def draft_dosing_note(self) -> int:
        """The dosing-session note of that dose, started from its record."""
        response = self.post("therapist", f"/dosing/{self.kap_dose}/note", {})
        assert response.status_code == 302, response.status_code
        return int(re.search(r"/notes/(\d+)$", response.headers["Location"]).group(1))

    def dosing_note_data(self, note_id: int, **overrides) -> dict:
        sections = ("set_setting", "intention", "observations", "support_given", "reflections", "integration_plan")
        return {"version": self.version("note", note_id), **{key: self.text for key in sections}, **overrides}

    @cached_property
    def draft_note(self) -> int:
        return self.new_note("integration")

    @cached_property
    def draft_preparation_note(self) -> int:
        return self.new_note("preparation")

    @cached_property
    def discardable_note(self) -> int:
        """A draft of its own, for the discard form (discarding the shared draft would leave the
        other forms nothing to save)."""
        note = self.new_note("integration")
        assert self.post("therapist", f"/notes/{note}", self.integration_data(note)).status_code == 302
        return note

    @cached_property
    def signed_note(self) -> int:
        note = self.new_note("integration")
        signed = self.post("therapist", f"/notes/{note}", self.integration_data(note, **SIGNING))
        assert signed.status_code == 302
        return note

    def plan_data(self, plan: int, **changes) -> dict:
        """A complete treatment plan draft as its form submits it (sign it with SIGNING)."""
        later = (today() + timedelta(days=30)).isoformat()
        return {"version": self.version("plan", plan), "problems_patient": self.text, "problems_clinician": self.text,
                "goals-0": self.text, "objectives-0-goal": "1", "objectives-0-target": self.text,
                "objectives-0-criterion": self.text, "objectives-0-by_when": later,
                "objectives-0-mechanism": self.text, "objectives-0-measure": "phq9",
                "techniques-0-technique": "behavioural-activation", "techniques-0-rationale": self.text,
                "pathway": "common_factors", "host_theory": "cbt", "stage": "stabilise", "review_on": later,
                **changes}

    def _start_plan(self) -> int:
        response = self.post("therapist", f"/courses/{self.course}/plan/revisions", {})
        assert response.status_code == 302, response.status_code
        return int(re.search(r"/plans/(\d+)$", response.headers["Location"]).group(1))

    @cached_property
    def signed_plan(self) -> int:
        """The course's treatment plan, revision 1, signed (its stage recorded), with an addendum."""
        plan = self._start_plan()
        assert self.post("therapist", f"/plans/{plan}", self.plan_data(plan, **SIGNING)).status_code == 302
        assert self.post("therapist", f"/plans/{plan}/addenda", {"addendum-body": self.text}).status_code == 302
        return plan

    def plan_draft(self) -> int:
        """The course's plan draft (a revision copied from the signed one), started if there is none."""
        from ketamine_integration.plans.models import TreatmentPlan
        self.signed_plan  # noqa: B018
        found = self.make.query(lambda: db.session.scalar(select(TreatmentPlan.id).where(
            TreatmentPlan.course_id == self.course, TreatmentPlan.status == "draft")))
        return found or self._start_plan()

    @cached_property
    def process_note(self) -> int:
        """The signed note, with the therapist's process notes on it."""
        note = self.signed_note
        assert self.post("therapist", f"/notes/{note}/process", {"body": self.text, "version": ""}).status_code == 302
        return note

    def phq9(self, item9: str = "0", role: str = "therapist"):
        data = {"phq9-administered_on": today().isoformat(), **{f"phq9-item{n}": "1" for n in range(1, 9)},
                "phq9-item9": item9}
        return self.post(role, f"/courses/{self.course}/measures/phq9", data)

    @cached_property
    def measure(self) -> int:
        from ketamine_integration.notes.models import MeasureResponse
        assert self.phq9().status_code == 302
        return self.make.query(lambda: db.session.scalar(select(MeasureResponse.id).order_by(
            MeasureResponse.id.desc())))

    @cached_property
    def alert(self) -> int:
        from ketamine_integration.notes.models import SafetyAlert
        assert self.phq9(item9="2").status_code == 302
        return self.make.query(lambda: db.session.scalar(select(SafetyAlert.id).order_by(SafetyAlert.id.desc())))

    @cached_property
    def preparation_record(self) -> int:
        from ketamine_integration.courses.models import PreparationRecord
        # the one item still ticked on a protocol naming forms (the consent and intake are signed: issue 26); once
        # ticked (a suite's own step may have), it is not ticked twice
        live = self.make.query(lambda: db.session.scalar(select(PreparationRecord.id).where(
            PreparationRecord.course_id == self.prep_course, PreparationRecord.item == "medical_clearance",
            PreparationRecord.voided_at.is_(None))))
        if live is not None:
            return live
        response = self.post("prescriber", f"/courses/{self.prep_course}/preparation",
                             {"item": "medical_clearance", "completed_on": today().isoformat(), "note": self.text})
        assert response.status_code == 302
        return self.make.query(lambda: db.session.scalar(select(PreparationRecord.id).order_by(
            PreparationRecord.id.desc())))

    # -- practices -----------------------------------------------------------------------------

    def assign_data(self, **overrides) -> dict:
        """The course page's assign form (its fields without their "assign-" prefix)."""
        data = {"practice": "movement", "times": "3", "per": "week", "starts_on": today().isoformat(),
                "ends_on": (today() + timedelta(days=27)).isoformat(), "instructions": self.text, "from_note": ""}
        data.update(overrides)
        return data

    @cached_property
    def step(self) -> int:
        """The action step agreed in the signed note (the patient checks in on it in the portal)."""
        from ketamine_integration.notes.models import ActionStep
        note = self.signed_note
        return self.make.query(lambda: db.session.scalar(select(ActionStep.id).where(ActionStep.note_id == note)))

    @cached_property
    def assignment(self) -> int:
        """A practice assigned to the course through the course page's form."""
        from ketamine_integration.practices.models import PracticeAssignment
        data = {f"assign-{k}": v for k, v in self.assign_data(practice="journaling").items()}
        response = self.post("therapist", f"/courses/{self.course}/practices", data)
        assert response.status_code == 302, response.status_code
        return self.make.query(lambda: db.session.scalar(select(PracticeAssignment.id).order_by(
            PracticeAssignment.id.desc())))

    # -- the patient's journal, through the portal ----------------------------------------------

    @cached_property
    def journal_entry(self) -> int:
        """A private free entry the patient wrote on the portal's journal page (`text` in it)."""
        from ketamine_integration.journal.models import JournalEntry
        self.course  # noqa: B018 - the journal is the course's
        response = self.post("patient", "/portal/journal/", {"prompt": "free", "text": self.text})
        assert response.status_code == 302, response.status_code
        return self.make.query(lambda: db.session.scalar(select(JournalEntry.id).order_by(JournalEntry.id.desc())))

    # -- coordination --------------------------------------------------------------------------

    def release_data(self, **overrides) -> dict:
        data = {"recipient": str(self.users["prescriber"]), "recipient_name": "",
                "categories": ["dosing", "measures"], "purpose": self.text,
                "effective_on": today().isoformat(), "expires_on": ""}
        data.update(overrides)
        return data

    @cached_property
    def release(self) -> int:
        from ketamine_integration.coordination.models import ReleaseOfInformation
        from ketamine_integration.coordination.models import CATEGORIES
        response = self.post("therapist", f"/patients/{self.patient}/releases",
                             self.release_data(categories=sorted(CATEGORIES)))
        assert response.status_code == 302, response.status_code
        return self.make.query(lambda: db.session.scalar(select(ReleaseOfInformation.id).order_by(
            ReleaseOfInformation.id.desc())))

    @cached_property
    def coordination_note(self) -> int:
        from ketamine_integration.coordination.models import CoordinationNote
        self.release  # noqa: B018 - what a note may carry follows the release
        response = self.post("therapist", f"/courses/{self.course}/coordination", {
            "recipient": str(self.users["prescriber"]), "priority": "routine", "category": "response",
            "body": self.text})
        assert response.status_code == 302, response.status_code
        return self.make.query(lambda: db.session.scalar(select(CoordinationNote.id).order_by(
            CoordinationNote.id.desc())))

    @cached_property
    def report(self) -> int:
        from ketamine_integration.coordination.models import CoordinationReport
        self.release, self.signed_session  # noqa: B018
        response = self.post("therapist", f"/courses/{self.course}/reports", {
            "recipient": str(self.users["prescriber"]), "questions": self.text, "recommendations": self.text})
        assert response.status_code == 302, response.status_code
        return self.make.query(lambda: db.session.scalar(select(CoordinationReport.id).order_by(
            CoordinationReport.id.desc())))

    # -- discharge summaries (issue 24, point 6) ---------------------------------------------------

    def _completed_course(self) -> int:
        return self.make.course(self.patient, self.users["therapist"], self.users["prescriber"], phase="completed")

    def _started_summary(self, course: int) -> int:
        from ketamine_integration.discharge.models import DischargeSummary
        response = self.post("therapist", f"/courses/{course}/discharge", {})
        assert response.status_code == 302, response.status_code
        return self.make.query(lambda: db.session.scalar(select(DischargeSummary.id).where(
            DischargeSummary.course_id == course)))

    @cached_property
    def ended_course(self) -> int:
        """A completed course of the patient with no summary yet: its discharge summary is due."""
        return self._completed_course()

    def discharge_data(self, summary: int, **overrides) -> dict:
        from ketamine_integration.discharge.content import WRITTEN
        from ketamine_integration.discharge.models import DischargeSummary
        version = self.make.query(lambda: db.session.get(DischargeSummary, summary).version)
        return {"version": str(version), **{s.key: self.text for s in WRITTEN}, **overrides}

    @cached_property
    def discharge_draft(self) -> int:
        """The draft discharge summary of another completed course."""
        return self._started_summary(self._completed_course())

    @cached_property
    def discharge_summary(self) -> int:
        """The signed discharge summary of a third completed course."""
        summary = self._started_summary(self._completed_course())
        response = self.post("therapist", f"/discharge/{summary}",
                             self.discharge_data(summary, confirm_sign="y", sign="1"))
        assert response.status_code == 302, response.status_code
        return summary

    @cached_property
    def discharge_copy(self) -> int:
        """The signed summary's copy, sent to the prescriber under the release."""
        from ketamine_integration.discharge.models import DischargeCopy
        self.release  # noqa: B018
        response = self.post("therapist", f"/discharge/{self.discharge_summary}/send",
                             {"recipient": str(self.users["prescriber"])})
        assert response.status_code == 302, response.status_code
        return self.make.query(lambda: db.session.scalar(select(DischargeCopy.id).order_by(DischargeCopy.id.desc())))

    #: a safety plan the app signs: warning signs, a coping strategy and a crisis line
    SAFETY_PLAN = {"warning_signs": "Not sleeping\nCancelling plans", "coping_strategies": "Walk the dog",
                   "distractions": "", "means_safety": "Partner keeps the tablets", "reasons_for_living": "",
                   "help_contacts-0-name": "Dana (friend)", "help_contacts-0-phone": "555-0142",
                   "professionals-0-name": "988 Suicide & Crisis Lifeline", "professionals-0-phone": "988"}

    def safety_plan_version(self) -> str:
        """The edit token the patient's plan form opens on now (safety_plans.models.edit_token)."""
        from ketamine_integration.safety_plans.models import SafetyPlanRevision, edit_token
        return str(self.make.query(lambda: edit_token(db.session.scalar(select(SafetyPlanRevision).where(
            SafetyPlanRevision.patient_id == self.patient).order_by(SafetyPlanRevision.revision.desc()).limit(1)))))

    @cached_property
    def safety_plan(self) -> int:
        """The patient's signed safety plan revision."""
        from ketamine_integration.safety_plans.models import SafetyPlanRevision
        response = self.post("therapist", f"/patients/{self.patient}/safety-plan/edit",
                             {**self.SAFETY_PLAN, "action": "sign", "confirm_lock": "y",
                              "version": self.safety_plan_version()})
        assert response.status_code == 302, response.status_code
        return self.make.query(lambda: db.session.scalar(select(SafetyPlanRevision.id).where(
            SafetyPlanRevision.patient_id == self.patient).order_by(SafetyPlanRevision.id.desc())))

    # -- scheduling and calendars ------------------------------------------------------------------

    def booking_data(self, **overrides) -> dict:
        """An integration session tomorrow at 11:00, inside the signed session's window."""
        data = {"kind": "integration", "starts_at": form_time(local(1, 11)), "minutes": "50",
                "clinician": str(self.users["therapist"]), "modality": "telehealth", "room": "0"}
        data.update(overrides)
        return data

    @cached_property
    def appointment(self) -> int:
        from ketamine_integration.bookings.models import Appointment
        self.signed_session  # noqa: B018 - its window is what the session is booked into
        response = self.post("staff", f"/courses/{self.course}/sessions", self.booking_data())
        assert response.status_code == 302, response.status_code
        return self.make.query(lambda: db.session.scalar(select(Appointment.id).where(
            Appointment.kind != "dosing").order_by(Appointment.id.desc())))

    @cached_property
    def past_appointment(self) -> int:
        """A booked session that has already happened (an outcome can be recorded only then)."""
        from ketamine_integration.bookings.models import Appointment
        appointment_id = self.appointment

        def move_back():
            row = db.session.get(Appointment, appointment_id)
            row.starts_at, row.ends_at = row.starts_at - timedelta(days=2), row.ends_at - timedelta(days=2)
        self.make.run(move_back)
        return appointment_id

    @cached_property
    def room(self) -> int:
        return self.make.room("Dosing Suite")

    @cached_property
    def feed(self) -> int:
        from ketamine_integration.calendars.models import CalendarFeed
        response = self.post("therapist", "/calendars/feeds", {"label": "phone"})
        assert response.status_code == 200
        self.feed_path = re.search(r'value="http://localhost(/feeds/[^"]+\.ics)"',
                                   response.get_data(as_text=True)).group(1)
        return self.make.query(lambda: db.session.scalar(select(CalendarFeed.id).order_by(CalendarFeed.id.desc())))
