"""Factory helpers: create rows through the real services and return their ids."""
from __future__ import annotations

import itertools
import threading
from contextlib import contextmanager
from datetime import date
from functools import cache

from sqlalchemy import insert, select

from ketamine_integration.accounts import passwords
from ketamine_integration.accounts.models import User
from ketamine_integration.accounts.services import create_user
from ketamine_integration.audit.models import AuditEvent
from ketamine_integration.db.types import utcnow
from ketamine_integration.domain.form_answers import sample_answers
from ketamine_integration.domain.vitals import DISCHARGE_CRITERIA
from ketamine_integration.extensions import db
from ketamine_integration.mfa import totp
from ketamine_integration.mfa.models import Authenticator, RecoveryCode
from ketamine_integration.mfa.sealing import seal
from ketamine_integration.patients.services import register_patient

_seq = itertools.count(1)
#: the authenticator secret every test user is enrolled with (make.user(..., mfa=False): none)
TOTP_SECRET = "KRSXG5CTMVRXEZLUJZQW2ZLUKRSXG5CT"
#: one sign-in's code step at a time: parallel tests sign one user in from several clients
_CODE_LOCK = threading.RLock()


#: the factory's password is checked and hashed once per process (see known_password)
_PASSWORD_LOCK = threading.Lock()


@cache
def _checked_once(password: str) -> tuple[str | None, str]:
    """The real strength check (without a username) and a real hash of `password`."""
    return passwords.password_problem(password), passwords.hash_password(password)


@contextmanager
def known_password(password: str):
    """Users the factory makes share one password: its strength estimate (zxcvbn, 8 ms) and its
    hash, made once, stand in for making them again for every user; they were a twentieth of the
    suite's time. Any other password, or a username the password contains, still goes to the real
    functions (the services' own tests check them)."""
    verdict, hashed = _checked_once(password)
    real_problem, real_hash = passwords.password_problem, passwords.hash_password

    def problem(typed: str, username: str = "") -> str | None:
        if typed != password or (username and username.lower() in typed.lower()):
            return real_problem(typed, username)
        return verdict

    with _PASSWORD_LOCK:
        passwords.password_problem = problem
        passwords.hash_password = lambda typed: hashed if typed == password else real_hash(typed)
        try:
            yield
        finally:
            passwords.password_problem, passwords.hash_password = real_problem, real_hash


#: one factory course's walk through its phases at a time (facts_read_once swaps the gates' finders)
_FACTS_LOCK = threading.Lock()


def _read_once(finder, course_id: int):
    """`finder` (given a course, or a course's id), answering for `course_id` once and then from memory."""
    answers = {}

    def read(course_or_id):
        if getattr(course_or_id, "id", course_or_id) != course_id:
            return finder(course_or_id)
        if not answers:
            answers["found"] = finder(course_or_id)
        return answers["found"]
    return read


@contextmanager
def facts_read_once(course_id: int):
    """While the factory walks a new course through its phases by override (change_phase, step after
    step), nothing its gates look at changes but the phase, which course_facts reads from the course
    itself: what its records, signed forms and signed doses meet is read at the first step and the
    same answers stand for the next ones (each step read them all again: the packet twice, the notes,
    the measures, the doses; 18 statements). Any other course's facts are read as ever."""
    from ketamine_integration.courses import services as courses

    hooks = (courses._evidence_finders, courses._form_evidence_finders, courses._unsigned_form_finders,
             courses._dosing_counters)
    with _FACTS_LOCK:
        saved = [list(hook) for hook in hooks]
        for hook, finders in zip(hooks, saved):
            hook[:] = [_read_once(finder, course_id) for finder in finders]
        try:
            yield
        finally:
            for hook, finders in zip(hooks, saved):
                hook[:] = finders


def newest_version(protocol_id: str) -> int:
    """The newest valid version of a shipped protocol (what a new course starts on)."""
    from ketamine_integration.protocols.services import current_library

    return next(e.protocol.version for e in current_library().newest() if e.protocol.id == protocol_id)


