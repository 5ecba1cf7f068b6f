"""Each user's daily summary email, at the clinic time they chose (their notifications page): how
many windows close with nothing booked, sessions wait for an outcome, notes wait to be signed, each
with its link, counted as their home page counts them (home.waiting.summary_counts). Counts and
links only: no patient, no clinical word. A user with nothing to report gets no email; one with no
email address, none either.

A periodic job of the worker (every five minutes) looks at each user whose time has come once per
clinic day (users.digest_last_day), across a change of clock too (domain/staff_messages.py); the
delivery key `digest:user:<id>:<clinic date>` sends at most one a day whatever runs twice.
"""
from __future__ import annotations

from datetime import datetime

from flask import Flask, url_for
from huey import crontab
from sqlalchemy import or_, select

from ..accounts.models import User
from ..db.clinic_time import clinic_zone
from ..domain.staff_messages import DigestLine, digest_due, digest_message
from ..extensions import db
from ..home.waiting import BY_KEY, SUMMARY_KINDS, summary_counts
from ..messaging.services import queue_email
from .links import linking_context

PURPOSE = "digest"
#: the worker's periodic job (messaging.queue.run_periodically, from create_app)
JOB = "daily_summaries"
#: how often it looks: a summary goes at most five minutes after its time
SCHEDULE = crontab(minute="*/5")


def digest_key(user_id: int, day) -> str:
    return f"digest:user:{user_id}:{day.isoformat()}"


def due_users(now: datetime) -> list[tuple[User, object]]:
    """The users whose summary is due at `now`, each with the clinic date it is for: active, with an
    email address and a time chosen, today's not looked at yet and its time come. One statement."""
    zone = clinic_zone()
    today = now.astimezone(zone).date()
    candidates = db.session.scalars(select(User).where(
        User.active.is_(True), User.digest_at.is_not(None), User.email.is_not(None), User.email != "",
        or_(User.digest_last_day.is_(None), User.digest_last_day < today)).order_by(User.id)).all()
    found = []
    for user in candidates:
        day = digest_due(now, user.digest_at, zone, user.digest_last_day)
        if day is not None:
            found.append((user, day))
    return found


def queue_due_digests(now: datetime) -> int:
    """Queue the summaries due at `now` (url_for must build absolute links: linking_context); each
    due user is marked looked at for the day, with or without an email. Flushes; how many queued."""
    due = due_users(now)
    counts = summary_counts([user for user, _ in due], now)
    settings_link = url_for("notifications.account_notifications", _external=True)
    queued = 0
    for user, day in due:
        mine = counts[user.id]
        lines = [DigestLine(mine[key], BY_KEY[key].words(mine[key]), BY_KEY[key].link(user))
                 for key in SUMMARY_KINDS if key in mine]
        message = digest_message(day=day, lines=lines, settings_link=settings_link)
        if message is not None:
            queue_email(digest_key(user.id, day), user.email, message.subject, message.body, purpose=PURPOSE,
                        user_id=user.id)
            queued += 1
        user.digest_last_day = day
    db.session.flush()
    return queued


def run(app: Flask, now: datetime) -> None:
    """The periodic job: the summaries due now, committed (their emails are sent once it commits)."""
    with linking_context(app):
        queue_due_digests(now)
        db.session.commit()
