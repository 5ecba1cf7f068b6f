"""Ketamine integration protocol manager: the Flask application factory."""
from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path

from flask import Flask

from .config import load_config
from .db import legacy_paths  # noqa: F401  (landed migrations import old module paths)
from .extensions import csrf, db, login_manager, migrate
from .shipped import shipped_folder
from .web import access, access_log, lifecycle

#: the checkout's top folder, for tests and bench/; the app reads nothing there (see shipped.py)
PROJECT_ROOT = Path(__file__).resolve().parent.parent


def create_app(config: dict | None = None) -> Flask:
    """Build the app: environment settings, then `config` overrides (tests pass theirs)."""
    app = Flask(__name__, instance_relative_config=True,
                template_folder=str(shipped_folder("templates")))
    environ = dict(os.environ)
    if config and config.get("SECRET_KEY"):
        environ["SECRET_KEY"] = config["SECRET_KEY"]  # no development key file is made then
    app.config.update(load_config(app.instance_path, environ))
    app.config.setdefault("PROTOCOLS_DIR", str(shipped_folder("protocols")))
    app.config.setdefault("TECHNIQUES_DIR", str(shipped_folder("vocabularies")))
    app.config.setdefault("FORMS_DIR", str(shipped_folder("forms")))
    if config:
        app.config.update(config)
    Path(app.instance_path).mkdir(parents=True, exist_ok=True)
    register_listeners()
    register_extensions(app)
    lifecycle.register_converters(app)
    register_blueprints(app)
    register_hooks()
    register_second_step(app)
    register_access(app)
    lifecycle.register(app)
    register_templates(app)
    register_cli(app)
    register_proxy(app)
    access_log.register(app)  # request and error logs: no feed secrets, no queries, no stored values
    return app


def register_proxy(app: Flask) -> None:
    """Behind a reverse proxy (production), trust exactly TRUSTED_PROXY_HOPS X-Forwarded-*
    hops, so the audit trail and the per-address sign-in limits see the client's address,
    not the proxy's. With no proxy (0) the headers are ignored: clients cannot choose it."""
    hops = app.config["TRUSTED_PROXY_HOPS"]
    if hops:
        from werkzeug.middleware.proxy_fix import ProxyFix
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops)


def register_listeners() -> None:
    """Every SQLAlchemy listener, attached once per process (before the engine is made), in
    this order. Within one event SQLAlchemy runs them in the order listed here."""
    from sqlalchemy.engine import Engine
    from sqlalchemy.orm import Mapper, Session

    from . import extensions
    from .audit import chain, models as audit_models
    from .bookings import events as booking_events
    from .db import append_only, sql_time
    from .db.events import listen_in_order
    from .discharge import signed_guard as discharge_signed_guard
    from .experience import models as experience_models, window_store
    from .messaging import queue as message_queue
    from .notes import signed_guard as notes_signed_guard
    from .plans import signed_guard as plans_signed_guard
    from .protocols import models as protocols_models
    from .safety_plans import guard as safety_plans_guard

    listen_in_order([
        # Each new connection: SQLite's pragmas, PostgreSQL's lock timeout; SQLite's BEGIN IMMEDIATE.
        (Engine, "connect", extensions.configure_sqlite),
        (Engine, "connect", sql_time.add_sqlite_functions),
        (Engine, "connect", extensions.configure_postgresql),
        (Engine, "begin", extensions.sqlite_begin),
        # Guards refusing changes to records that never change; each looks at its own rows only.
        (Session, "before_flush", append_only.refuse_changes_to_append_only_rows),
        (Session, "before_flush", audit_models.refuse_audit_changes),
        (Session, "before_flush", protocols_models.refuse_snapshot_changes),
        (Session, "before_flush", experience_models.refuse_changes_to_signed_sessions),
        (Session, "before_flush", notes_signed_guard.refuse_changes_to_signed_notes),
        (Session, "before_flush", plans_signed_guard.refuse_changes_to_signed_plans),
        (Session, "before_flush", discharge_signed_guard.refuse_changes_to_signed_summaries),
        (Session, "before_flush", safety_plans_guard.refuse_changes_to_signed_safety_plans),
        # Digests of the records that are kept as written, stamped however the row is created.
        (Mapper, "before_insert", append_only.digest_at_creation),
        # The stored integration windows: note the courses a flush changed, forget them at the end.
        (Session, "after_flush", window_store.note_changed_courses),
        (Session, "after_transaction_end", window_store.forget_changed_courses),
        # The appointments a flush booked, moved, cancelled or settled: announced at commit.
        (Session, "after_flush", booking_events.note_changed_appointments),
        (Session, "after_transaction_end", booking_events.forget_changed_appointments),
        # The audit chain's queue: drop what a rolled-back savepoint or transaction recorded.
        (Session, "after_soft_rollback", chain.drop_rolled_back),
        (Session, "after_transaction_end", chain.drop_unchained),
        # At commit, in this order: the appointments changed are announced to what follows them
        # (reminders, invitations: their deliveries commit with the change);
        # the windows rewrite flushes and writes (locking course rows);
        # then the audit chain takes its head lock, which must be the transaction's LAST lock
        # (audit/chain.py: an earlier one would let two commits wait on each other).
        (Session, "before_commit", booking_events.announce_on_commit),
        (Session, "before_commit", window_store.rewrite_on_commit),
        (Session, "before_commit", chain.chain_on_commit),
        # Once committed, the deliveries a transaction queued get their jobs (messaging/queue.py);
        # a rolled-back transaction's are forgotten.
        (Session, "after_commit", message_queue.enqueue_committed),
        (Session, "after_rollback", message_queue.forget_rolled_back),
    ])


