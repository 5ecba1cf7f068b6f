"""Demo reminder settings and patients' contact consent: most patients consented to email at
intake, some to text messages too, one opted out of everything, a few were never asked.
Fictional throughout (555-01xx numbers, an invented street)."""
from __future__ import annotations

from ..accounts.models import User
from ..patients.models import Patient
from ..reminders.consent import opt_out_of_everything, record_consent
from ..reminders.rules import save_reminder_settings

SETTINGS = {"sender": "Harbor Light", "quiet_hours": "21:00-08:00",
            "clinic_address": "120 Lantern Quay, Suite 3, Harborview", "clinic_phone": "(555) 0100",
            "rules": {"preparation": {"offsets": "48h", "channels": ["email"]},
                      "dosing": {"offsets": "48h, 2h", "channels": ["email", "sms"],
                                 "wording": "your extended appointment"},
                      "integration": {"offsets": "24h, 2h", "channels": ["email", "sms"]},
                      "follow_up": {"offsets": "48h", "channels": ["email"], "wording": "your check-in"}}}


def load_demo_reminders(users: dict[str, User], patients: list[Patient]) -> None:
    save_reminder_settings(SETTINGS, by_id=users["admin"].id)
    desk = users["staff1"]
    for i, patient in enumerate(patients):
        if i % 6 == 5:
            continue  # never asked: nothing is sent
        record_consent(patient, channel="email", granted=True, method="written_form", by=desk)
        if i % 3 == 0:
            record_consent(patient, channel="sms", granted=True, method="phone", by=desk)
        if i % 6 == 4:
            record_consent(patient, channel="sms", granted=False, method="in_person", by=desk)
    # a patient who asked for no messages at all, after first agreeing to email
    opt_out_of_everything(patients[7], method="phone", by=users["staff2"])
