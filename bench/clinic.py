"""The large synthetic clinic for benchmarks: 40 therapists, 10 prescribers, 3,000 patients and two
years of treatment courses (about 60,000 sessions with their notes, measures and audit rows).

    DATABASE_URL=sqlite:////tmp/clinic.db python -m bench.clinic [--scale 0.1] [--seed 7]

Every name is invented (bench/names.py). Rows are built in memory and written in chunks
(bench/rows.py); users go through the account service, protocol snapshots through the
protocol registry, and audit rows through the ORM session, so session events on them run.
The database is migrated first; the generator refuses a database that already has users.
"""
from __future__ import annotations

import argparse
import random
import time
from dataclasses import dataclass
from datetime import date, datetime, time as clock, timedelta, timezone

from sqlalchemy import func, select

from ketamine_integration.accounts.models import User
from ketamine_integration.accounts.services import create_user
from ketamine_integration.audit import chain
from ketamine_integration.audit.models import AuditEvent
from ketamine_integration.coordination.models import CATEGORIES
from ketamine_integration.demo.notes import THEMES
from ketamine_integration.experience import window_store
from ketamine_integration.extensions import db
from ketamine_integration.notes.forms import FORMULATION_SECTIONS
from ketamine_integration.notes.models import Theme
from ketamine_integration.patients.models import CareTeamMember, Patient
from ketamine_integration.protocols.services import current_library, protocol_of, register_version
from ketamine_integration.bookings.models import Room, WorkingHours
from ketamine_integration.db.clinic_time import clinic_zone

from .names import NameMaker
from .rows import Rows
from .sim import Clinic, build_course

#: bump when the generated data changes shape (3: PostgreSQL statistics gathered after loading;
#: 4: stored integration windows): cached benchmark databases are rebuilt
GENERATOR_VERSION = 4
BENCH_PASSWORD = "harbor-light-bench-2026"
#: how often each protocol is chosen for a new course
PROTOCOL_MIX = {"iv-ketamine-induction": 35, "im-ketamine-kap": 25, "sublingual-ketamine-kap": 20,
                "esketamine-trd-rems": 20}
AUDIT_CHUNK = 5000


@dataclass(frozen=True)
class Params:
    therapists: int = 40
    prescribers: int = 10
    patients: int = 3000
    years: float = 2.0
    seed: int = 20261121

    def scaled(self, scale: float) -> "Params":
        return Params(max(2, round(self.therapists * scale)), max(1, round(self.prescribers * scale)),
                      max(4, round(self.patients * scale)), self.years, self.seed)

    @property
    def key(self) -> str:
        return f"v{GENERATOR_VERSION}-t{self.therapists}-p{self.prescribers}-n{self.patients}-y{self.years:g}-s{self.seed}"