def register_extensions(app: Flask) -> None:
    db.init_app(app)
    migrate.init_app(app, db, directory=str(shipped_folder("migrations")))
    csrf.init_app(app)
    login_manager.init_app(app)
    login_manager.login_view = "accounts.login"
    # Our own server-side session check replaces Flask-Login's IP/agent heuristics.
    login_manager.session_protection = None
    from . import models  # noqa: F401  (all tables on the metadata)
    from .accounts.sessions import load_user

    login_manager.user_loader(load_user)


def register_blueprints(app: Flask) -> None:
    from .accounts.views import bp as accounts_bp
    from .audit.views import bp as audit_bp
    from .calendars.views import bp as calendars_bp
    from .clinic_settings.views import bp as clinic_settings_bp
    from .coordination.views import bp as coordination_bp
    from .discharge.views import bp as discharge_bp
    from .fhir.views import bp as fhir_bp
    from .home.views import bp as home_bp
    from .imports.views import bp as imports_bp
    from .courses.views import bp as courses_bp
    from .experience.views import bp as experience_bp
    from .messaging.views import bp as messaging_bp
    from .mfa.views import bp as mfa_bp
    from .notes.views import bp as notes_bp
    from .notifications.views import bp as notifications_bp
    from .outcomes.views import bp as outcomes_bp
    from .patients.views import bp as patients_bp
    from .plans.views import bp as plans_bp
    from .practices.views import bp as practices_bp
    from .protocols.views import bp as protocols_bp
    from .record_access.views import bp as record_access_bp
    from .reminders.views import bp as reminders_bp
    from .safety_plans.views import bp as safety_plans_bp
    from .scheduling.views import bp as scheduling_bp
    from .telehealth.views import bp as telehealth_bp
    from .portal import nav as portal_nav, pages as portal_pages, recovery as portal_recovery
    from .portal import journal_pages as portal_journal, practice_pages as portal_practices
    from .portal import questionnaire_pages as portal_questionnaires
    from .portal import sign_in as portal_sign_in, staff as portal_staff, step_pages as portal_steps
    from .portal import idle as portal_idle, record_pages as portal_record
    from .portal import form_pages as portal_forms, tablet
    from . import pages

    for bp in (home_bp, accounts_bp, patients_bp, audit_bp, protocols_bp, courses_bp, experience_bp,
               scheduling_bp, calendars_bp, notes_bp, coordination_bp, discharge_bp, mfa_bp, clinic_settings_bp,
               messaging_bp, telehealth_bp, reminders_bp, notifications_bp, practices_bp, plans_bp, safety_plans_bp,
                imports_bp,
                fhir_bp,
                outcomes_bp, portal_sign_in.bp, portal_pages.bp,
                portal_staff.bp, portal_questionnaires.bp, portal_practices.bp, portal_steps.bp, portal_idle.bp,
                record_access_bp, portal_record.bp, portal_forms.bp, tablet.bp):
        app.register_blueprint(bp)
    # the portal's pages of later features: their menu items, and the pages whose answers a timed-out
    # session keeps (portal/nav.py, portal/recovery.py)
    portal_nav.add_item("portal_forms.forms", "Forms to sign", order=10, count=portal_forms.menu_count)
    portal_recovery.keep_text_of(portal_forms.FORM_ENDPOINT)
    portal_nav.add_item("portal_questionnaires.questionnaires", "Questionnaires", order=20)
    portal_recovery.keep_text_of(portal_questionnaires.FORM_ENDPOINT)
    portal_nav.add_item("portal_practices.practices", "Practices", order=40)
    portal_nav.add_item("portal_steps.steps", "Action steps", order=50)
    portal_nav.add_item("portal_record.record", "Your record", order=90)
    portal_recovery.keep_text_of("portal_practices.practice", "portal_steps.step")
    portal_journal.register(app)  # the portal's journal: its pages, menu item and the text a timeout keeps
    pages.register(app)  # the composite pages, under their blueprints' endpoint names


