"""The demo's signed forms: a course's packet signed on the clinic tablet the day preparation began, each
answer a plausible one no flag names (issue 26's states of every kind are the forms demo's)."""
from __future__ import annotations

from datetime import date, datetime, time

from ..accounts.models import User
from ..courses.models import TreatmentCourse
from ..db.clinic_time import clinic_zone
from ..domain.form_answers import sample_answers
from ..signed_forms.services import packet_status, sign_form
from ..signed_forms.status import SIGNED


def sign_packet_in_clinic(course: TreatmentCourse, witness: User, day: date) -> None:
    """Every form of the course's packet still to sign, signed at 10:00 on `day` with `witness` handing over
    the tablet (nothing when the course's protocol names no forms)."""
    status = packet_status(course)
    if status is None:
        return
    signed_at = datetime.combine(day, time(10), clinic_zone())
    for item in status.items:
        if item.state == SIGNED or item.form is None:
            continue
        sign_form(course, item.form_id, raw_answers=sample_answers(item.form), typed_name=course.patient.full_name,
                  agreed=True, method="in_clinic", witness=witness, now=signed_at)
