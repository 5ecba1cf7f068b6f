"""Building an email and handing it over: to an SMTP server, or to `instance/outbox/` in development."""
from __future__ import annotations

import email.policy
import hashlib
import smtplib
import ssl
from dataclasses import dataclass
from email.message import EmailMessage
from email.parser import Parser
from email.utils import formataddr, formatdate, make_msgid
from pathlib import Path
from typing import Protocol

from ..db.types import utcnow
from ..domain.messages import discreet_name

#: 7-bit transfer encodings throughout, so every SMTP server takes the message as stored
POLICY = email.policy.default.clone(cte_type="7bit")
#: longest server answer kept as a delivery's reason
REASON_LENGTH = 300


@dataclass(frozen=True)
class Attachment:
    filename: str
    #: e.g. "text/calendar; method=REQUEST"
    content_type: str
    content: bytes


class SendFailure(Exception):
    """The message was not handed over. `permanent` when trying again cannot help (a 5xx answer:
    the recipient refused, the sender not allowed); otherwise a later attempt may succeed."""

    def __init__(self, reason: str, *, permanent: bool):
        super().__init__(reason)
        self.reason = reason[:REASON_LENGTH]
        self.permanent = permanent


class Mailer(Protocol):
    def send(self, message: EmailMessage) -> None: ...


def build_message(*, sender: str, sender_name: str, to: str, subject: str, body: str,
                  attachments: tuple[Attachment, ...] = (), id_domain: str) -> EmailMessage:
    message = EmailMessage(policy=POLICY)
    message["From"] = formataddr((sender_name, sender))
    message["To"] = to
    message["Subject"] = subject
    message["Message-ID"] = make_msgid(domain=id_domain)
    message.set_content(body)
    for attachment in attachments:
        maintype, _, rest = attachment.content_type.partition("/")
        subtype, *param_parts = [part.strip() for part in rest.split(";")]
        params = dict(part.split("=", 1) for part in param_parts if "=" in part)
        message.add_attachment(attachment.content, maintype=maintype, subtype=subtype,
                               filename=attachment.filename, params=params)
    return message


def stored(message: EmailMessage) -> str:
    return message.as_string()


def from_stored(text: str) -> EmailMessage:
    """The message as built, dated now (the moment it is handed over)."""
    message = Parser(_class=EmailMessage, policy=POLICY).parsestr(text)
    del message["Date"]
    message["Date"] = formatdate(utcnow().timestamp(), usegmt=True)
    return message


class FileMailer:
    """Development and tests: each message becomes `<outbox>/<UTC time>-<digest>.eml`, which any
    mail program opens; nothing leaves the machine."""

    def __init__(self, outbox: Path):
        self.outbox = outbox

    def send(self, message: EmailMessage) -> None:
        self.outbox.mkdir(parents=True, exist_ok=True)
        digest = hashlib.sha256(str(message["Message-ID"]).encode()).hexdigest()[:12]
        path = self.outbox / f"{utcnow():%Y%m%dT%H%M%S}-{digest}.eml"
        path.write_bytes(message.as_bytes())


@dataclass(frozen=True)
class SmtpMailer:
    host: str
    port: int
    tls: str
    user: str | None
    password: str | None
    timeout: int

    def send(self, message: EmailMessage) -> None:
        try:
            with self._connect() as server:
                if self.user:
                    server.login(self.user, self.password or "")
                server.send_message(message)
        except smtplib.SMTPRecipientsRefused as err:
            code, answer = next(iter(err.recipients.values()))
            raise SendFailure(_answer(code, answer), permanent=500 <= code < 600) from None
        except smtplib.SMTPResponseException as err:
            raise SendFailure(_answer(err.smtp_code, err.smtp_error),
                              permanent=500 <= err.smtp_code < 600) from None
        except (smtplib.SMTPException, OSError) as err:
            raise SendFailure(f"{type(err).__name__}: {err}", permanent=False) from None

    def _connect(self) -> smtplib.SMTP:
        if self.tls == "ssl":
            return smtplib.SMTP_SSL(self.host, self.port, timeout=self.timeout,
                                    context=ssl.create_default_context())
        server = smtplib.SMTP(self.host, self.port, timeout=self.timeout)
        if self.tls == "starttls":
            try:
                server.starttls(context=ssl.create_default_context())
            except BaseException:
                server.close()
                raise
        return server


def _answer(code: int, answer: bytes | str) -> str:
    text = answer.decode(errors="replace") if isinstance(answer, bytes) else str(answer)
    return f"SMTP {code}: {text}"


def mailer_for(config, instance_path: str) -> Mailer:
    if config["KI_MAIL_BACKEND"] == "smtp":
        return SmtpMailer(host=config["KI_SMTP_HOST"], port=config["KI_SMTP_PORT"], tls=config["KI_SMTP_TLS"],
                          user=config["KI_SMTP_USER"], password=config["KI_SMTP_PASSWORD"],
                          timeout=config["KI_SMTP_TIMEOUT_SECONDS"])
    return FileMailer(Path(instance_path) / "outbox")


def sender_of(config) -> tuple[str, str]:
    """(address, display name) of the clinic's messages."""
    return config["KI_MAIL_FROM"], config["KI_MAIL_FROM_NAME"] or discreet_name(config["CLINIC_NAME"])