def _enrolled(user_id: int) -> None:
    """The rows mfa.services.begin_enrolment then confirm_enrolment leave for a user enrolling
    TOTP_SECRET with the previous step's code (so sign-ins can use the current one): the sealed
    secret, confirmed, that step used, and ten recovery codes (their SHA-256 only, each unique).
    Added in two INSERTs instead of the services' three flushes, with their two reads of the authenticator
    and the code check, the codes in one statement (flushed as objects, SQLite inserted them one by
    one to read back ids nobody reads): enrolment was 6 % of the suite's CPU. The authenticator goes
    in as a bulk INSERT too: as an added object its flush (the unit of work sorting the session's
    mappers) cost more than half a millisecond, a tenth of a factory user; no listener of the app
    looks at authenticators. The services themselves are driven
    through the enrolment pages by tests/integration/test_mfa.py and tests/browser/test_mfa_browser.py
    (and tests/browser/key_pages.py enrols the demo's users through them)."""
    now = utcnow()
    db.session.execute(insert(Authenticator), [dict(user_id=user_id, secret_sealed=seal(TOTP_SECRET), created_at=now,
                                                    confirmed_at=now, last_used_step=totp.step_at(now) - 1)])
    db.session.execute(insert(RecoveryCode), [dict(user_id=user_id, code_hash=totp.recovery_code_hash(code),
                                                   created_at=now) for code in totp.new_recovery_codes()])


def _room_id(name: str) -> int:
    """The id of the room of that name, made (flushed, not committed) if the clinic has none yet."""
    from ketamine_integration.bookings.models import Room

    room = db.session.scalar(select(Room).where(Room.name == name))
    if room is None:
        room = Room(name=name)
        db.session.add(room)
        db.session.flush()
    return room.id


def sign_a_waiting_form(course):
    """Sign the first form of the course's packet still waiting (valid answers, on the clinic tablet, its
    therapist witnessing), inside the caller's app context; the SignedForm, or None when none waits."""
    from ketamine_integration.domain.form_answers import sample_answers
    from ketamine_integration.signed_forms.services import packet_status, sign_form

    status = packet_status(course) if not course.current_phase.ended else None
    item = next((i for i in status.items if i.state == "to_sign" and i.form), None) if status else None
    if item is None:
        return None
    return sign_form(course, item.form_id, raw_answers=sample_answers(item.form), typed_name=course.patient.full_name,
                     agreed=True, method="in_clinic", witness=db.session.get(User, course.therapist_id))


def sign_dosing_forms(course, *, witness: User) -> None:
    """Sign the forms dosing needs (valid answers, none flagged, in the clinic, `witness` handing over the
    tablet), inside the caller's app context: two to four signatures, each through sign_form, each countersigned
    by the course's clinician where its form asks (as a clinic does before dosing: an owed countersignature
    waits on the clinician's home page, signed_forms.waiting)."""
    from ketamine_integration.signed_forms.services import countersign, packet_status, sign_form

    status = packet_status(course)
    countersigners = {"prescriber": course.prescriber, "therapist": course.therapist}
    for item in (i for i in (status.items if status is not None else ()) if i.needed_for_dosing and i.form):
        signed = sign_form(course, item.form_id, raw_answers=sample_answers(item.form),
                           typed_name=course.patient.full_name, agreed=True, method="in_clinic", witness=witness)
        if item.form.countersign in countersigners:
            countersign(signed, by=countersigners[item.form.countersign])


