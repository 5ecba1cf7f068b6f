"""The discharge summary copies a prescriber received, for the lists where they find their reports
(coordination.received asks, through create_app)."""
from __future__ import annotations

from flask import url_for
from sqlalchemy import Select, select
from sqlalchemy.orm import joinedload

from ..accounts.models import User
from ..coordination.received import ReceivedDocument
from ..extensions import db
from .models import DischargeCopy

#: the copies a list shows at most (the worklist's reports stop at 20 too)
MOST = 20


def copies_received(user: User, patients: Select, course_id: int | None = None) -> list[ReceivedDocument]:
    """The copies sent to `user` about patients of `patients` (a subquery of ids), of one course when
    given, newest first: one statement (patient and sender joined, the PDF left unread)."""
    query = select(DischargeCopy).where(DischargeCopy.recipient_id == user.id, DischargeCopy.patient_id.in_(patients))
    if course_id is not None:
        query = query.where(DischargeCopy.course_id == course_id)
    copies = db.session.scalars(query.order_by(DischargeCopy.created_at.desc(), DischargeCopy.id.desc())
                                .limit(MOST).options(joinedload(DischargeCopy.patient))).all()
    return [ReceivedDocument(kind="Discharge summary", patient=c.patient, course_id=c.course_id,
                             sender=c.created_by.display_name, created_at=c.created_at,
                             url=url_for("discharge.copy_pdf", copy_id=c.id)) for c in copies]
