"""Issue 22, point 3: text messages leave through an SMS provider interface with one HTTP
implementation, tested against an HTTP server in this process standing in for the provider: sent
once with to, from, body and credentials; a provider in trouble (5xx, no answer in time) retried,
then the delivery failed and shown to staff; a refusal (4xx) failed at once."""
from __future__ import annotations

import base64
import json

import pytest
from sqlalchemy import select

from ketamine_integration.audit.models import AuditEvent
from ketamine_integration.config import ConfigurationError, load_config
from ketamine_integration.domain.messages import SMS_MAX_CHARACTERS, TextTooLong
from ketamine_integration.extensions import db
from ketamine_integration.messaging import services
from ketamine_integration.messaging.mailer import SendFailure
from ketamine_integration.messaging.models import FAILED, PENDING, SENT, Delivery
from ketamine_integration.messaging.queue import queue_of
from ketamine_integration.messaging.sms import MAX_ANSWER_BYTES, HttpSmsProvider
from tests.conftest import page_text
from tests.messaging_world import app_queue, running_consumer, sms_provider, wait_for

TEXT = "Harbor Light: your appointment is Fri 4 Dec at 10:00, 12 Quay Street. To change it call (555) 0100."
SENDER = "+15550100999"


def _provider(url: str, **changes) -> HttpSmsProvider:
    values = dict(url=url, sender=SENDER, country_code="1", token="secret-token", user=None, encoding="json",
                  timeout=5)
    return HttpSmsProvider(**{**values, **changes})


@pytest.fixture
def stand_in():
    with sms_provider() as (provider, url):
        yield provider, url


# -- the HTTP provider on its own ---------------------------------------------------------------

def test_a_text_is_posted_once_with_to_from_body_and_the_bearer_token(stand_in):
    provider, url = stand_in
    assert _provider(url).send("(555) 010-0123", TEXT) == "SM0000000001"
    [request] = provider.requests
    assert request.path == "/2010-04-01/Accounts/AC0001/Messages.json"
    assert request.headers["Authorization"] == "Bearer secret-token"
    assert request.headers["Content-Type"] == "application/json"
    assert request.fields() == {"to": "+15550100123", "from": SENDER, "body": TEXT}


def test_the_form_encoding_with_basic_auth_is_twilios_shape(stand_in):
    provider, url = stand_in
    _provider(url, encoding="form", user="AC0001").send("+44 7700 900123", TEXT)
    [request] = provider.requests
    assert request.headers["Authorization"] == "Basic " + base64.b64encode(b"AC0001:secret-token").decode()
    assert request.fields() == {"To": "+447700900123", "From": SENDER, "Body": TEXT}


@pytest.mark.parametrize("status, answer, permanent, reason", [
    (400, b'{"code": 21211, "message": "The To number is not valid."}', True,
     "SMS provider 400: The To number is not valid."),                   # refused: trying again cannot help
    (401, b'{"error": {"message": "Authenticate"}}', True, "SMS provider 401: Authenticate"),  # bad credentials
    (429, b"Too many requests", False, "SMS provider 429: Too many requests"),  # slow down: try later
    (500, b"", False, "SMS provider 500: no reason given"),                # the provider in trouble
    (503, b'{"detail": "maintenance"}', False, "SMS provider 503: maintenance"),
    (302, b"", True, "SMS provider 302: redirected; set KI_SMS_URL to the provider's final address"),  # not followed
])
def test_a_refusal_says_why_and_whether_to_try_again(stand_in, status, answer, permanent, reason):
    provider, url = stand_in
    provider.status, provider.answer = status, answer
    with pytest.raises(SendFailure) as failure:
        _provider(url).send("+15550100123", TEXT)
    assert (failure.value.permanent, failure.value.reason) == (permanent, reason)
    assert len(provider.requests) == 1  # a redirect is not followed (nor the token sent elsewhere)


def test_no_answer_in_time_is_retryable(stand_in):
    provider, url = stand_in
    provider.stall = 10
    with pytest.raises(SendFailure) as failure:
        _provider(url, timeout=1).send("+15550100123", TEXT)
    assert not failure.value.permanent and "TimeoutError" in failure.value.reason


def test_a_closed_port_is_retryable():
    from tests.messaging_world import free_port

    with pytest.raises(SendFailure) as failure:
        _provider(f"http://127.0.0.1:{free_port()}/messages").send("+15550100123", TEXT)
    assert not failure.value.permanent and "ConnectionRefusedError" in failure.value.reason


def test_an_answer_is_read_only_up_to_its_bound(stand_in):
    provider, url = stand_in
    provider.answer = b'{"sid": "SM1", "padding": "' + b"x" * (4 * MAX_ANSWER_BYTES) + b'"}'
    # accepted (2xx); the cut answer is not JSON any more, so the message has no id
    assert _provider(url).send("+15550100123", TEXT) == ""


