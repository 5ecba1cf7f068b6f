"""flask commands: init-db, demo, create-user, reset-authenticator, settings-table, worker; feature packages add their own groups
(protocols, techniques, forms, signatures, audit, backup, restore, export, import)."""
from __future__ import annotations

import click
from flask import Flask
from flask.cli import with_appcontext
from flask_migrate import upgrade
from sqlalchemy import func, select

from .accounts.models import LICENCE_TYPES, ROLES, User
from .accounts.services import create_user, role_change_detail
from .audit import services as audit
from .audit.cli import audit_cli
from .backups.cli import backup_cli, restore_command
from .config import settings_table
from .db.errors import DomainError
from .db.types import utcnow
from .extensions import db
from .imports.cli import import_cli
from .messaging.cli import worker_command
from .mfa.services import enrolled_user_ids, reset_authenticator
from .discharge.services import verify_signed_summaries
from .notes.cli import register_signed_records, signatures_cli
from .experience.window_store import windows_cli
from .fhir.cli import export_cli
from .protocols.cli import forms_cli, protocols_cli, techniques_cli
from .reminders.cli import reminders_cli
from .signed_forms.integrity import verify_countersignatures, verify_flag_reviews, verify_packets, verify_signed_forms
from .domain.text import written_length


def register_commands(app: Flask) -> None:
    app.cli.add_command(init_db_command)
    app.cli.add_command(demo_command)
    app.cli.add_command(create_user_command)
    app.cli.add_command(reset_authenticator_command)
    app.cli.add_command(protocols_cli)
    app.cli.add_command(techniques_cli)
    app.cli.add_command(forms_cli)
    app.cli.add_command(signatures_cli)
    register_signed_records("discharge summary", "discharge summaries", verify_signed_summaries)
    register_signed_records("signed form", "forms", verify_signed_forms, "signed_forms")
    register_signed_records("form countersignature", "form countersignatures", verify_countersignatures,
                            "form_countersignatures")
    register_signed_records("form flag review", "form flag reviews", verify_flag_reviews, "form_flag_reviews")
    register_signed_records("form packet", "form packets", verify_packets, "form_packets")
    app.cli.add_command(backup_cli)
    app.cli.add_command(restore_command)
    app.cli.add_command(audit_cli)
    app.cli.add_command(windows_cli)
    app.cli.add_command(settings_table_command)
    app.cli.add_command(worker_command)
    app.cli.add_command(reminders_cli)
    app.cli.add_command(import_cli)
    app.cli.add_command(export_cli)


@click.command("settings-table")
def settings_table_command():
    """Print README's table of environment variables, from the settings model."""
    click.echo(settings_table())


@click.command("init-db")
@with_appcontext
def init_db_command():
    """Create or upgrade the database schema to the newest migration."""
    upgrade()
    click.echo("Database is at the newest migration.")


@click.command("demo")
@with_appcontext
@click.option("--if-empty", is_flag=True, help="Do nothing when the database already has users.")
def demo_command(if_empty: bool):
    """Load the fictional demo clinic and print its logins."""
    from .demo.clinic import DEMO_PASSWORD, DEMO_USERS, load_demo_clinic

    has_users = db.session.scalar(select(func.count()).select_from(User)) > 0
    if has_users and if_empty:
        click.echo("Database already has users; demo clinic not loaded.")
    elif has_users:
        raise click.ClickException("The database already has users; the demo needs an empty one "
                                   "(use --if-empty to skip quietly).")
    else:
        load_demo_clinic(now=utcnow())
        db.session.commit()
        click.echo("Loaded the fictional demo clinic.")
    names = [username for username, *_ in DEMO_USERS]
    users = db.session.scalars(select(User).where(User.username.in_(names)).order_by(User.id)).all()
    if users:
        click.echo(f"\nDemo logins (password for all: {DEMO_PASSWORD}):")
    enrolled = enrolled_user_ids()
    for user in users:
        second = "then the code from its authenticator app" if user.id in enrolled else \
            "first sign-in sets up an authenticator app"
        click.echo(f"  {user.username:<14} {', '.join(sorted(user.roles)):<12} {second}")
    if users and len(enrolled) < len(users):
        click.echo("\nTwo-step sign-in: a demo user's first sign-in walks through setting up an authenticator\n"
                   "app (scan the QR code or type the key shown, then type the app's code) and shows\n"
                   "recovery codes to keep; later sign-ins ask for the app's code after the password.")
    _echo_portal_logins()


def _echo_portal_logins() -> None:
    from .demo.portal import PORTAL_PASSWORD, demo_portal_logins

    logins = demo_portal_logins(utcnow())
    if logins:
        click.echo(f"\nPatient portal (/portal/sign-in; password for all: {PORTAL_PASSWORD}):")
        for email, enrolled, shows in logins:
            click.echo(f"  {email:<34} {'then its code' if enrolled else 'chooses a second step at the first visit'}")
            click.echo(f"    shows {shows}")
    if any(not enrolled for _, enrolled, _ in logins):
        click.echo("A patient's second step is an authenticator app (a QR code, as for staff) or a code\n"
                   "emailed to them (written to instance/outbox/ in development).")
    _echo_forms_patients()


def _echo_forms_patients() -> None:
    from .demo.portal import forms_to_see

    found = forms_to_see()
    if found:
        click.echo("\nIntake and consent forms to see (staff: the patient page's \"Forms\" link on the course row):")
        for name, words in found:
            click.echo(f"  {name:<24} {words}")


@click.command("create-user")
@with_appcontext
@click.option("--username", prompt=True)
@click.option("--full-name", prompt=True)
@click.option("--role", "roles", multiple=True, required=True, type=click.Choice(ROLES),
              help="Repeat for several roles.")
@click.option("--licence-type", default="", type=click.Choice(["", *LICENCE_TYPES]),
              help="The clinical licence held, e.g. MD, RN, LCSW.")
@click.option("--credentials", default="", help="Further credentials shown after it, e.g. PMHNP-BC")
@click.password_option()
def create_user_command(username, full_name, roles, licence_type, credentials, password):
    """Create a user account (e.g. the first admin of a new clinic)."""
    try:
        user = create_user(username=username, full_name=full_name, password=password, roles=roles,
                           licence_type=licence_type or None, credentials=credentials or None)
    except DomainError as err:
        raise click.ClickException(str(err)) from None
    # Roles granted from the command line are listed on the Users page like any other
    # ("the command line" changed them): a grant of access is never off the record.
    audit.record("user.create", obj=user, detail=role_change_detail((), user.roles))
    db.session.commit()
    click.echo(f"Created {user.username} ({', '.join(sorted(user.roles))}).")


@click.command("reset-authenticator")
@with_appcontext
@click.argument("username")
@click.option("--reason", required=True, help="Kept in the audit log, e.g. 'only admin lost phone'.")
def reset_authenticator_command(username, reason):
    """Clear a user's authenticator (e.g. the only admin lost their phone and recovery codes)."""
    user = db.session.scalar(select(User).where(User.username == username.strip().lower()))
    if user is None:
        raise click.ClickException(f"No user {username!r}.")
    if written_length(reason) < 10:
        raise click.ClickException("Give a reason of at least 10 characters.")
    try:
        reset_authenticator(user, by=None)
    except DomainError as err:
        raise click.ClickException(str(err)) from None
    audit.record("user.mfa_reset", obj=user, detail=f"command line: {reason.strip()}"[:200])
    db.session.commit()
    click.echo(f"Authenticator reset for {user.username}; they set up a new one at their next sign-in.")
