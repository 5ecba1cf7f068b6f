"""Ketamine integration protocol manager: the Flask application factory."""
from __future__ import annotations

import os
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
    if config:
        app.config.update(config)
    Path(app.instance_path).mkdir(parents=True, exist_ok=True)
    register_extensions(app)
    lifecycle.register_converters(app)
    register_blueprints(app)
    register_hooks()
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


def register_extensions(app: Flask) -> None:
    db.init_app(app)
    migrate.init_app(app, db, directory=str(shipped_folder("migrations")))
    csrf.init_app(app)
    login_manager.init_app(app)
    login_manager.login_view = "accounts.login"
    # Our own server-side session check replaces Flask-Login's IP/agent heuristics.
    login_manager.session_protection = None
    from . import models  # noqa: F401  (all tables on the metadata)
    from .accounts import sessions  # noqa: F401  (registers the user_loader)


def register_blueprints(app: Flask) -> None:
    from .accounts.views import bp as accounts_bp
    from .audit.views import bp as audit_bp
    from .calendars.views import bp as calendars_bp
    from .coordination.views import bp as coordination_bp
    from .home.views import bp as home_bp
    from .courses.views import bp as courses_bp
    from .experience.views import bp as experience_bp
    from .mfa.views import bp as mfa_bp
    from .notes.views import bp as notes_bp
    from .patients.views import bp as patients_bp
    from .protocols.views import bp as protocols_bp
    from .scheduling import availability_views  # noqa: F401  (routes on the scheduling blueprint)
    from .scheduling.views import bp as scheduling_bp

    for bp in (home_bp, accounts_bp, patients_bp, audit_bp, protocols_bp, courses_bp, experience_bp,
               scheduling_bp, calendars_bp, notes_bp, coordination_bp, mfa_bp):
        app.register_blueprint(bp)


def register_hooks() -> None:
    """Where a lower package asks a higher one: who may leave a care team depends on bookings."""
    from .patients.care_team import check_departures_with
    from .scheduling.services import bookings_ahead

    check_departures_with(bookings_ahead)


def register_access(app: Flask) -> None:
    access.allow_endpoint(app, "static", access.PUBLIC)
    app.before_request(access.enforce_access)
    # After the access check (only an admitted request's upload is read), which then commits the
    # request's transaction so that the upload is read holding no lock (lifecycle.before_transaction).
    app.before_request(lifecycle.run_before_transaction)


def register_templates(app: Flask) -> None:
    from .accounts.models import ROLE_LABELS, ROLES
    from .domain.protocols import PREPARATION_ITEMS
    from .experience.models import VITAL_TIMEPOINTS
    from .db.clinic_time import format_duration, format_local

    app.jinja_env.filters["localtime"] = format_local
    app.jinja_env.filters["duration"] = format_duration
    app.jinja_env.globals.update(preparation_labels=PREPARATION_ITEMS, vital_labels=VITAL_TIMEPOINTS)
    app.jinja_env.filters["role_names"] = lambda names: ", ".join(
        ROLE_LABELS[r] for r in ROLES if r in names)
    app.jinja_env.globals.update(role_labels=ROLE_LABELS)

    @app.context_processor
    def clinic_context():
        return {"clinic_name": app.config["CLINIC_NAME"],
                "clinic_timezone": app.config["CLINIC_TIMEZONE"]}


def register_cli(app: Flask) -> None:
    from .cli import register_commands

    register_commands(app)