class Factories:
    def __init__(self, app, password: str):
        self.app, self.password = app, password

    def user(self, *roles: str, username: str | None = None, active: bool = True, mfa: bool = True,
             **fields) -> int:
        """A user through the real services, enrolled with TOTP_SECRET unless mfa=False."""
        n = next(_seq)
        with self.app.app_context(), known_password(self.password):
            user = create_user(username=username or f"{'-'.join(roles) or 'user'}{n}",
                               full_name=fields.pop("full_name", f"Test User {n}"),
                               password=self.password, roles=roles, active=active, **fields)
            user_id = user.id  # read before the commit expires it (reading it after costs a SELECT)
            if mfa:
                _enrolled(user_id)
            db.session.commit()
            return user_id

    def totp_code(self, username: str) -> str:
        """A code for `username`'s next sign-in: one the server accepts now and that no earlier
        sign-in used (a code works once). A test signs in more often than a person could: when
        every step the server accepts now is used, the last-used step is moved back, as if the
        30 seconds had passed (like age_login_sessions)."""
        def pick():
            auth = db.session.scalar(select(Authenticator).join(User, User.id == Authenticator.user_id)
                                     .where(User.username == username.strip().lower()))
            current = totp.step_at(utcnow())
            last = auth.last_used_step if auth.last_used_step is not None else current - 1
            # current or current + 1: both are still accepted if a step boundary passes meanwhile
            step = max(current, last + 1)
            if step > current + 1:
                auth.last_used_step, step = current - 1, current
            return totp.code_for_step(TOTP_SECRET, step)
        return self.run(pick)

    code_step_lock = _CODE_LOCK

    def patient(self, *, therapists=(), prescribers=(), nurses=(), **fields) -> int:
        n = next(_seq)
        values = dict(given_name="Testa", family_name=f"Fictional{n}", date_of_birth=date(1980, 5, 17))
        values.update(fields)
        with self.app.app_context():
            patient = register_patient(therapist_ids=list(therapists), prescriber_ids=list(prescribers),
                                       nurse_ids=list(nurses), **values)
            db.session.flush()
            patient_id = patient.id  # read before the commit expires it (reading it after costs a SELECT)
            db.session.commit()
            return patient_id

    def course(self, patient_id: int, therapist_id: int, prescriber_id: int, *,
               protocol: str = "iv-ketamine-induction", phase: str = "preparation",
               start: date | None = None, signed: bool | None = None) -> int:
        """Enrol through the real service; reach later phases by recorded overrides.

        `signed` (default: for a phase past preparation) signs, through the real service and before the
        phase changes, the forms without which no dose is planned or started (the intake and the dosing
        consents: signed_forms.status.PacketItem.needed_for_dosing); the gate's other forms stay unsigned, as
        its override says. A test of that refusal asks for signed=False."""
        from ketamine_integration.accounts.models import PRESCRIBER, THERAPIST, User
        from ketamine_integration.courses.services import change_phase, enrol_patient
        from ketamine_integration.domain.phases import Phase
        from ketamine_integration.patients.care_team import change_care_team, team_of
        from ketamine_integration.patients.models import Patient
        from ketamine_integration.protocols.services import newest_version

        with self.app.app_context():
            by = db.session.get(User, therapist_id)
            patient = db.session.get(Patient, patient_id)
            # Through the app only a team member or staff reach the enrol page; a factory patient
            # registered without a team gets the course's clinicians first, as staff would add them.
            change_care_team(patient, team_of(patient) | {(therapist_id, THERAPIST), (prescriber_id, PRESCRIBER)},
                             by=None, reason="set up by the test factory")
            course = enrol_patient(db.session.get(Patient, patient_id),
                                   protocol_key=(protocol, newest_version(protocol)),
                                   start_date=start or date.today(), indication="Treatment-resistant depression",
                                   therapist_id=therapist_id, prescriber_id=prescriber_id, by=by)
            path = ["experience", "integration", "maintenance", "completed"]
            if signed if signed is not None else phase in path:
                sign_dosing_forms(course, witness=by)
            with facts_read_once(course.id):
                for target in path[:path.index(phase) + 1] if phase in path else []:
                    change_phase(course, Phase(target), by=by, expected_version=course.version,
                                 reason="Test setup: gate overridden on purpose.", override=True)
            db.session.flush()
            course_id = course.id  # read before the commit expires it (reading it after costs a SELECT)
            db.session.commit()
            return course_id

    def audit_rows(self, **filters) -> list[AuditEvent]:
        """Audit rows matching column=value filters, oldest first (detached, read-only)."""
        with self.app.app_context():
            stmt = select(AuditEvent).order_by(AuditEvent.id)
            for column, value in filters.items():
                stmt = stmt.where(getattr(AuditEvent, column) == value)
            rows = db.session.scalars(stmt).all()
            db.session.expunge_all()
            return rows

    def age_login_sessions(self, **deltas):
        """Move every open login session back in time, as if time had passed."""
        from ketamine_integration.accounts.models import LoginSession

        def shift():
            for row in db.session.scalars(select(LoginSession).where(LoginSession.ended_at.is_(None))):
                for column, delta in deltas.items():
                    setattr(row, column, getattr(row, column) - delta)
        self.run(shift)

    def query(self, fn):
        """Run fn() inside an app context for reading; returned objects stay readable."""
        with self.app.app_context():
            result = fn()
            db.session.expunge_all()
            return result

    def run(self, fn):
        """Run fn() inside an app context and commit (for arranging state in tests)."""
        with self.app.app_context():
            result = fn()
            db.session.commit()
            return result

    def room(self, name: str = "Dosing Suite") -> int:
        """The room of that name, made if the clinic has none yet."""
        return self.run(lambda: _room_id(name))

    def dosing_plan(self, course_id: int, *, first_start, days_between: int, count: int, reason: str | None = None,
                    clinician_id: int | None = None, room: str = "Dosing Suite") -> list[int]:
        """Plan dosing sessions through the real service (booked with the course's prescriber
        unless told otherwise); returns the sessions' ids."""
        from ketamine_integration.accounts.models import User
        from ketamine_integration.courses.models import TreatmentCourse
        from ketamine_integration.experience.services import plan_series

        def plan():
            room_id = _room_id(room)  # in the plan's own transaction: one commit, not two
            course = db.session.get(TreatmentCourse, course_id)
            who = clinician_id or course.prescriber_id
            return [s.id for s in plan_series(course, first_start=first_start, days_between=days_between,
                                              count=count, reason=reason, clinician_id=who, room_id=room_id,
                                              by=db.session.get(User, who))]
        return self.run(plan)

    def portal_account(self, patient_id: int, *, factor: str | None = "totp", email: str | None = None,
                       active: bool = True) -> int:
        """A patient's accepted portal account (the factory's password), enrolled with TOTP_SECRET
        (factor="totp"), with emailed codes ("email"), or still to enrol (None): the rows accepting an
        invitation and enrolling leave. The invitation pages themselves are driven by
        tests/integration/test_portal_invitations.py."""
        from ketamine_integration.patients.models import Patient
        from ketamine_integration.portal.models import PortalAccount

        def make_account():
            patient = db.session.get(Patient, patient_id)
            address = (email or patient.email or f"patient{patient_id}@example.org").lower()
            with known_password(self.password):
                hashed = passwords.hash_password(self.password)
            account = PortalAccount(patient_id=patient_id, email=address, password_hash=hashed, active=active,
                                    second_factor=factor, activated_at=utcnow(),
                                    totp_secret_sealed=seal(TOTP_SECRET) if factor == "totp" else None,
                                    totp_last_step=totp.step_at(utcnow()) - 1 if factor == "totp" else None)
            db.session.add(account)
            db.session.flush()
            return account.id
        return self.run(make_account)

    def sign_packet(self, course_id: int, *, witness_id: int | None = None, only=None, flagged=()) -> list[int]:
        """Sign every form of the course's packet (or those in `only`) in the clinic, as the patient would on
        the tablet with `witness_id` (default: the course's therapist) handing it over: each answer valid
        and, except the questions named in `flagged`, one no flag names. Returns the signed forms' ids."""
        from ketamine_integration.courses.models import TreatmentCourse
        from ketamine_integration.signed_forms.services import packet_status, sign_form

        def sign():
            course = db.session.get(TreatmentCourse, course_id)
            witness = db.session.get(User, witness_id or course.therapist_id)
            ids = []
            for item in packet_status(course).items:
                if item.state == "signed" or (only is not None and item.form_id not in only):
                    continue
                signed = sign_form(course, item.form_id, raw_answers=sample_answers(item.form, flagged=flagged),
                                   typed_name=course.patient.full_name, agreed=True, method="in_clinic",
                                   witness=witness)
                ids.append(signed.id)
            return ids
        return self.run(sign)

    def portal_code(self, account_id: int) -> str:
        """A TOTP code for the account's next portal sign-in (as totp_code for staff)."""
        from ketamine_integration.portal.models import PortalAccount

        def pick():
            account = db.session.get(PortalAccount, account_id)
            current = totp.step_at(utcnow())
            step = max(current, (account.totp_last_step or current - 1) + 1)
            if step > current + 1:
                account.totp_last_step, step = current - 1, current
            return totp.code_for_step(TOTP_SECRET, step)
        return self.run(pick)


#: every discharge criterion answered yes, as the dosing record form posts them and as the service takes them
DISCHARGE_MET = {key: True for key in DISCHARGE_CRITERIA}
DISCHARGE_MET_FORM = {f"discharge_criteria-{key}": "yes" for key in DISCHARGE_CRITERIA}
