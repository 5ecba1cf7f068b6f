"""Dosing session operations: plan, record, sign and lock, addenda, REMS forms."""
from __future__ import annotations

from sqlalchemy import func, select

from ..extensions import db
from .models import SIGNED, DosingSession


def count_signed_dosing_sessions(course_id: int) -> int:
    return db.session.scalar(select(func.count()).select_from(DosingSession).where(
        DosingSession.course_id == course_id, DosingSession.status == SIGNED)) or 0
