"""What features that write to patients hear when a patient's contact changes: the email or phone
edited, the record archived or restored (reminders bring the patient's waiting messages in line).
Sent by the services that make the change, after their flush, inside the transaction: what the
receivers write commits with the change or not at all."""
from __future__ import annotations

from blinker import Namespace

signals = Namespace()
#: sender: the patient's id
contact_changed = signals.signal("patient-contact-changed")
