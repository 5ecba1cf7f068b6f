"""What features that follow appointments (reminders, patient invitations) hear: the appointments
a transaction booked, moved, cancelled or gave an outcome, once, just before it commits.

Every such change is an AppointmentChange row (models.py), whichever code made it: booking, the
dosing plan, a course ending, a correction. So listeners do not depend on each service calling
them: a flush notes the appointments whose change rows it inserted (after_flush), and at commit
`appointments_changed` is sent with their ids, inside the transaction, so what the receivers write
commits with the change or not at all. A receiver reads each appointment as it now stands (a
change made in a savepoint that was rolled back leaves the appointment as it was), and is
idempotent: it brings its own records in line with the appointment, whatever it did before.
"""
from __future__ import annotations

from blinker import Namespace
from flask import has_app_context

from .models import AppointmentChange

signals = Namespace()
#: sent at commit with sender=the sorted ids of the appointments whose history grew
appointments_changed = signals.signal("appointments-changed")

#: session.info key: ids of appointments whose change rows this transaction flushed
CHANGED = "bookings.changed_appointments"


def note_changed_appointments(session, flush_context) -> None:
    """Session after_flush listener (the session still lists what it inserted as new)."""
    ids = {row.appointment_id for row in session.new if isinstance(row, AppointmentChange)}
    if ids:
        session.info.setdefault(CHANGED, set()).update(ids)


def announce_on_commit(session) -> None:
    """Session before_commit listener: flush what is pending, then send the changed ids (again
    after a receiver's writes, should they change appointments too) and flush the receivers' rows."""
    if not has_app_context() or session.in_nested_transaction():
        return  # a savepoint released: the real commit announces
    for _ in range(3):  # a receiver does not change appointments; a bound, should one ever do
        session.flush()
        ids = session.info.pop(CHANGED, None)
        if not ids:
            return
        appointments_changed.send(sorted(ids))


def forget_changed_appointments(session, transaction) -> None:
    """Session after_transaction_end listener: the outermost transaction ended (committed or
    rolled back); what it noted is done with."""
    if transaction.parent is None:
        session.info.pop(CHANGED, None)
