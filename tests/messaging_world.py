"""What the messaging tests run against: a real SMTP server in this process (aiosmtpd), the queue
on SQLite or Redis, and huey's consumer run in threads as the worker runs it."""
from __future__ import annotations

import os
import socket
import time
import uuid
from contextlib import contextmanager
from dataclasses import dataclass, field

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
    consumer = huey.create_consumer(workers=workers, worker_type="thread", periodic=False,
                                    initial_delay=0.05, max_delay=0.2, scheduler_interval=1)
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
