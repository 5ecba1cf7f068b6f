"""Handing a text message over: to an SMS provider's HTTP API, or to `instance/outbox/sms/` in development.

The HTTP provider speaks the shape most providers share (Twilio's Messages resource, and the
generic JSON APIs modelled on it): one POST per message carrying to, from and body, answered
with 2xx and the provider's id for the message. README, "Messages and the worker".
"""
from __future__ import annotations

import base64
import hashlib
import json
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from http.client import HTTPException
from pathlib import Path
from typing import Protocol

from ..db.types import utcnow
from ..domain.messages import InvalidPhoneNumber, e164
from .mailer import SendFailure

#: bytes of a provider's answer read at most (an id, a status, an error message need far fewer)
MAX_ANSWER_BYTES = 64 * 1024
#: a provider's own id for a message is kept (in the audit row) up to this long
MAX_ID_LENGTH = 100
#: answers worth trying again: the provider asks us to slow down (429), or gave up waiting (408)
RETRYABLE_4XX = frozenset({408, 429})


class SmsProvider(Protocol):
    def send(self, to: str, body: str) -> str:
        """Hand over one text; returns the provider's id for it ("" when it gives none). Raises
        SendFailure: permanent for a number or request the provider refuses, otherwise retryable."""
        ...


def number_for(to: str, country_code: str) -> str:
    """The E.164 number a text goes to; a number no text can reach fails permanently (trying
    again cannot help), with the reason staff read on the Messages page."""
    try:
        return e164(to, country_code)
    except InvalidPhoneNumber as err:
        raise SendFailure(str(err), permanent=True) from None


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    """A redirect is answered as an error: a POST is never replayed elsewhere (nor the token with it)."""

    def redirect_request(self, req, fp, code, msg, headers, newurl):
        return None


_OPENER = urllib.request.build_opener(_NoRedirects)


@dataclass(frozen=True)
class HttpSmsProvider:
    url: str
    sender: str
    country_code: str
    #: bearer token, or with `user` the password of HTTP basic auth (Twilio: account SID and auth token)
    token: str | None
    user: str | None
    #: "json" (`{"to", "from", "body"}`) or "form" (`To`, `From`, `Body`, as Twilio takes them)
    encoding: str
    #: the whole exchange, connection to last byte, ends within this many seconds
    timeout: int

    def send(self, to: str, body: str) -> str:
        request = self._request(number_for(to, self.country_code), body)
        deadline = time.monotonic() + self.timeout
        try:
            with _OPENER.open(request, timeout=self.timeout) as response:
                answer = _read(response, deadline)
        except urllib.error.HTTPError as err:
            answer = _error_answer(err, deadline)
            raise SendFailure(_refusal(err.code, answer), permanent=_permanent(err.code)) from None
        except (urllib.error.URLError, OSError, HTTPException) as err:
            # timeouts (TimeoutError), refused or reset connections, TLS failures, broken answers
            raise SendFailure(f"SMS provider not reached: {_network_reason(err)}", permanent=False) from None
        return _message_id(answer)

    def _request(self, to: str, body: str) -> urllib.request.Request:
        if self.encoding == "form":
            data = urllib.parse.urlencode({"To": to, "From": self.sender, "Body": body}).encode()
            content_type = "application/x-www-form-urlencoded"
        else:
            data = json.dumps({"to": to, "from": self.sender, "body": body}).encode()
            content_type = "application/json"
        headers = {"Content-Type": content_type, "Accept": "application/json",
                   "User-Agent": "ketamine-integration-sms/1"}
        if self.user:
            pair = base64.b64encode(f"{self.user}:{self.token or ''}".encode()).decode()
            headers["Authorization"] = f"Basic {pair}"
        elif self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        return urllib.request.Request(self.url, data=data, headers=headers, method="POST")


def _read(response, deadline: float) -> bytes:
    """At most MAX_ANSWER_BYTES of the answer, within the deadline: a provider dribbling bytes
    cannot hold the worker (each read also waits at most the socket timeout)."""
    chunks, size = [], 0
    while size < MAX_ANSWER_BYTES:
        if time.monotonic() > deadline:
            raise TimeoutError("the answer took longer than the timeout")
        chunk = response.read(min(8192, MAX_ANSWER_BYTES - size))
        if not chunk:
            break
        chunks.append(chunk)
        size += len(chunk)
    return b"".join(chunks)