def _users(params: Params, names: NameMaker) -> dict[str, list[User]]:
    """The clinic's accounts through the account service (password policy and all)."""
    made = {"admin": [], "staff": [], "therapist": [], "prescriber": []}
    plan = [("admin", "admin", 1, None), ("staff", "staff", max(2, params.therapists // 10), None),
            ("therapist", "therapist", params.therapists, "LCSW"),
            ("prescriber", "prescriber", params.prescribers, "MD")]
    for role, prefix, count, credentials in plan:
        for n in range(1, count + 1):
            username = prefix if role == "admin" else f"{prefix}{n}"
            given, family = names.full()
            made[role].append(create_user(username=username, full_name=f"{given} {family}",
                                          password=BENCH_PASSWORD, roles=(role,), credentials=credentials,
                                          email=f"{username}@bench-clinic.example.org"))
    db.session.flush()
    password_only_sign_in(made["admin"][0])
    return made


def password_only_sign_in(admin: User) -> None:
    """The benchmark measures pages, not sign-in: its clinics ask no second step, so the
    harness and the load generator sign in with the password alone. (Two-step sign-in is
    measured by tests/security/test_mfa_guessing.py and tests/integration/test_mfa.py.)"""
    from ketamine_integration.mfa.services import set_required_roles
    set_required_roles((), by=admin)


def _setting(users: dict, params: Params) -> tuple[list[int], list[int], list[int], dict]:
    """Rooms, themes, weekly hours and the protocol snapshots courses pin."""
    therapy = [Room(name=f"Therapy Room {n}") for n in range(1, max(3, params.therapists // 3) + 1)]
    dosing = [Room(name=f"Dosing Suite {n}") for n in range(1, max(2, params.prescribers + 4) + 1)]
    themes = [Theme(name=name) for name in THEMES + ("Anger and boundaries", "Purpose and meaning", "Shame")]
    db.session.add_all(therapy + dosing + themes)
    for user in users["therapist"] + users["prescriber"]:
        db.session.add_all(WorkingHours(clinician_id=user.id, weekday=d, starts=clock(8), ends=clock(18))
                           for d in range(5))
    protocols = {}
    for entry in current_library().newest():
        version = register_version(entry)
        db.session.flush()
        protocols[entry.protocol.id] = (version.id, protocol_of(version))
    db.session.flush()
    return [r.id for r in therapy], [r.id for r in dosing], [t.id for t in themes], protocols


def _patients(params: Params, users: dict, names: NameMaker, rng: random.Random) -> list[tuple[int, int, int]]:
    """Patients with their care team; (patient, therapist, prescriber) ids."""
    patients = []
    for n in range(1, params.patients + 1):
        given, family = names.full()
        therapist, prescriber = rng.choice(users["therapist"]), rng.choice(users["prescriber"])
        patient = Patient(mrn=f"SYN-{n:06d}", given_name=given, family_name=family,
                          date_of_birth=date(1950, 1, 1) + timedelta(days=rng.randrange(365 * 55)),
                          phone=f"(555) 01{n % 100:02d}", email=f"patient{n}@example.org",
                          emergency_contact_name=f"{names.given()} {family}", emergency_contact_relationship="partner",
                          emergency_contact_phone=f"555-01{(n + 50) % 100:02d}")
        patient.care_team = [CareTeamMember(user_id=therapist.id, role="therapist"),
                             CareTeamMember(user_id=prescriber.id, role="prescriber")]
        patients.append(patient)
    db.session.add_all(patients)
    db.session.flush()
    return [(p.id, p.care_team[0].user_id, p.care_team[1].user_id) for p in patients]


def _release(clinic: Clinic, patient_id: int, therapist_id: int, prescriber_id: int, start: date) -> None:
    """The patient's release of information to the prescriber (a few narrower, a few revoked)."""
    rng = clinic.rng
    categories = sorted(CATEGORIES) if rng.random() < 0.8 else ["attendance", "dosing", "measures"]
    revoked = clinic.today - timedelta(days=2) if rng.random() < 0.03 and start < clinic.today - timedelta(days=3) \
        else None
    created = datetime.combine(start, clock(9, 15), clinic.zone)
    release_id = clinic.rows.add(
        "releases_of_information", patient_id=patient_id, recipient_user_id=prescriber_id, recipient_name=None,
        categories=categories, purpose="Coordination of ketamine treatment", effective_on=start,
        expires_on=start + timedelta(days=3 * 365), revoked_on=revoked, revoked_by_id=therapist_id if revoked else None,
        created_by_id=therapist_id, created_at=created)
    from .records import audit
    audit(clinic, created, therapist_id, "release.create", obj_type="releaseofinformation", obj_id=release_id,
          patient_id=patient_id)


def _formulation(clinic: Clinic, course_id: int, therapist_id: int, when: datetime) -> None:
    content = {key: "" for key in FORMULATION_SECTIONS}
    content.update(presenting_concerns="Low mood and withdrawal since a bereavement",
                   core_beliefs="I'm not enough", strengths="Curious, keeps a journal, supportive partner")
    clinic.rows.add("case_formulations", course_id=course_id, revision=1, content=content, author_id=therapist_id,
                    saved_at=when)


def _courses(clinic: Clinic, params: Params, patients: list[tuple[int, int, int]]) -> dict[str, int]:
    """One or two courses per patient, started across the years covered."""
    rng, phases = clinic.rng, {}
    span = int(params.years * 365)
    keys, weights = list(PROTOCOL_MIX), list(PROTOCOL_MIX.values())
    for patient_id, therapist_id, prescriber_id in patients:
        start = clinic.today - timedelta(days=rng.randint(3, span))
        _release(clinic, patient_id, therapist_id, prescriber_id, start)
        for _second in range(2):
            course_id = next(clinic.rows._ids["treatment_courses"])
            result = build_course(clinic, course_id=course_id, patient_id=patient_id,
                                  therapist_id=therapist_id, prescriber_id=prescriber_id,
                                  protocol_id=rng.choices(keys, weights)[0], start=start)
            if result is None:
                break
            phase, last = result
            phases[phase] = phases.get(phase, 0) + 1
            if phase != "preparation":
                _formulation(clinic, course_id, therapist_id,
                             datetime.combine(start + timedelta(days=5), clock(18), clinic.zone))
            start = last + timedelta(days=rng.randint(30, 120))
            if phase not in ("completed", "discontinued") or start > clinic.today - timedelta(days=10) \
                    or rng.random() > 0.35:
                break
    return phases


def _logins(clinic: Clinic) -> None:
    """A sign-in on every day a clinician has sessions (the audit trail's busiest action)."""
    from .records import audit
    for (kind, key), days in clinic.table.busy.items():
        if kind != "user":
            continue
        for day in days:
            when = datetime.combine(day, clock(7, 45), clinic.zone)
            if when < clinic.now:
                audit(clinic, when, key, "login.success", obj_type="user", obj_id=key)


def _write_audit(rows: list[dict]) -> None:
    """Audit rows in time order, queued on the HMAC chain as the app queues its own (chained
    at each commit), so `flask --app wsgi audit verify` passes on the generated clinic."""
    rows.sort(key=lambda r: r["occurred_at"])
    session = db.session()
    for start in range(0, len(rows), AUDIT_CHUNK):
        for values in rows[start:start + AUDIT_CHUNK]:
            chain.enqueue(session, AuditEvent(**values))
        db.session.commit()


def generate(params: Params, *, now: datetime | None = None, log=print) -> dict:
    """Build the clinic in the app's database (inside an app context); returns what was made."""
    started = time.perf_counter()
    if db.session.scalar(select(func.count()).select_from(User)):
        raise SystemExit("The database already has users; the bench clinic needs an empty, migrated database.")
    now = (now or datetime.now(timezone.utc)).replace(microsecond=0)
    rng, names = random.Random(params.seed), NameMaker(params.seed + 1)
    users = _users(params, names)
    therapy, dosing, themes, protocols = _setting(users, params)
    patients = _patients(params, users, names, rng)
    db.session.commit()
    db.session.close()  # the chunked writes below take SQLite's write lock in turn
    clinic = Clinic(rows=Rows(db.engine), rng=rng, now=now, zone=clinic_zone(), protocols=protocols,
                    therapy_rooms=therapy, dosing_rooms=dosing, themes=themes)
    phases = _courses(clinic, params, patients)
    _logins(clinic)
    built = time.perf_counter()
    clinic.rows.write()
    # The rows went in past the session, so nothing kept the windows current as the app does.
    window_store.rebuild()
    _write_audit(clinic.audit_rows)
    counts = {name: len(rows) for name, rows in clinic.rows.tables.items()}
    counts.update(audit_events=len(clinic.audit_rows), patients=len(patients), phases=phases,
                  sessions=counts.get("appointments", 0), seconds=round(time.perf_counter() - started, 1),
                  build_seconds=round(built - started, 1))
    log(f"bench clinic {params.key}: {counts['sessions']} sessions, {counts.get('session_notes', 0)} notes, "
        f"{counts.get('measure_responses', 0)} measures, {counts['audit_events']} audit rows "
        f"in {counts['seconds']} s (rows built in {counts['build_seconds']} s)")
    return counts


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    defaults = Params()
    parser.add_argument("--therapists", type=int, default=defaults.therapists)
    parser.add_argument("--prescribers", type=int, default=defaults.prescribers)
    parser.add_argument("--patients", type=int, default=defaults.patients)
    parser.add_argument("--years", type=float, default=defaults.years)
    parser.add_argument("--seed", type=int, default=defaults.seed)
    parser.add_argument("--scale", type=float, default=1.0, help="a fraction of every count, for quick runs")
    args = parser.parse_args(argv)
    params = Params(args.therapists, args.prescribers, args.patients, args.years, args.seed).scaled(args.scale)
    from flask_migrate import upgrade

    from ketamine_integration import create_app
    app = create_app()
    with app.app_context():
        upgrade()
        generate(params)


if __name__ == "__main__":
    main()
