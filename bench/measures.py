"""The benchmark's other measurements: the coordination report PDF against bare WeasyPrint,
a calendar feed of 1,000 events, and the clinic-wide auto-scheduler."""
from __future__ import annotations

import gc
import statistics
import time
from datetime import date, datetime, time as clock, timedelta, timezone

from sqlalchemy import select
from weasyprint import HTML

from ketamine_integration import create_app
from ketamine_integration.accounts.services import create_user
from ketamine_integration.coordination import services as coordination
from ketamine_integration.coordination.models import CATEGORIES, ReleaseOfInformation
from ketamine_integration.courses.models import TreatmentCourse
from ketamine_integration.calendars.services import create_feed
from ketamine_integration.documents import ical, pdf
from ketamine_integration.documents.coordination_report import render_report_html
from ketamine_integration.domain.autoschedule import assign
from ketamine_integration.extensions import db
from ketamine_integration.patients.models import CareTeamMember, Patient
from ketamine_integration.db.clinic_time import clinic_today, clinic_zone

from . import autoschedule
from .clinic import BENCH_PASSWORD
from .databases import bench_settings
from .pages import fetch, percentile
from .rows import Rows

FEED_EVENTS = 1000


def _median_ms(fn, repeat: int) -> float:
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - started) * 1000)
    return statistics.median(samples)


def _paired_samples(first, second, repeat: int) -> tuple[list[float], list[float]]:
    """Times (ms) of two functions run in turn, so the machine's drift meets both alike, each
    from a collected heap: a render leaves a large object graph behind, and without this the
    next call, whichever it was, paid for collecting it (up to 2x on identical renders)."""
    samples = ([], [])
    for _ in range(repeat):
        for fn, kept in zip((first, second), samples):
            gc.collect()
            started = time.perf_counter()
            fn()
            kept.append((time.perf_counter() - started) * 1000)
    return samples


def _report_course() -> TreatmentCourse:
    """The newest finished course whose release lets every category go to its prescriber."""
    courses = db.session.scalars(select(TreatmentCourse).join(
        ReleaseOfInformation, (ReleaseOfInformation.patient_id == TreatmentCourse.patient_id)
        & (ReleaseOfInformation.recipient_user_id == TreatmentCourse.prescriber_id)
        & ReleaseOfInformation.revoked_on.is_(None))
        .where(TreatmentCourse.phase.in_(("integration", "maintenance", "completed")))
        .order_by(TreatmentCourse.start_date.desc(), TreatmentCourse.id.desc()).limit(50)).all()
    today = clinic_today()
    for course in courses:
        categories, _ = coordination.permitted(course.patient_id, course.prescriber_id, today)
        if categories == set(CATEGORIES):
            return course
    raise RuntimeError("no course with a full release to report on")


def pdf_vs_weasyprint(app, repeat: int = 15) -> dict:
    """generate_report() (data, HTML, PDF, hash, row; rolled back) against WeasyPrint alone on
    the same HTML."""
    with app.test_request_context():
        course = _report_course()
        now, today = datetime.now(timezone.utc), clinic_today()
        categories, _ = coordination.permitted(course.patient_id, course.prescriber_id, today)
        html = render_report_html(coordination.report_data(
            course, recipient=course.prescriber, author=course.therapist, categories=categories, now=now,
            questions="Dose still right?",
            recommendations="Continue integration sessions."), for_pdf=True)

        def generate():
            coordination.generate_report(course, recipient_id=course.prescriber_id, by=course.therapist, now=now,
                                         today=today, questions="Dose still right?",
                                         recommendations="Continue integration sessions.")
            db.session.rollback()
        # the same document: its stylesheet resolved as the app resolves it (otherwise the bare
        # render would lay out an unstyled page)
        def bare():
            HTML(string=html, base_url=pdf.BASE_URL, url_fetcher=pdf.fetcher_class()()).write_pdf(**pdf.PDF_OPTIONS)
        generate()  # warm-up: fonts and stylesheets load once per process
        bare()
        app_samples, bare_samples = _paired_samples(generate, bare, repeat)
        course_id = course.id
        db.session.remove()
    # the ratio of each pair, then their median: two renders back to back meet the same machine
    ratio = statistics.median(a / b for a, b in zip(app_samples, bare_samples))
    return {"app_ms": statistics.median(app_samples), "bare_ms": statistics.median(bare_samples), "ratio": ratio,
            "course_id": course_id}