@pytest.mark.parametrize("number", ["", "12", "call me", "+1 555 010 0123 4567 89"])
def test_a_number_no_text_can_reach_fails_permanently_without_a_request(stand_in, number):
    provider, url = stand_in
    with pytest.raises(SendFailure) as failure:
        _provider(url).send(number, TEXT)
    assert failure.value.permanent and failure.value.reason.startswith(("not a phone number", "no phone number"))
    assert provider.requests == []


# -- settings -------------------------------------------------------------------------------------

@pytest.mark.parametrize("environ, problem", [
    ({"KI_SMS_BACKEND": "http", "KI_SMS_FROM": SENDER}, "KI_SMS_BACKEND=http needs KI_SMS_URL"),
    ({"KI_SMS_BACKEND": "http", "KI_SMS_URL": "https://sms.example/messages"}, "needs KI_SMS_FROM"),
    ({"KI_SMS_URL": "http://sms.example/messages"}, "KI_SMS_URL must be an https:// address"),  # in clear
    ({"KI_SMS_BACKEND": "carrier-pigeon"}, "KI_SMS_BACKEND must be file, http or none"),
    ({"KI_SMS_COUNTRY_CODE": "+0044"}, "KI_SMS_COUNTRY_CODE must be 1 to 3 digits"),
])
def test_bad_sms_settings_are_refused_at_start(tmp_path, environ, problem):
    with pytest.raises(ConfigurationError, match=problem.replace("(", r"\(")):
        load_config(str(tmp_path), {"SECRET_KEY": "x" * 40, **environ})


@pytest.mark.parametrize("environ, backend", [
    ({}, "file"),                                                          # development: files
    ({"KI_ENV": "production", "AUDIT_HMAC_KEY": "ZYXWVUTSRQPONMLKJIHGFEDCBA9876543210"}, "none"),  # never files on a server
])
def test_the_sms_backend_defaults(tmp_path, environ, backend):
    config = load_config(str(tmp_path), {"SECRET_KEY": "abcdefghijklmnopqrstuvwxyz0123456789", **environ})
    assert config["KI_SMS_BACKEND"] == backend


# -- queueing -------------------------------------------------------------------------------------

def test_a_text_over_the_limit_is_refused_when_queued(app):
    with app.app_context():
        with pytest.raises(TextTooLong, match=f"at most {SMS_MAX_CHARACTERS} characters"):
            services.queue_sms("test:long", "+15550100123", "x" * (SMS_MAX_CHARACTERS + 1), purpose="reminder")
        with pytest.raises(TextTooLong):
            services.queue_sms("test:empty", "+15550100123", "  ", purpose="reminder")
        assert services.fetch_delivery("test:long") is None


# -- through the real queue -------------------------------------------------------------------------

@pytest.fixture(params=["sqlite", "redis"])
def backend(request):
    return request.param


@pytest.fixture
def sms(app, backend, tmp_path, stand_in):
    """The app texting through the stand-in provider, its queue on `backend`."""
    provider, url = stand_in
    with app_queue(app, backend, tmp_path, KI_SMS_BACKEND="http", KI_SMS_URL=url, KI_SMS_TOKEN="secret-token",
                   KI_SMS_FROM=SENDER, KI_SMS_TIMEOUT_SECONDS=1, KI_QUEUE_MAX_ATTEMPTS=3, KI_QUEUE_RETRY_SECONDS=1):
        yield provider


def _queue(app, key: str, patient_id: int | None = None, to: str = "(555) 010-0123") -> None:
    with app.app_context():
        services.queue_sms(key, to, TEXT, purpose="reminder", patient_id=patient_id)
        db.session.commit()


def _delivery(app, key: str) -> Delivery:
    with app.app_context():
        delivery = services.fetch_delivery(key)
        db.session.expunge_all()
        return delivery


def _audit(app, action: str) -> list[AuditEvent]:
    with app.app_context():
        rows = db.session.scalars(select(AuditEvent).where(AuditEvent.action == action)).all()
        db.session.expunge_all()
        return rows


def test_a_queued_text_reaches_the_provider_once_through_the_worker(app, make, sms):
    patient = make.patient()
    _queue(app, "test:sms:arrives", patient)
    queue = queue_of(app)
    queue.send_delivery("test:sms:arrives")  # the same job twice (a sweep, a redelivery): sent once
    with running_consumer(queue.huey, workers=2):
        wait_for(lambda: _delivery(app, "test:sms:arrives").status == SENT and queue.huey.pending_count() == 0)
    [request] = sms.requests
    assert request.fields() == {"to": "+15550100123", "from": SENDER, "body": TEXT}
    assert request.headers["Authorization"] == "Bearer secret-token"
    delivery = _delivery(app, "test:sms:arrives")
    assert (delivery.attempts, delivery.content, delivery.recipient) == (1, None, "+15550100123")  # text not kept
    [event] = _audit(app, "message.sent")
    assert (event.patient_id, event.object_id) == (patient, str(delivery.id))
    assert event.detail == "sms reminder, attempt 1, provider id SM0000000001"  # never the text


