"""What the messaging tests run against: a real SMTP server in this process (aiosmtpd), an HTTP
server standing in for the SMS provider, the queue on SQLite or Redis, and huey's consumer run in
threads as the worker runs it."""
from __future__ import annotations

import json
import os
import socket
import threading
import time
import uuid
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from aiosmtpd.controller import Controller

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
REDIS_URL = os.environ.get("KI_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


@dataclass
class Inbox:
    """aiosmtpd handler: keeps what arrives; `refuse_data` / `refuse_rcpt` answer with that reply instead."""
    messages: list[bytes] = field(default_factory=list)
    #: time.monotonic() of each DATA command, refused or not
    attempts: list[float] = field(default_factory=list)
    refuse_data: str | None = None
    refuse_rcpt: str | None = None

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if self.refuse_rcpt:
            return self.refuse_rcpt
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        self.attempts.append(time.monotonic())
        if self.refuse_data:
            return self.refuse_data
        self.messages.append(envelope.original_content)
        return "250 Message accepted for delivery"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def smtp_server():
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    try:
        yield inbox, controller.port
    finally:
        controller.stop()


@dataclass
class SmsRequest:
    path: str
    headers: dict[str, str]
    body: bytes

    def fields(self) -> dict[str, str]:
        """The message's fields, JSON or form-encoded."""
        if self.headers.get("Content-Type", "").startswith("application/json"):
            return json.loads(self.body)
        from urllib.parse import parse_qsl
        return dict(parse_qsl(self.body.decode()))


@dataclass
class SmsProviderStandIn:
    """What the stand-in received, and how it answers: `answers` (status, body) in turn, then
    `status` / `answer`; `stall` seconds before answering (a provider that does not answer in time)."""
    requests: list[SmsRequest] = field(default_factory=list)
    #: time.monotonic() of each request
    attempts: list[float] = field(default_factory=list)
    answers: list[tuple[int, bytes]] = field(default_factory=list)
    status: int = 201
    answer: bytes = b'{"sid": "SM0000000001", "status": "queued"}'
    stall: float = 0.0
    released: threading.Event = field(default_factory=threading.Event)

    def next_answer(self) -> tuple[int, bytes]:
        return self.answers.pop(0) if self.answers else (self.status, self.answer)


@contextmanager
def sms_provider():
    """An HTTP server on 127.0.0.1 taking POSTs as an SMS provider does; yields it and its URL."""
    stand_in = SmsProviderStandIn()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802 (http.server's name)
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            stand_in.attempts.append(time.monotonic())
            stand_in.requests.append(SmsRequest(self.path, dict(self.headers.items()), body))
            if stand_in.stall:
                stand_in.released.wait(stand_in.stall)
            status, answer = stand_in.next_answer()
            try:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(answer)))
                if 300 <= status < 400:
                    self.send_header("Location", "http://127.0.0.1:9/elsewhere")
                self.end_headers()
                self.wfile.write(answer)
            except OSError:
                pass  # the client gave up waiting (the timeout tests)

        def log_message(self, format, *args):  # noqa: A002 (http.server's signature)
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    # A short poll interval: shutdown() waits up to one interval (0.5 s by default), and every test pays it.
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                              name="sms-provider-stand-in", daemon=True)
    thread.start()
    try:
        yield stand_in, f"http://127.0.0.1:{server.server_port}/2010-04-01/Accounts/AC0001/Messages.json"
    finally:
        stand_in.released.set()
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def redis_unavailable_reason(url: str = REDIS_URL) -> str | None:
    import redis

    try:
        redis.Redis.from_url(url, socket_connect_timeout=1).ping()
    except redis.RedisError as err:
        return f"Redis is not reachable at {url} ({err}); the Redis half of the queue tests is skipped"
    return None


def queue_settings(backend: str, tmp_path) -> dict:
    """The app settings putting its queue on `backend`, under a name of its own (tests run in parallel)."""
    if backend == "redis":
        reason = redis_unavailable_reason()
        if reason:
            if IN_CI:
                pytest.fail(f"{reason} (CI=true: the Redis queue must be tested)")
            pytest.skip(reason)
        return {"KI_QUEUE_URL": REDIS_URL, "KI_QUEUE_NAME": f"ki-test-{uuid.uuid4().hex}"}
    return {"KI_QUEUE_URL": f"sqlite:///{tmp_path / 'queue.sqlite3'}"}  # a file of its own


@contextmanager
def running_consumer(huey, *, workers: int = 1):
    """huey's Consumer, its scheduler and workers started as `Consumer.start` starts them, but
    without taking over this process's signals (pytest's); stopped gracefully on leaving."""
    # On Redis a worker waits for a job in one blocking read (BRPOP) of up to `read_timeout` (1 s):
    # a graceful stop waits for that read to come back, which each Redis test paid once at its end.
    # Here the read gives up after 0.05 s, as often as a worker on SQLite polls.
    if getattr(huey.storage, "blocking", False):
        huey.storage.read_timeout = 0.05
    consumer = huey.create_consumer(workers=workers, worker_type="thread", periodic=False,
                                    initial_delay=0.05, max_delay=0.2, scheduler_interval=1)
    # huey's scheduler reads the schedule once a second at most (it clamps the setting to whole
    # seconds from 1): a retry due after its back-off waited about a second more for the next reading
    # (attempts 2.05 s and 3.05 s apart for back-offs of 1 and 2 s), which each retry test paid twice.
    # Its scheduler here reads every 0.05 s, as often as the workers poll the queue; the back-off
    # itself (when a retry is due) is the app's, unchanged, and still asserted.
    scheduler = consumer._create_scheduler()
    scheduler.interval = 0.05
    consumer.scheduler = consumer._create_process(scheduler, "Scheduler")
    consumer.scheduler.start()
    for _, worker in consumer.worker_threads:
        worker.start()
    try:
        yield consumer
    finally:
        consumer.stop(graceful=True)


def wait_for(check, *, timeout: float = 30.0):
    """Poll `check()` until it returns something true; fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = check()
        if result:
            return result
        time.sleep(0.05)
    pytest.fail(f"gave up waiting after {timeout} s")


#: the queue backends the end-to-end message tests run on (Redis skipped with a reason when absent,
#: failed under CI=true: queue_settings)
QUEUE_BACKENDS = ("sqlite", "redis")


@contextmanager
def app_queue(app, backend: str, tmp_path, **settings):
    """`app` with `settings` and its queue on `backend`: yields the queue, emptied and closed on leaving."""
    from ketamine_integration.messaging.queue import queue_of

    app.config.update(**settings, **queue_settings(backend, tmp_path))
    queue = queue_of(app)
    try:
        yield queue
    finally:
        queue.huey.flush()
        queue.huey.storage.close()


@contextmanager
def mail_through_queue(app, backend: str, tmp_path, **settings):
    """`app` sending email by SMTP to an in-process server, its queue on `backend` (and any other
    `settings`): yields the server's inbox."""
    with smtp_server() as (inbox, port):
        with app_queue(app, backend, tmp_path, KI_MAIL_BACKEND="smtp", KI_SMTP_HOST="127.0.0.1", KI_SMTP_PORT=port,
                       KI_SMTP_TLS="none", **settings):
            yield inbox