def _feed_fixture(count: int) -> str:
    """A therapist with `count` sessions inside the feed's span (60 days back, 400 ahead) and a
    feed address; returns the secret."""
    therapist = create_user(username="feedtherapist", full_name="Orin Feldgate", password=BENCH_PASSWORD,
                            roles=("therapist",), credentials="LCSW")
    patients = [Patient(mrn=f"FEED-{n:04d}", given_name="Pell", family_name=f"Ashmere{n}",
                        date_of_birth=date(1980, 1, 1), care_team=[CareTeamMember(user_id=therapist.id,
                                                                                   role="therapist")])
                for n in range(50)]
    db.session.add_all(patients)
    db.session.flush()
    _feed, token = create_feed(therapist, "bench")
    db.session.commit()
    rows, zone = Rows(db.engine), clinic_zone()
    day = clinic_today() - timedelta(days=55)
    for n in range(count):  # five sessions a working day, one after another: never a clash
        while day.weekday() >= 5:
            day += timedelta(days=1)
        starts = datetime.combine(day, clock(9 + 2 * (n % 5)), zone)
        appointment = rows.add("appointments", patient_id=patients[n % 50].id, course_id=None,
                               clinician_id=therapist.id, kind="follow_up", dosing_session_id=None,
                               starts_at=starts, ends_at=starts + timedelta(minutes=50), modality="telehealth",
                               room_id=None, status="booked", cancel_reason=None, created_at=starts - timedelta(days=20),
                               created_by_id=therapist.id, version=1)
        rows.add("appointment_changes", appointment_id=appointment, change="booked", by_user_id=therapist.id,
                 occurred_at=starts - timedelta(days=20), previous_start=None, reason=None)
        day += timedelta(days=1) if n % 5 == 4 else timedelta(0)
    db.session.remove()
    rows.write()
    return token


def feed_of_1000(uri: str, repeat: int = 15) -> dict:
    """GET /feeds/<secret>.ics for a feed of exactly 1,000 events, in a database of its own."""
    from flask_migrate import upgrade
    app = create_app(bench_settings(uri, FEED_REQUESTS_PER_HOUR=10_000))
    with app.app_context():
        upgrade()
        token = _feed_fixture(FEED_EVENTS)
        db.session.remove()
    client = app.test_client()
    fetch(client, "/healthz")  # the app's first request (imports, template cache) is not the feed's
    ical._feed_event.cache_clear(), ical._zone_component.cache_clear()
    started = time.perf_counter()  # the first poll writes every event (nothing kept yet)
    events = fetch(client, f"/feeds/{token}.ics").get_data(as_text=True).count("BEGIN:VEVENT")
    first_ms = (time.perf_counter() - started) * 1000
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        fetch(client, f"/feeds/{token}.ics")
        samples.append((time.perf_counter() - started) * 1000)
    with app.app_context():
        db.engine.dispose()
    return {"events": events, "median_ms": statistics.median(samples), "p95_ms": percentile(samples, 0.95),
            "first_ms": first_ms}


def auto_scheduler(repeat: int = 3) -> dict:
    """The exact solver on bench/autoschedule.py's instance: 300 windows, 40 therapists, 14 days."""
    demands, slots = autoschedule.instance(300, 40, 14, 8)
    return {"windows": len(demands), "slots": len(slots), "median_ms": _median_ms(lambda: assign(demands, slots),
                                                                                repeat)}

