"""The patient page: the record, the patient's contact consent and portal access, courses with their
windows and their intake and consent forms, and the messages sent to the patient (above courses,
messaging, signed forms and portal)."""
from __future__ import annotations

from flask import render_template
from flask_login import current_user

from ..audit import services as audit
from ..courses.services import fetch_courses_for_patient
from ..db.types import utcnow
from ..domain.reminders import CHANNELS
from ..messaging.history import fetch_patient_messages
from ..patients.access import can_read_clinical, load_patient
from ..portal.invitations import portal_status
from ..reminders.consent import current_consents
from ..reminders.models import METHODS
from ..scheduling.after_series import course_summaries
from ..signed_forms.status import packet_statuses
from ..web import access


@access.permission("patients.read")
def patient_detail(patient_id: int):
    patient = load_patient(patient_id)
    audit.record("patient.view", obj=patient, patient_id=patient.id)
    courses = fetch_courses_for_patient(patient.id)
    messages, messages_total = fetch_patient_messages(patient.id)
    now = utcnow()
    return render_template("patients/detail.html", patient=patient,
                           clinical_access=can_read_clinical(current_user, patient),
                           exports_record=can_read_clinical(current_user, patient, "records.export"),
                           can_edit=current_user.can("patients.register"), courses=courses,
                           window_status=course_summaries([c.id for c in courses], now),
                           packets=packet_statuses(courses),
                           portal=portal_status(patient.id, now),
                           consents=current_consents(patient), channels=CHANNELS, consent_methods=METHODS,
                           messages=messages, messages_total=messages_total)


#: (endpoint, URL, view, methods), as in pages/course.py
ROUTES = (
    ("patients.patient_detail", "/patients/<id:patient_id>", patient_detail, ["GET"]),
)