def register_hooks() -> None:
    """Where a lower package asks a higher one or reacts to its event (README, Architecture),
    each once per process."""
    from .audit.services import record_refused_change
    from .bookings.events import appointments_changed
    from .coordination.received import find_received_with
    from .courses.services import (count_dosing_with, course_ended, course_enrolled, derive_form_items_with,
                                   derive_items_with, find_unsigned_forms_with)
    from .discharge.received import copies_received
    from .experience.record_notes import documented_with, link_notes_with
    from .experience.services import count_signed_dosing_sessions
    from .messaging.queue import run_periodically
    from .messaging.services import look_before_sending
    from .notes.baselines import measured_baselines
    from .notes.checklist import documented_preparation
    from .notes.dosing_notes import documented, record_link
    from .notes.safety import alert_raised
    from .notifications import digests
    from .notifications.alerts import notify_alert
    from .patients.care_team import check_departures_with
    from .accounts.events import video_room_changed
    from .patients.events import contact_changed
    from .portal import invitations as portal_invitations
    from .reminders import follow as reminders_follow
    from .reminders.invitations import send_invitations
    from .reminders import sweep as reminder_sweep
    from .plans.services import review_words
    from .scheduling.services import bookings_ahead, release_ended_course
    from .signed_forms.checklist import forms_to_sign, signed_form_evidence
    from .signed_forms.services import packet_on_enrolment
    from .scheduling.worklist import find_plan_reviews_with
    from .telehealth.services import template_changed

    # who may leave a care team depends on their bookings
    check_departures_with(bookings_ahead)
    # a write an append-only guard refused (answered 409) is audited
    lifecycle.change_refused.connect(record_refused_change)
    # a prescriber finds the discharge summaries sent to them where they find their reports
    find_received_with(copies_received)
    # the staff worklist lists the live courses whose treatment plan is missing or due for review
    find_plan_reviews_with(review_words)
    # a course's phase gates count its signed dosing sessions
    count_dosing_with(count_signed_dosing_sessions)
    # a course's checklist items are met by records: its baselines by measures dated before the
    # first dose; its preparation sessions, intentions, set-and-setting plan and support person by
    # signed preparation notes; its consent and intake by signed forms where its protocol names forms
    derive_items_with(measured_baselines, documented_preparation)
    derive_form_items_with(signed_form_evidence)
    # the preparation gate waits for the forms the course's protocol names, each signed (issue 26)
    find_unsigned_forms_with(forms_to_sign)
    # a course that ends releases what was planned and booked on it
    course_ended.connect(release_ended_course)
    # a new course asks for the intake and consent forms its protocol names (its packet)
    course_enrolled.connect(packet_on_enrolment)
    # a session booked, moved or cancelled sends the patient its invitation (or its cancellation)
    appointments_changed.connect(send_invitations)
    # a dosing record shows the dosing-session note a therapist present at the dose wrote about it
    link_notes_with(record_link)
    # a dose a signed dosing-session note documents was given: it is neither cancelled nor moved
    documented_with(documented)
    # an urgent safety alert is emailed at once to the on-call address and the patient's clinicians
    alert_raised.connect(notify_alert)
    # each user's daily summary, at the time they chose: the worker looks every five minutes
    run_periodically(digests.JOB, digests.SCHEDULE, digests.run)
    # an appointment booked, moved, cancelled or settled brings its reminders in line (queued,
    # withdrawn) in the same transaction; the worker sweeps for reminders coming due every 5 minutes
    appointments_changed.connect(reminder_sweep.follow_appointments)
    run_periodically("sweep_reminders", reminder_sweep.SCHEDULE, reminder_sweep.periodic_sweep)
    # the worker's last look before a reminder or an invitation goes: its session still ahead and booked
    look_before_sending(reminder_sweep.too_late)
    # a waiting message follows what it says: the patient's address changed or removed, the patient
    # archived (withdrawn) or restored (queued again); a clinician's video room or the clinic's
    # template changed (the telehealth sessions' reminders and invitations rebuilt with the new link)
    contact_changed.connect(reminders_follow.follow_patient)
    # a patient archived has no portal access: waiting invitation links revoked, sessions ended
    contact_changed.connect(portal_invitations.follow_patient)
    video_room_changed.connect(reminders_follow.follow_video_room)
    template_changed.connect(reminders_follow.follow_video_template)


def register_second_step(app: Flask) -> None:
    """Sign-in asks two-step sign-in (mfa, above accounts) what a right password opens."""
    from .accounts import second_step
    from .mfa.services import enrolled_user_ids, sign_in_stage

    second_step.use(app, second_step.SecondStep(stage_for=sign_in_stage, enrolled_user_ids=enrolled_user_ids))


