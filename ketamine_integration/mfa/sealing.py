"""TOTP secrets at rest: encrypted with Fernet under a key derived from SECRET_KEY.

A database dump or backup alone then yields no working authenticator (HIPAA 164.312(a)(2)(iv),
ASVS 6.4.x). The key is derived with HKDF, so it is never the SECRET_KEY itself and is bound
to this one purpose. Changing SECRET_KEY makes stored secrets unreadable: every user then
needs their authenticator reset (README, "Signing in").
"""
from __future__ import annotations

import base64

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from flask import current_app

_PURPOSE = b"ketamine-integration/totp-secret/v1"


class UnreadableSecret(Exception):
    """The stored secret was sealed under another key (SECRET_KEY changed) or altered."""


def _fernet() -> Fernet:
    secret_key = current_app.config["SECRET_KEY"]
    raw = secret_key.encode() if isinstance(secret_key, str) else secret_key
    key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_PURPOSE).derive(raw)
    return Fernet(base64.urlsafe_b64encode(key))


def seal(secret: str) -> str:
    return _fernet().encrypt(secret.encode()).decode()


def unseal(sealed: str) -> str:
    try:
        return _fernet().decrypt(sealed.encode()).decode()
    except InvalidToken:
        raise UnreadableSecret() from None