def _error_answer(err: urllib.error.HTTPError, deadline: float) -> bytes:
    """What a refusing provider said, as far as it can be read (the status decides anyway)."""
    try:
        return _read(err, deadline) if err.fp is not None else b""
    except (OSError, HTTPException):
        return b""
    finally:
        err.close()


def _permanent(status: int) -> bool:
    """A refused request (4xx: a bad number, bad credentials) fails at once; a provider in trouble
    (5xx) is tried again, and so are 408 and 429, which ask for exactly that."""
    return 300 <= status < 500 and status not in RETRYABLE_4XX


def _refusal(status: int, answer: bytes) -> str:
    if 300 <= status < 400:
        return f"SMS provider {status}: redirected; set KI_SMS_URL to the provider's final address"
    return f"SMS provider {status}: {_answer_words(answer) or 'no reason given'}"


def _answer_words(answer: bytes) -> str:
    """The provider's message from a JSON error (`message`, `error`, `detail`), else its text."""
    text = answer.decode("utf-8", errors="replace").strip()
    try:
        parsed = json.loads(text)
    except ValueError:
        parsed = None
    if isinstance(parsed, dict):
        for name in ("message", "error_message", "error", "detail"):
            value = parsed.get(name)
            if isinstance(value, dict):
                value = value.get("message")
            if isinstance(value, str) and value.strip():
                text = value.strip()
                break
    return " ".join(text.split())[:200]


def _network_reason(err: BaseException) -> str:
    reason = err.reason if isinstance(err, urllib.error.URLError) else err
    return f"{type(reason).__name__}: {reason}" if str(reason) else type(reason).__name__


def _message_id(answer: bytes) -> str:
    """The provider's id for the message: `sid` (Twilio), `id`, `message_id`, or the first of a
    `messages` list; "" when the answer has none (a 2xx still means it was accepted)."""
    try:
        parsed = json.loads(answer)
    except ValueError:
        return ""
    if isinstance(parsed, dict) and isinstance(parsed.get("messages"), list) and parsed["messages"]:
        parsed = parsed["messages"][0]
    if not isinstance(parsed, dict):
        return ""
    for name in ("sid", "id", "message_id", "messageId"):
        value = parsed.get(name)
        if isinstance(value, (str, int)) and not isinstance(value, bool) and str(value).isprintable():
            return str(value)[:MAX_ID_LENGTH]
    return ""


@dataclass(frozen=True)
class FileSmsProvider:
    """Development and tests: each text becomes `<outbox>/<UTC time>-<digest>.txt`; nothing leaves
    the machine. The number is checked as the HTTP provider checks it."""
    outbox: Path
    sender: str
    country_code: str

    def send(self, to: str, body: str) -> str:
        number = number_for(to, self.country_code)
        self.outbox.mkdir(parents=True, exist_ok=True)
        now = utcnow()
        digest = hashlib.sha256(f"{now.isoformat()}|{number}|{body}".encode()).hexdigest()[:12]
        path = self.outbox / f"{now:%Y%m%dT%H%M%S}-{digest}.txt"
        path.write_text(f"To: {number}\nFrom: {self.sender}\n\n{body}\n", encoding="utf-8")
        return path.stem


class NoSmsProvider:
    """KI_SMS_BACKEND=none: the clinic sends no texts; one queued anyway fails, visibly, at once."""

    def send(self, to: str, body: str) -> str:
        raise SendFailure("SMS is switched off (KI_SMS_BACKEND=none); contact the patient another way",
                          permanent=True)


def sms_provider_for(config, instance_path: str) -> SmsProvider:
    backend = config["KI_SMS_BACKEND"]
    if backend == "http":
        return HttpSmsProvider(url=config["KI_SMS_URL"], sender=config["KI_SMS_FROM"],
                               country_code=config["KI_SMS_COUNTRY_CODE"], token=config["KI_SMS_TOKEN"],
                               user=config["KI_SMS_USER"], encoding=config["KI_SMS_ENCODING"],
                               timeout=config["KI_SMS_TIMEOUT_SECONDS"])
    if backend == "file":
        return FileSmsProvider(Path(instance_path) / "outbox" / "sms", sender=config["KI_SMS_FROM"] or "clinic",
                               country_code=config["KI_SMS_COUNTRY_CODE"])
    return NoSmsProvider()