def test_a_provider_in_trouble_is_retried_then_failed_and_shown_to_staff(app, make, auth, client, sms):
    sms.status, sms.answer = 503, b'{"message": "Service temporarily unavailable"}'
    patient = make.patient(mrn="KI-000503")
    _queue(app, "test:sms:503", patient)
    with running_consumer(queue_of(app).huey):
        wait_for(lambda: _delivery(app, "test:sms:503").status == FAILED)
    delivery = _delivery(app, "test:sms:503")
    assert delivery.attempts == 3 and len(sms.requests) == 3 and delivery.content is None
    assert delivery.last_error == "SMS provider 503: Service temporarily unavailable"
    assert sms.attempts[1] - sms.attempts[0] >= 1 and sms.attempts[2] - sms.attempts[1] >= 2  # back-off
    [event] = _audit(app, "message.failed")
    assert event.patient_id == patient and event.detail == "sms reminder, 3 attempts"

    make.user("staff", username="desk")
    auth.sign_in("desk")
    text = page_text(client.get("/messages"))
    assert "Failed (1)" in text and "KI-000503" in text and "SMS provider 503: Service temporarily unavailable" in text


@pytest.mark.parametrize("backend", ["sqlite"], indirect=False)
def test_a_refused_text_fails_at_the_first_attempt(app, sms):
    sms.status, sms.answer = 400, b'{"message": "The To number is not a mobile number."}'
    _queue(app, "test:sms:400")
    huey = queue_of(app).huey
    huey.execute(huey.dequeue())
    delivery = _delivery(app, "test:sms:400")
    assert (delivery.status, delivery.attempts) == (FAILED, 1)
    assert delivery.last_error == "SMS provider 400: The To number is not a mobile number."
    assert huey.scheduled_count() == 0  # not tried again


@pytest.mark.parametrize("backend", ["sqlite"], indirect=False)
def test_a_provider_not_answering_in_time_is_retried_later(app, sms):
    sms.stall = 10
    app.config.update(KI_QUEUE_RETRY_SECONDS=60)
    _queue(app, "test:sms:slow")
    huey = queue_of(app).huey
    huey.execute(huey.dequeue())
    delivery = _delivery(app, "test:sms:slow")
    assert (delivery.status, delivery.attempts) == (PENDING, 1) and "TimeoutError" in delivery.last_error
    [retry] = huey.scheduled()
    assert retry.args == ("test:sms:slow",)


@pytest.mark.parametrize("backend", ["sqlite"], indirect=False)
def test_an_invalid_number_fails_at_once_with_the_reason(app, sms):
    _queue(app, "test:sms:bad-number", to="ext. 12")
    huey = queue_of(app).huey
    huey.execute(huey.dequeue())
    delivery = _delivery(app, "test:sms:bad-number")
    assert (delivery.status, delivery.recipient) == (FAILED, "ext. 12") and sms.requests == []
    assert delivery.last_error.startswith("not a phone number")


@pytest.mark.parametrize("backend", ["sqlite"], indirect=False)
def test_an_email_and_a_text_each_go_their_own_way(app, sms, tmp_path):
    """One job for both channels: the email to the mailer (here the .eml outbox), the text to the provider."""
    app.config.update(KI_MAIL_BACKEND="file")
    _queue(app, "test:sms:both")
    with app.app_context():
        services.queue_email("test:email:both", "ada.stone@example.org", "Your appointment", TEXT, purpose="reminder")
        db.session.commit()
    huey = queue_of(app).huey
    huey.execute(huey.dequeue())
    huey.execute(huey.dequeue())
    assert len(sms.requests) == 1 and len(list((tmp_path / "outbox").glob("*.eml"))) == 1
    assert {_delivery(app, k).status for k in ("test:sms:both", "test:email:both")} == {SENT}


def test_the_development_backend_writes_texts_to_the_outbox(app, tmp_path):
    app.config.update(KI_SMS_BACKEND="file", KI_SMS_FROM=None, KI_QUEUE_URL=f"sqlite:///{tmp_path / 'q.sqlite3'}")
    _queue(app, "test:sms:outbox")
    huey = queue_of(app).huey
    huey.execute(huey.dequeue())
    [text] = (tmp_path / "outbox" / "sms").glob("*.txt")
    assert text.read_text() == f"To: +15550100123\nFrom: clinic\n\n{TEXT}\n"
    assert _delivery(app, "test:sms:outbox").status == SENT
    [event] = _audit(app, "message.sent")
    assert event.detail == f"sms reminder, attempt 1, provider id {text.stem}"


def test_with_texts_switched_off_a_queued_text_fails_visibly(app, tmp_path):
    app.config.update(KI_SMS_BACKEND="none", KI_QUEUE_URL=f"sqlite:///{tmp_path / 'q.sqlite3'}")
    _queue(app, "test:sms:off")
    huey = queue_of(app).huey
    huey.execute(huey.dequeue())
    delivery = _delivery(app, "test:sms:off")
    assert delivery.status == FAILED and "KI_SMS_BACKEND=none" in delivery.last_error
    assert json.dumps(delivery.last_error)  # a reason in words, for the Messages page
