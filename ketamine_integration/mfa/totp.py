"""TOTP and recovery-code rules as plain functions: time and secrets come in as arguments.

RFC 6238 with the parameters every authenticator app uses (SHA-1, 6 digits, 30 s steps).
"""
from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from datetime import datetime

import pyotp

ISSUER = "Ketamine Integration"
STEP_SECONDS = 30
DIGITS = 6
#: steps either side of now still accepted: phone clocks drift (RFC 6238 section 5.2)
DRIFT_STEPS = 1

RECOVERY_CODE_COUNT = 10
#: unambiguous alphabet (no 0/O, 1/I/L): a code read off paper is typed right the first time
RECOVERY_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
RECOVERY_GROUPS, RECOVERY_GROUP_LENGTH = 4, 4  # 16 characters of 31: about 79 bits each

_CODE = re.compile(r"[0-9]{%d}" % DIGITS)


def new_secret() -> str:
    """A fresh base32 TOTP secret (160 bits, as RFC 4226 recommends)."""
    return pyotp.random_base32(length=32)


def step_at(moment: datetime) -> int:
    """The TOTP time step (counter) that `moment` falls in."""
    return int(moment.timestamp()) // STEP_SECONDS


def code_for_step(secret: str, step: int) -> str:
    return pyotp.TOTP(secret, digits=DIGITS, interval=STEP_SECONDS).generate_otp(step)


def normalise_code(typed: str) -> str:
    """What people type: spaces and dashes ("123 456") are ignored."""
    return re.sub(r"[\s-]", "", typed or "")


def looks_like_totp(typed: str) -> bool:
    return _CODE.fullmatch(normalise_code(typed)) is not None


def matching_step(secret: str, typed: str, now: datetime, *, last_step: int | None) -> int | None:
    """The time step whose code was typed, if it is within the drift window and later than
    `last_step` (a code, once accepted, never works again: ASVS 6.5.1), else None."""
    code = normalise_code(typed)
    if _CODE.fullmatch(code) is None:
        return None
    current = step_at(now)
    for step in range(current - DRIFT_STEPS, current + DRIFT_STEPS + 1):
        if last_step is not None and step <= last_step:
            continue
        if hmac.compare_digest(code_for_step(secret, step), code):
            return step
    return None


def was_replayed(secret: str, typed: str, now: datetime, *, last_step: int | None) -> bool:
    """True if the code is right for a step in the window that was already used (for the message)."""
    if last_step is None:
        return False
    code = normalise_code(typed)
    current = step_at(now)
    return any(hmac.compare_digest(code_for_step(secret, step), code)
               for step in range(current - DRIFT_STEPS, min(current + DRIFT_STEPS, last_step) + 1))


def provisioning_uri(secret: str, account: str) -> str:
    """The otpauth:// address an authenticator app reads from the QR code."""
    return pyotp.TOTP(secret, digits=DIGITS, interval=STEP_SECONDS).provisioning_uri(
        name=account, issuer_name=ISSUER)


def grouped(secret: str) -> str:
    """The secret in groups of four, for typing it into an app by hand."""
    return " ".join(secret[i:i + 4] for i in range(0, len(secret), 4))


def new_recovery_codes(count: int = RECOVERY_CODE_COUNT) -> list[str]:
    size = RECOVERY_GROUPS * RECOVERY_GROUP_LENGTH
    codes = set()
    while len(codes) < count:
        raw = "".join(secrets.choice(RECOVERY_ALPHABET) for _ in range(size))
        codes.add("-".join(raw[i:i + RECOVERY_GROUP_LENGTH] for i in range(0, size, RECOVERY_GROUP_LENGTH)))
    return sorted(codes)


def recovery_code_hash(typed: str) -> str | None:
    """SHA-256 of a recovery code as typed (case, spaces and dashes ignored), or None if it
    cannot be one. The codes carry ~79 random bits, so a fast hash is enough: there is no
    dictionary to try, unlike passwords (which get argon2id)."""
    code = normalise_code(typed).upper()
    if len(code) != RECOVERY_GROUPS * RECOVERY_GROUP_LENGTH or any(c not in RECOVERY_ALPHABET for c in code):
        return None
    return hashlib.sha256(code.encode()).hexdigest()
