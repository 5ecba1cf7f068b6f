"""Issue 22, point 3: the patient page lists the messages sent (or to be sent) to the patient, newest
first: when, how, what for and what became of each, the recipient partly hidden and never the text;
for whoever may see the page, in a number of statements that does not grow with the history."""
from __future__ import annotations

import re
from datetime import timedelta

import pytest

from ketamine_integration.db.types import utcnow
from ketamine_integration.extensions import db
from ketamine_integration.messaging import services
from ketamine_integration.messaging.history import fetch_patient_messages
from ketamine_integration.messaging.models import FAILED, SENT, SMS
from tests.conftest import page_text
from tests.statements import page_statements

SECRET_WORDS = "Your session is on Friday at 10:00"


def _history(make, patient: int, *, extra: int = 0) -> None:
    """One message in each state, the newest due last; `extra` more sent ones before them."""
    start = utcnow() - timedelta(days=10)

    def build():
        for n in range(extra):
            sent = services.queue_email(f"t:{patient}:old:{n}", "jane.doe@example.org", "s", SECRET_WORDS,
                                        purpose="reminder", patient_id=patient, send_at=start - timedelta(days=n + 1))
            sent.status, sent.sent_at, sent.content = SENT, sent.scheduled_for, None
        sent = services.queue_email(f"t:{patient}:sent", "jane.doe@example.org", "s", SECRET_WORDS,
                                    purpose="invitation", patient_id=patient, send_at=start)
        sent.status, sent.sent_at, sent.content = SENT, start + timedelta(minutes=1), None
        failed = services.queue_sms(f"t:{patient}:failed", "(555) 010-0123", SECRET_WORDS, purpose="reminder",
                                    patient_id=patient, send_at=start + timedelta(days=1))
        failed.status, failed.content = FAILED, None
        failed.last_error = "SMS provider 400: The number +15550100123 is not a mobile number."
        services.record_opted_out(f"t:{patient}:opted-out", channel=SMS, purpose="reminder",
                                  recipient="+15550100123", patient_id=patient, now=start + timedelta(days=2))
        services.queue_email(f"t:{patient}:withdrawn", "jane.doe@example.org", "s", SECRET_WORDS,
                             purpose="reminder", patient_id=patient, send_at=start + timedelta(days=3))
        services.withdraw_deliveries([services.fetch_delivery(f"t:{patient}:withdrawn")])
        services.queue_email(f"t:{patient}:waiting", "jane.doe@example.org", "s", SECRET_WORDS,
                             purpose="reminder", patient_id=patient, send_at=utcnow() + timedelta(days=1))
    make.run(build)


def _messages_section(html: str) -> str:
    return re.search(r'<section aria-labelledby="messages-heading">.*?</section>', html, re.S).group(0)


def test_the_patient_page_lists_the_patients_messages_newest_first_without_their_text(app, make, auth, client):
    patient = make.patient(mrn="KI-000022", email="jane.doe@example.org", phone="(555) 010-0123")
    other = make.patient()
    _history(make, patient)
    _history(make, other)
    make.user("staff", username="desk")
    auth.sign_in("desk")
    response = client.get(f"/patients/{patient}")
    assert response.status_code == 200
    section = _messages_section(response.get_data(as_text=True))
    rows = [" ".join(page_text_of(row).split()) for row in re.findall(r"<tr>.*?</tr>", section, re.S)][1:]
    assert rows == [
        _row("Email", "Appointment reminder", "Waiting to be sent", "j•••@example.org"),
        _row("Email", "Appointment reminder", "Withdrawn", "j•••@example.org"),
        _row("Text", "Appointment reminder", "Not sent: opted out", "•••0123"),
        # the provider's answer named the number: hidden there too
        _row("Text", "Appointment reminder", "Failed : SMS provider 400: The number •••0123 is not a mobile number.",
             "•••0123"),
        _row("Email", "Appointment invitation", "Sent", "j•••@example.org"),
    ]
    assert "Messages (5)" in section
    assert SECRET_WORDS not in section and "jane.doe@" not in section and "+15550100123" not in section
    # each status a word in a badge with its icon, never colour alone
    assert section.count('class="status-badge') == 5 and section.count("<svg") >= 5
    [view] = make.audit_rows(action="patient.view", patient_id=patient)
    assert view.outcome == "success"


def _row(channel: str, purpose: str, status: str, to: str) -> tuple[str, str, str, str]:
    return " ".join([channel, purpose, status, to])


def page_text_of(fragment: str) -> str:
    """A row's words after its time: tags dropped, the time cell left out."""
    cells = re.findall(r"<td[^>]*>(.*?)</td>", fragment, re.S)[1:]
    return " ".join(re.sub(r"<[^>]+>", " ", cell) for cell in cells)


def test_a_patient_without_messages_says_so(app, make, auth, client):
    patient = make.patient()
    make.user("staff", username="desk")
    auth.sign_in("desk")
    text = page_text(client.get(f"/patients/{patient}"))
    assert "Messages (0)" in text and "No messages sent or waiting." in text


def test_the_history_is_bounded_and_counts_every_message(app, make):
    patient = make.patient()
    _history(make, patient, extra=3)
    lines, total = make.query(lambda: fetch_patient_messages(patient, limit=4))
    assert total == 8 and [line.status for line in lines] == [
        "Waiting to be sent", "Withdrawn", "Not sent: opted out", "Failed"]


@pytest.mark.parametrize("who, status", [
    ("staff", 200),          # staff see every patient's page
    ("team", 200),           # the patient's therapist
    ("stranger", 403),       # a therapist not on the care team: the page, messages included, is refused
])
def test_the_messages_follow_the_patient_pages_access(app, make, auth, client, who, status):
    therapist = make.user("therapist", username="team")
    make.user("therapist", username="stranger")
    make.user("staff", username="staff")
    patient = make.patient(therapists=[therapist])
    _history(make, patient)
    auth.sign_in(who)
    response = client.get(f"/patients/{patient}")
    assert response.status_code == status
    assert ("Messages (5)" in page_text(response)) == (status == 200)


@pytest.mark.both_engines
def test_the_patient_page_costs_the_same_statements_however_long_the_history(app, make, auth, client):
    patient = make.patient()
    make.user("staff", username="desk")
    make.run(lambda: services.queue_email("t:one", "a@example.org", "s", "b", purpose="reminder", patient_id=patient))
    auth.sign_in("desk")
    one = page_statements(app, client, f"/patients/{patient}")
    _history(make, patient, extra=60)  # past the page's limit: listed 50, counted all
    assert page_statements(app, client, f"/patients/{patient}") == one
    text = page_text(client.get(f"/patients/{patient}"))
    assert "Messages (66)" in text and "the newest 50 are listed" in text