def register_access(app: Flask) -> None:
    from .accounts.sessions import pending_sign_in
    from .audit.services import denial
    from .notes.recovery import keep_if_timed_out
    from .patients.access import patient_exists
    from .portal import sessions as portal_sessions, tablet

    access.register(app, access.AccessCollaborators(
        pending_sign_in=pending_sign_in, keep_timed_out_submission=keep_if_timed_out,
        record_denial=denial, patient_exists=patient_exists,
        # the patient portal's pages are checked against its own sessions, which a refused staff
        # page does not end (portal/sessions.py)
        portal_check=portal_sessions.check_portal_request,
        kept_keys=portal_sessions.COOKIE_KEYS,
        # a browser handed to a patient for an in-clinic signing reaches the tablet's pages only
        tablet_check=tablet.check))
    # After the access check, so that the refusal is audited with who sent it.
    app.before_request(lifecycle.refuse_unexpected_body)
    # After the access check (only an admitted request's upload is read), which then commits the
    # request's transaction so that the upload is read holding no lock (lifecycle.before_transaction).
    app.before_request(lifecycle.run_before_transaction)


def _kept(draw):
    """`draw` (a heroicons function) with its drawings kept by name, size and attributes: a few
    dozen icons in a few shapes, the same markup every time."""
    @lru_cache(maxsize=1024)
    def drawn(name: str, size: int, attrs: tuple):
        return draw(name, size=size, **dict(attrs))

    def kept(name: str, *, size: int, **attrs):
        return drawn(name, size, tuple(attrs.items()))
    return kept


def register_templates(app: Flask) -> None:
    from heroicons.jinja import heroicon_micro, heroicon_mini

    from .accounts.models import ROLE_LABELS, ROLES
    from .domain.coverage import OUTCOMES
    from .domain.protocols import PREPARATION_ITEMS
    from .domain.vitals import READINGS
    from .experience.models import SETTING_LABELS, VITAL_SOURCES, VITAL_TIMEPOINTS
    from .db.clinic_time import format_clock, format_duration, format_local, format_local_day
    from .db.signed_records import draft_started_by
    from .home.waiting import menu_badge
    from .portal import nav as portal_nav
    from .safety_plans.services import plan_states

    app.jinja_env.filters["localtime"] = format_local
    app.jinja_env.filters.update(localday=format_local_day, localclock=format_clock)  # the portal's days and times
    app.jinja_env.filters["duration"] = format_duration
    app.jinja_env.filters["draft_started_by"] = draft_started_by
    app.jinja_env.globals.update(preparation_labels=PREPARATION_ITEMS, vital_labels=VITAL_TIMEPOINTS,
                                 setting_labels=SETTING_LABELS, vital_sources=VITAL_SOURCES,
                                 reading_words=READINGS, outcome_labels=OUTCOMES)
    app.jinja_env.filters["role_names"] = lambda names: ", ".join(
        ROLE_LABELS[r] for r in ROLES if r in names)
    app.jinja_env.globals.update(role_labels=ROLE_LABELS)
    # every page showing a safety signal (a risk screen, an alert) links to the patient's safety plan:
    # their states in one call per page, whatever the number of alerts (templates/safety_plans/_link.html)
    app.jinja_env.globals.update(safety_plan_states=plan_states)
    # icons drawn as inline SVG from the heroicons package (templates/_icons.html): the solid sets
    # drawn for 20 and 16 px, beside text of that size; each drawing kept once made (the package
    # parses and serialises the SVG on every call: 50 µs, a worklist draws hundreds)
    app.jinja_env.globals.update(heroicon_mini=_kept(heroicon_mini), heroicon_micro=_kept(heroicon_micro))
    # where templates compiled by another app of this process or another process are kept (a jinja2
    # BytecodeCache; none by default): the test suite's apps, each of which would compile every page's
    # templates again. An entry holds its source's checksum: a changed template is compiled anew.
    app.jinja_env.bytecode_cache = app.config.get("TEMPLATE_BYTECODE_CACHE")

    @app.context_processor
    def clinic_context():
        return {"clinic_name": app.config["CLINIC_NAME"],
                "clinic_timezone": app.config["CLINIC_TIMEZONE"]}

    # the menu's count of what waits on the signed-in user: called by base.html, so only pages that
    # show the menu work it out (home/waiting.py)
    app.jinja_env.globals.update(waiting_badge=menu_badge)
    # the patient portal's menu: a registry later features append to (portal/nav.py)
    app.jinja_env.globals.update(portal_nav=portal_nav.items)


def register_cli(app: Flask) -> None:
    from .cli import register_commands

    register_commands(app)
